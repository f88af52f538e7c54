/**
 * Exact-key tables: hash, btree, lmdb, dbm, cdb, texthash (read from the postmap(1) text
 * source: "key  value", keys folded to lower case as postmap does), inline:{…} and static:.
 */

import type { LookupTable } from './types.js';
import { TableError } from './types.js';
import { TextSource, type SourceLine } from './text-source.js';

interface KeyValues {
  readonly map: Map<string, string>;
  /** Lines postmap(1) would warn about and skip, for `postern check`. */
  readonly warnings: string[];
}

/** postmap(1) source: "key whitespace value"; a line without a value is skipped, the first of duplicate keys wins. */
function parseKeyValue(lines: SourceLine[], file: string): KeyValues {
  const map = new Map<string, string>();
  const warnings: string[] = [];
  for (const { text, line } of lines) {
    const m = /^(\S+)\s+(\S.*)$/s.exec(text);
    if (!m) {
      warnings.push(`${file}, line ${line}: expected format: key whitespace value`);
      continue;
    }
    const key = m[1]!.toLowerCase();
    if (map.has(key)) {
      warnings.push(`${file}, line ${line}: duplicate entry: "${key}"`);
      continue;
    }
    map.set(key, m[2]!.trim());
  }
  return { map, warnings };
}

export class HashTable implements LookupTable {
  readonly kind = 'exact' as const;
  private readonly source: TextSource<KeyValues>;
  constructor(readonly spec: string, file: string, now?: () => number) {
    this.source = new TextSource(file, parseKeyValue, now);
  }
  async lookup(key: string): Promise<string | undefined> {
    return this.source.get().map.get(key.toLowerCase());
  }
  warnings(): string[] {
    return this.source.get().warnings;
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
