/**
 * The message as it goes on the wire after DATA (RFC 5321 §4.5.2): every line ends in
 * CRLF (a bare LF from the queue becomes CRLF, so no peer sees an ambiguous line end —
 * the SMTP smuggling class), a line that starts with "." gets one more, and ".\r\n" ends it.
 * The queue stores messages with CRLF and dot-unstuffed; this is the only place that
 * stuffs. Also: the facts the client needs about the message (8-bit, non-ASCII headers).
 */

const CRLF = Buffer.from('\r\n');
const DOT = Buffer.from('.');
const END = Buffer.from('.\r\n');

/** Dot-stuffed, CRLF-normalised body followed by the end-of-data line. */
export function encodeBody(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    const nl = data.indexOf(10, start);
    if (data[start] === 0x2e) parts.push(DOT);
    if (nl < 0) {
      // Last line without a line end: terminate it, or the "." would join it.
      parts.push(data.subarray(start), CRLF);
      break;
    }
    if (nl > start && data[nl - 1] === 13) parts.push(data.subarray(start, nl + 1));
    else parts.push(data.subarray(start, nl), CRLF);
    start = nl + 1;
  }
  parts.push(END);
  return Buffer.concat(parts);
}

/** True when any byte is outside 7-bit ASCII. */
export function hasNonAscii(s: string | Buffer): boolean {
  if (typeof s === 'string') return /[^\x00-\x7f]/.test(s);
  for (const b of s) if (b > 0x7f) return true;
  return false;
}

/** The header section (up to the first empty line). */
export function headerSection(data: Buffer): Buffer {
  let end = data.indexOf('\r\n\r\n');
  if (end < 0) end = data.indexOf('\n\n');
  return data.subarray(0, end < 0 ? data.length : end);
}

/** RFC 3461 xtext: "+" "=" and bytes outside "!".."~" become "+XX". */
export function xtext(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d) out += String.fromCharCode(b);
    else out += '+' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
