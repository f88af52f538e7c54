/**
 * The original message as a notice returns it (RFC 3462/3464 §2, Postfix bounce_original()):
 * whole (message/rfc822) or headers only (text/rfc822-headers), preceded by the
 * Return-Path: Postfix prepends, with every line ending in CRLF. Bytes are copied, never
 * decoded, so an 8-bit original arrives intact.
 */

import type { OriginalMessage } from './types.js';

/** Byte offset just past the header section's blank line, or the data length when there is none. */
export function headerEnd(data: Buffer): number {
  if (data.length >= 2 && data[0] === 0x0d && data[1] === 0x0a) return 2;
  if (data.length >= 1 && data[0] === 0x0a) return 1;
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  if (lf >= 0) return lf + 2;
  return data.length;
}

/** True when the message carries bytes above 0x7f (it needs an 8bit part). */
export function isEightBit(msg: Pick<OriginalMessage, 'data' | 'bodyType'>): boolean {
  if (msg.bodyType === '8BITMIME' || msg.bodyType === 'BINARYMIME') return true;
  for (const b of msg.data) if (b > 0x7f) return true;
  return false;
}

/**
 * Every line break as CRLF: the queue keeps CRLF, but a bare CR or LF inside the returned
 * copy would make the notice itself a message with bare newlines.
 */
export function toCrlf(data: Buffer): Buffer {
  let clean = true;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0x0d ? data[i + 1] !== 0x0a : b === 0x0a && data[i - 1] !== 0x0d) {
      clean = false;
      break;
    }
    if (b === 0x0d) i++;
  }
  if (clean) return data;
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0x0d) {
      out.push(0x0d, 0x0a);
      if (data[i + 1] === 0x0a) i++;
    } else if (b === 0x0a) out.push(0x0d, 0x0a);
    else out.push(b);
  }
  return Buffer.from(out);
}

/**
 * The returned copy: "Return-Path: <sender>" then the headers (and the body unless
 * headersOnly), ending with CRLF. A null sender shows as MAILER-DAEMON, as Postfix does.
 */
export function returnedCopy(msg: OriginalMessage, headersOnly: boolean, mailerDaemon: string): Buffer {
  const data = toCrlf(msg.data);
  let part = data;
  if (headersOnly) {
    // Up to the end of the last header line; the blank line and the body stay behind.
    const end = headerEnd(data);
    part = end === 2 ? Buffer.alloc(0) : data.subarray(0, end);
    if (part.subarray(-4).equals(Buffer.from('\r\n\r\n'))) part = part.subarray(0, part.length - 2);
  }
  const tail = part.length === 0 || part.subarray(-2).equals(Buffer.from('\r\n')) ? Buffer.alloc(0) : Buffer.from('\r\n');
  return Buffer.concat([Buffer.from(`Return-Path: <${msg.sender || mailerDaemon}>\r\n`, 'utf8'), part, tail]);
}
