/**
 * Bytes in a MIME charset → a JS string (UTF-16, matched as UTF-8 text by the tables).
 * The WHATWG decoders of Node's full ICU come first (iso-2022-jp, shift_jis — which is
 * Windows-31J/CP932 there —, euc-jp, iso-8859-x, utf-8); labels they do not know (cp932,
 * x-sjis variants, rare legacy sets) go to libmime's charset module (iconv-lite and
 * encoding-japanese). Never throws: an unknown charset is read as UTF-8, replacing bad bytes.
 */

import { TextDecoder } from 'node:util';
import charsetLib from 'libmime/lib/charset.js';

const ALIASES: Record<string, string> = { cp932: 'shift_jis', 'ms932': 'shift_jis', 'windows-932': 'shift_jis', 'x-sjis': 'shift_jis', 'iso-2022-jp-ms': 'iso-2022-jp', 'iso-2022-jp-1': 'iso-2022-jp', 'iso-2022-jp-2': 'iso-2022-jp' };

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(label: string): TextDecoder | null {
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(ALIASES[label] ?? label, { fatal: false });
    } catch {
      d = null;
    }
    decoders.set(label, d);
  }
  return d;
}

export function decodeCharset(bytes: Buffer, charset: string): string {
  const label = charset.trim().toLowerCase().replace(/^"|"$/g, '');
  const d = decoderFor(label);
  if (d) return d.decode(bytes);
  return charsetLib.decode(bytes, label);
}
