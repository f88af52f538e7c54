/**
 * The message as milters see and change it: the header split into fields, the body
 * as bytes, and the end-of-message header and body modifications applied with libmilter's
 * semantics (smfi_addheader appends, smfi_insheader inserts at a 0-based position among
 * all fields, smfi_chgheader changes or with an empty value deletes the n-th field of that
 * name, 1-based, and adds one when there is no n-th; smfi_replacebody replaces the whole
 * body). Envelope changes (recipients, sender) are applied by the caller.
 *
 * Values from a milter may be folded with bare LF; they are stored with CRLF, as the
 * rest of the queue is. Text is kept as latin1 byte-for-byte where it came from the
 * message, and UTF-8 where a milter wrote it.
 */

export interface HeaderField {
  /** The field name as written. */
  readonly name: string;
  /** The whole field: "Name: value\r\n" including continuation lines. */
  readonly raw: Buffer;
}

export interface SplitMessage {
  headers: HeaderField[];
  body: Buffer;
}

/** Split at the first empty line; a field is a line plus its continuation lines. */
export function splitMessage(data: Buffer): SplitMessage {
  const headers: HeaderField[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0x0d && data[pos + 1] === 0x0a) return { headers, body: data.subarray(pos + 2) };
    if (data[pos] === 0x0a) return { headers, body: data.subarray(pos + 1) };
    let end = pos;
    for (;;) {
      const nl = data.indexOf(0x0a, end);
      if (nl < 0) { end = data.length; break; }
      end = nl + 1;
      if (data[end] !== 0x20 && data[end] !== 0x09) break;
    }
    const line = data.subarray(pos, end);
    const colon = line.indexOf(0x3a);
    if (colon <= 0) return { headers, body: data.subarray(pos) }; // not a header: the body starts here
    headers.push({ name: line.subarray(0, colon).toString('latin1').trim(), raw: line });
    pos = end;
  }
  return { headers, body: Buffer.alloc(0) };
}

export function joinMessage(m: SplitMessage): Buffer {
  return Buffer.concat([...m.headers.map((h) => h.raw), Buffer.from('\r\n'), m.body]);
}

/** The (name, value) a milter is shown: leading blanks of the value and the final CRLF removed. */
export function headerForMilter(h: HeaderField): [string, string] {
  const text = h.raw.toString('utf8');
  const value = text.slice(text.indexOf(':') + 1).replace(/^[ \t]+/, '').replace(/\r?\n$/, '');
  return [h.name, value];
}

function field(name: string, value: string): HeaderField {
  const v = value.replace(/\r?\n/g, '\r\n');
  return { name, raw: Buffer.from(`${name}:${/^[ \t]/.test(v) ? '' : ' '}${v}\r\n`, 'utf8') };
}

export function addHeader(m: SplitMessage, name: string, value: string): void {
  m.headers.push(field(name, value));
}

export function insertHeader(m: SplitMessage, index: number, name: string, value: string): void {
  m.headers.splice(Math.min(Math.max(index, 0), m.headers.length), 0, field(name, value));
}

/** Change (or, with an empty value, delete) the index-th field named `name` (1-based). */
export function changeHeader(m: SplitMessage, index: number, name: string, value: string): void {
  let seen = 0;
  const n = Math.max(index, 1);
  for (let i = 0; i < m.headers.length; i++) {
    if (m.headers[i]!.name.toLowerCase() !== name.toLowerCase()) continue;
    if (++seen !== n) continue;
    if (value === '') m.headers.splice(i, 1);
    else m.headers[i] = field(m.headers[i]!.name, value);
    return;
  }
  if (value !== '') addHeader(m, name, value);
}

/** A replaced body, its lines ending CRLF whatever the milter sent. */
export function normaliseBody(chunks: readonly Buffer[]): Buffer {
  return Buffer.from(Buffer.concat(chunks).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** "<a@b>" or "a@b" → "a@b". */
export function bareAddress(s: string): string {
  const t = s.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
}
