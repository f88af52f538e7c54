/**
 * Exact-key tables: hash, btree, lmdb, dbm, cdb, texthash (read from the postmap(1) text
 * source: "key  value", keys folded to lower case as postmap does), inline:{…} and static:.
 */

import type { LookupTable } from './types.js';
import { TableError } from './types.js';
import { TextSource, type SourceLine } from './text-source.js';

function parseKeyValue(lines: SourceLine[], file: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const { text, line } of lines) {
    const m = /^(\S+)\s*(.*)$/s.exec(text);
    if (!m) throw new TableError(`${file}:${line}: expected "key value"`, file, line);
    map.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return map;
}

export class HashTable implements LookupTable {
  readonly kind = 'exact' as const;
  private readonly source: TextSource<Map<string, string>>;
  constructor(readonly spec: string, file: string, now?: () => number) {
    this.source = new TextSource(file, parseKeyValue, now);
  }
  async lookup(key: string): Promise<string | undefined> {
    return this.source.get().get(key.toLowerCase());
  }
}

/** Split "{ a=1, { b = two words } }" into its items. */
export function splitBraced(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of body) {
    if (ch === '{') {
      depth++;
      if (depth === 1) continue;
    }
    if (ch === '}') {
      depth--;
      if (depth === 0) {
        out.push(cur.trim());
        cur = '';
        continue;
      }
    }
    if (depth === 0 && (ch === ',' || /\s/.test(ch))) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out.filter(Boolean);
}

export class InlineTable implements LookupTable {
  readonly kind = 'exact' as const;
  private readonly map = new Map<string, string>();
  constructor(readonly spec: string, body: string) {
    const inner = body.trim();
    if (!inner.startsWith('{') || !inner.endsWith('}')) throw new TableError(`${spec}: inline table needs { key=value, … }`);
    for (const item of splitBraced(inner.slice(1, -1))) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new TableError(`${spec}: inline item "${item}" needs key=value`);
      this.map.set(item.slice(0, eq).trim().toLowerCase(), item.slice(eq + 1).trim());
    }
  }
  async lookup(key: string): Promise<string | undefined> {
    return this.map.get(key.toLowerCase());
  }
}

export class StaticTable implements LookupTable {
  readonly kind = 'exact' as const;
  private readonly value: string;
  constructor(readonly spec: string, body: string) {
    const b = body.trim();
    this.value = b.startsWith('{') && b.endsWith('}') ? b.slice(1, -1).trim() : b;
  }
  async lookup(): Promise<string | undefined> {
    return this.value;
  }
}

/**
 * unix:passwd.byname — the local password file. Node has no getpwnam(), so this reads
 * /etc/passwd directly: accounts from NSS modules (LDAP, sssd) are not seen (XXX).
 */
export class PasswdTable implements LookupTable {
  readonly kind = 'exact' as const;
  private readonly source: TextSource<Map<string, string>>;
  constructor(readonly spec: string, file = '/etc/passwd', now?: () => number) {
    this.source = new TextSource(file, (lines) => {
      const m = new Map<string, string>();
      for (const { text } of lines) {
        const name = text.split(':')[0];
        if (name) m.set(name, text);
      }
      return m;
    }, now);
  }
  async lookup(key: string): Promise<string | undefined> {
    return this.source.get().get(key);
  }
}
