/**
 * Byte framing for one SMTP connection: command lines, DATA bodies and BDAT chunks, from
 * TCP chunks of any size and split. Untrusted input; every size is bounded.
 *
 * Smuggling-safe by construction (RFC 5321 §4.1.1.4): only <CRLF>.<CRLF> ends DATA; a bare
 * LF or bare CR never does. Bare LF as a line end is then handled per
 * smtpd_forbid_bare_newline: "normalize" turns it into CRLF (and dot-unstuffs after it),
 * "reject" reports it, "no" keeps it as an ordinary byte.
 */

import { isUtf8 } from 'node:buffer';

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');

export type LineResult =
  /** `utf8` is false when the bytes are not valid UTF-8 (Postfix refuses such commands). */
  | { kind: 'line'; text: string; bareLf: boolean; utf8: boolean }
  | { kind: 'too-long'; head: string };

export interface DataResult {
  /** The message, dot-unstuffed with CRLF line ends; undefined when it exceeded the limit. */
  readonly data?: Buffer;
  /** Bytes received between 354 and the final dot (before unstuffing). */
  readonly size: number;
  readonly bareLf: boolean;
}

export class Input {
  private buf: Buffer = Buffer.alloc(0);
  // DATA state
  private dataChunks: Buffer[] = [];
  private dataSize = 0;
  private dataTail: Buffer = Buffer.from('\r\n');
  private dataKeep = true;

  /** Bytes waiting in command mode. */
  get pending(): number {
    return this.buf.length;
  }

  /** Up to n buffered bytes, left in place (pipelining and pre-greeting logs). */
  peek(n: number): Buffer {
    return this.buf.subarray(0, n);
  }

  /** DATA bytes received so far, including what is buffered (for "lost connection after DATA (n bytes)"). */
  get dataReceived(): number {
    return this.dataSize + this.buf.length;
  }

