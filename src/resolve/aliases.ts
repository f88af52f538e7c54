/**
 * aliases(5) files read as text (no newaliases step): "name: value, value", continuation
 * lines beginning with white space, "#" comments, quoted names. Values are kept as written;
 * resolver.ts interprets them (local names, addresses, /path/Maildir/, |command, :include:).
 */

import { TextSource, type SourceLine } from '../tables/text-source.js';
import type { LookupTable } from '../tables/types.js';
import { TableError } from '../tables/types.js';

/** Split an alias value list at commas outside quotes. */
export function splitAliasValues(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (const ch of value) {
    if (ch === '"') q = !q;
    if (ch === ',' && !q) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function parse(lines: SourceLine[], file: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const { text, line } of lines) {
    const m = /^("(?:[^"\\]|\\.)*"|[^:\s]+)\s*:\s*(.*)$/s.exec(text);
    if (!m) throw new TableError(`${file}:${line}: expected "name: value"`, file, line);
    const name = m[1]!.startsWith('"') ? m[1]!.slice(1, -1) : m[1]!;
    map.set(name.toLowerCase(), m[2]!.trim());
  }
  return map;
}

export class AliasTable implements LookupTable {
  readonly kind = 'exact' as const;
  private readonly source: TextSource<Map<string, string>>;
  constructor(readonly spec: string, file: string) {
    this.source = new TextSource(file, parse);
  }
  async lookup(key: string): Promise<string | undefined> {
    return this.source.get().get(key.toLowerCase());
  }
}
