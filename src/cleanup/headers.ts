/**
 * The header section of a stored message (CRLF line endings), as cleanup needs it for
 * local submission: find fields by name, drop fields, add fields. Headers are handled as
 * latin1 strings so every byte survives a round trip unchanged (8-bit and UTF-8 header
 * bytes included); callers decode a value as UTF-8 when they need the text.
 *
 * RFC 5322 §2.2: a field is "name:" then the value, continued on lines that start with
 * white space. The header section ends at the first empty line, or — as in Postfix's
 * cleanup — at the first line that is neither a field nor a continuation; the body then
 * starts there, and serialize() puts the missing empty line in between.
 */

export interface HeaderField {
  /** Field name as written ("Message-ID"). */
  readonly name: string;
  /** The whole field: first line and continuation lines, each ending in CRLF (latin1). */
  readonly raw: string;
}

export interface SplitMessage {
  fields: HeaderField[];
  /** Everything after the header section (and its empty line). */
  body: Buffer;
}

const FIELD_START = /^([!-9;-~]+)[ \t]*:/;

export function splitMessage(data: Buffer): SplitMessage {
  const fields: HeaderField[] = [];
  let pos = 0;
  let current: { name: string; raw: string } | undefined;
  for (;;) {
    const nl = data.indexOf('\n', pos);
    const end = nl < 0 ? data.length : nl + 1;
    const line = data.subarray(pos, end).toString('latin1');
    if (line === '' ) break;
    if (line === '\r\n' || line === '\n') {
      pos = end;
      break;
    }
    if (current && (line[0] === ' ' || line[0] === '\t')) {
      current.raw += line;
      pos = end;
      continue;
    }
    const m = FIELD_START.exec(line);
    if (!m) break;
    if (current) fields.push(current);
    current = { name: m[1]!, raw: line };
    pos = end;
  }
  if (current) fields.push(current);
  return { fields, body: data.subarray(pos) };
}

export function joinMessage(m: SplitMessage): Buffer {
  const head = m.fields.map((f) => (f.raw.endsWith('\n') ? f.raw : f.raw + '\r\n')).join('');
  return Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), m.body]);
}

export function hasField(fields: readonly HeaderField[], name: string): boolean {
  const n = name.toLowerCase();
  return fields.some((f) => f.name.toLowerCase() === n);
}

/** The unfolded value of a field, decoded as UTF-8. */
export function fieldValue(f: HeaderField): string {
  const v = f.raw.slice(f.raw.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ').replace(/\r?\n$/, '').trim();
  return Buffer.from(v, 'latin1').toString('utf8');
}

/** A new field "Name: value\r\n" from a UTF-8 value. */
export function makeField(name: string, value: string): HeaderField {
  return { name, raw: Buffer.from(`${name}: ${value}\r\n`, 'utf8').toString('latin1') };
}