  feed(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** Drop everything buffered (STARTTLS: nothing pipelined after it may survive). */
  discard(): void {
    this.buf = Buffer.alloc(0);
  }

  /** Next command line, or undefined when no complete line is buffered. */
  readLine(maxLen: number, bareLfEndsLine: boolean): LineResult | undefined {
    let end = -1;
    let bareLf = false;
    const lf = this.buf.indexOf(10);
    if (lf >= 0) {
      if (lf > 0 && this.buf[lf - 1] === 13) end = lf - 1;
      else if (bareLfEndsLine) {
        end = lf;
        bareLf = true;
      } else {
        // A bare LF that does not end a line: look for a real CRLF after it.
        const crlf = this.buf.indexOf('\r\n', lf);
        if (crlf >= 0) end = crlf;
      }
    }
    if (end < 0) {
      if (this.skipLine) {
        this.buf = Buffer.alloc(0);
        return undefined;
      }
      if (this.buf.length > maxLen) {
        const head = this.buf.subarray(0, 100).toString('latin1');
        // Keep discarding until the end of this over-long line.
        this.buf = Buffer.alloc(0);
        this.skipLine = true;
        return { kind: 'too-long', head };
      }
      return undefined;
    }
    const line = this.buf.subarray(0, end);
    this.buf = this.buf.subarray(end + (bareLf ? 1 : 2));
    if (this.skipLine) {
      this.skipLine = false;
      return this.readLine(maxLen, bareLfEndsLine);
    }
    if (line.length > maxLen) return { kind: 'too-long', head: line.subarray(0, 100).toString('latin1') };
    return { kind: 'line', text: line.toString('utf8'), bareLf, utf8: isUtf8(line) };
  }

  private skipLine = false;

  /** Start collecting a DATA body; `limit` bytes are kept, the rest only counted. */
  startData(): void {
    this.dataChunks = [];
    this.dataSize = 0;
    this.dataTail = Buffer.from('\r\n');
    this.dataKeep = true;
  }

  /** Feed buffered bytes into the DATA body; returns the body once <CRLF>.<CRLF> arrived. */
  readData(limit: number, bareLf: 'normalize' | 'reject' | 'no'): DataResult | undefined {
    if (this.buf.length === 0) return undefined;
    const chunk = this.buf;
    const tailLen = this.dataTail.length;
    // <CRLF>.<CRLF> is searched in (tail + chunk) without copying the chunk: a match that
    // starts in the tail (at most 4 bytes) lies within tail + the chunk's first 4 bytes.
    const bridge = Buffer.concat([this.dataTail, chunk.subarray(0, 4)]);
    let i = bridge.indexOf(CRLF_DOT_CRLF);
    if (i < 0 || i >= tailLen) {
      const j = chunk.indexOf(CRLF_DOT_CRLF);
      i = j < 0 ? -1 : tailLen + j;
    }
    if (i < 0) {
      this.keepData(chunk, limit);
      this.buf = Buffer.alloc(0);
      this.dataTail = chunk.length >= 4 ? Buffer.from(chunk.subarray(chunk.length - 4)) : bridge.subarray(Math.max(0, bridge.length - 4));
      return undefined;
    }
    // The message ends after the CRLF that precedes the dot.
    const bodyEndInChunk = i + 2 - tailLen;
    const restStart = i + 5 - tailLen;
    if (bodyEndInChunk > 0) this.keepData(chunk.subarray(0, bodyEndInChunk), limit);
    this.buf = chunk.subarray(restStart);
    let raw = this.dataChunks.length === 1 ? this.dataChunks[0]! : Buffer.concat(this.dataChunks);
    let size = this.dataSize;
    if (bodyEndInChunk < 0) {
      // The CRLF before the dot arrived with the previous chunk and is already kept.
      raw = raw.subarray(0, raw.length + bodyEndInChunk);
      size += bodyEndInChunk;
    }
    this.dataChunks = [];
    if (!this.dataKeep || size > limit) return { size, bareLf: raw.includes(10) && hasBareLf(raw) };
    const out = unstuff(raw, bareLf === 'normalize');
    return { data: out.data, size, bareLf: out.bareLf };
  }

  private keepData(b: Buffer, limit: number): void {
    this.dataSize += b.length;
    if (!this.dataKeep) return;
    if (this.dataSize > limit) {
      this.dataKeep = false;
      this.dataChunks = [];
      return;
    }
    this.dataChunks.push(Buffer.from(b)); // copy: `b` may be a view on a larger socket buffer
  }

  /** Exactly n bytes for BDAT, or undefined until they are all buffered. */
  readBytes(n: number): Buffer | undefined {
    if (this.buf.length < n) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Consume up to n bytes without keeping them (an over-size BDAT chunk); returns bytes consumed. */
  skipBytes(n: number): number {
    const k = Math.min(n, this.buf.length);
    this.buf = this.buf.subarray(k);
    return k;
  }
}

function hasBareLf(b: Buffer): boolean {
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) if (i === 0 || b[i - 1] !== 13) return true;
  return false;
}

/**
 * Dot-unstuffing (RFC 5321 §4.5.2) in one pass. With `normalizeLf`, a bare LF counts as a
 * line end and is written as CRLF.
 */
export function unstuff(raw: Buffer, normalizeLf: boolean): { data: Buffer; bareLf: boolean } {
  // Most messages have no dot at a line start and no bare LF: nothing to change, no copy.
  if (raw[0] !== 46 && raw.indexOf('\n.') < 0 && !hasBareLf(raw)) return { data: raw, bareLf: false };
  const out = Buffer.allocUnsafe(raw.length * (normalizeLf ? 2 : 1));
  let o = 0;
  let bare = false;
  let lineStart = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (lineStart && c === 46 /* . */) {
      lineStart = false;
      continue; // drop the stuffing dot
    }
    lineStart = false;
    if (c === 10) {
      const crlf = i > 0 && raw[i - 1] === 13;
      if (!crlf) {
        bare = true;
        if (normalizeLf) {
          out[o++] = 13;
          out[o++] = 10;
          lineStart = true;
          continue;
        }
        out[o++] = 10;
        continue;
      }
      out[o++] = 10;
      lineStart = true;
      continue;
    }
    out[o++] = c;
  }
  return { data: out.subarray(0, o), bareLf: bare };
}
