/**
 * Type declarations for the few functions Postern uses from libraries that ship no types
 * (libmime, its charset module, html-to-text). Only what is called is declared.
 */

declare module 'libmime' {
  interface Libmime {
    /** RFC 2047 encoded-words in `str` decoded to a JS string (charsets via iconv-lite / encoding-japanese). */
    decodeWords(str: string): string;
    /** Encodes `str` as RFC 2047 words when it is not plain ASCII. */
    encodeWords(str: string, mimeWordEncoding?: 'Q' | 'B', maxLength?: number): string;
  }
  const libmime: Libmime;
  export default libmime;
}

declare module 'libmime/lib/charset.js' {
  const charset: {
    /** Bytes in `fromCharset` → string; unknown charsets come back as UTF-8 (lossy), never throw. */
    decode(buf: Buffer, fromCharset?: string): string;
  };
  export default charset;
}

declare module 'html-to-text' {
  export function convert(html: string, options?: { wordwrap?: number | false; selectors?: unknown[] }): string;
}
