/**
 * Opens lookup tables by their Postfix spec ("hash:/etc/postfix/access", "regexp:/…",
 * "inline:{ a=b }", "static:OK") and caches one instance per spec. Relative paths are
 * resolved against the config directory. `proxy:` is accepted and stripped (Postfix's
 * proxymap is a process detail). SQL tables (mysql:, pgsql:, sqlite:) are parsed here and
 * connect at their first lookup (tables/sql/). LDAP and socket tables are refused for now.
 */

import { isAbsolute, resolve } from 'node:path';
import type { LookupTable } from './types.js';
import { TableError } from './types.js';
import { HashTable, InlineTable, StaticTable, PasswdTable } from './exact.js';
import { PatternTable } from './pattern.js';
import { CidrTable } from './cidr.js';
import { AliasTable } from './aliases.js';
import { openSqlTable, SQL_TYPES } from './sql/open-sql.js';
import type { Dialect } from './sql/sql-text.js';

const FILE_TYPES = new Set(['hash', 'btree', 'lmdb', 'dbm', 'sdbm', 'cdb', 'texthash']);
/** Types postalias(1) builds from an aliases(5) file: in alias_maps these are read in that syntax. */
const ALIAS_FILE_TYPES = new Set(['hash', 'btree', 'lmdb', 'dbm', 'sdbm', 'cdb']);
const LATER_TYPES = new Set(['ldap', 'memcache', 'tcp', 'socketmap', 'nis', 'nisplus', 'netinfo', 'pipemap', 'randmap', 'unionmap', 'environ', 'fail', 'internal']);

/** "proxy:hash:/etc/aliases" → { type: "hash", name: "/etc/aliases" }; throws for a non-table. */
export function splitSpec(spec: string): { type: string; name: string } {
  let s = spec.trim();
  while (s.startsWith('proxy:')) s = s.slice('proxy:'.length);
  const colon = s.indexOf(':');
  if (colon <= 0) throw new TableError(`"${spec}" is not a table (expected type:name, e.g. hash:/etc/postfix/access)`);
  return { type: s.slice(0, colon).toLowerCase(), name: s.slice(colon + 1) };
}

/** True when `spec` in alias_maps names an aliases(5) file (hash-family types). */
export function isAliasFileType(spec: string): boolean {
  try {
    return ALIAS_FILE_TYPES.has(splitSpec(spec).type);
  } catch {
    return false;
  }
}

export class TableRegistry {
  private readonly cache = new Map<string, LookupTable>();
  /** Specs being opened right now: a table whose `domain` names itself would recurse. */
  private readonly opening = new Set<string>();
  private readonly baseDir: string;
  private readonly now: (() => number) | undefined;

  constructor(opts: { baseDir?: string; now?: () => number } = {}) {
    this.baseDir = opts.baseDir ?? process.cwd();
    this.now = opts.now;
  }

  /** Open (or reuse) the table for `spec`; throws TableError with a precise message. */
  open(spec: string): LookupTable {
    const cached = this.cache.get(spec);
    if (cached) return cached;
    if (this.opening.has(spec)) throw new TableError(`table "${spec}" refers to itself`);
    this.opening.add(spec);
    let table: LookupTable;
    try {
      table = this.create(spec);
    } finally {
      this.opening.delete(spec);
    }
    this.cache.set(spec, table);
    return table;
  }

  /**
   * Open a table named in alias_maps. hash:/btree:/lmdb:/cdb:/dbm:/sdbm: name an aliases(5)
   * file (what postalias builds them from); every other type keeps its own syntax
   * (texthash: is postmap(1) "key value", regexp: is a regexp table, mysql: a query
   * file, …). Throws TableError like open().
   */
  openAliases(spec: string): LookupTable {
    const { type, name } = splitSpec(spec);
    if (!ALIAS_FILE_TYPES.has(type)) return this.open(spec);
    const key = `aliases\0${spec}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const table = new AliasTable(spec, this.path(name), this.now);
    this.cache.set(key, table);
    return table;
  }

  private path(p: string): string {
    return isAbsolute(p) ? p : resolve(this.baseDir, p);
  }

  private create(spec: string): LookupTable {
    const { type, name } = splitSpec(spec);
    if (FILE_TYPES.has(type)) return new HashTable(spec, this.path(name), this.now);
    if (SQL_TYPES.has(type)) return openSqlTable(type as Dialect, spec, this.path(name), { open: (s2) => this.open(s2), path: (p) => this.path(p) });
    switch (type) {
      case 'regexp':
        return new PatternTable(spec, this.path(name), false, this.now);
      case 'pcre':
        return new PatternTable(spec, this.path(name), true, this.now);
      case 'cidr':
        return new CidrTable(spec, this.path(name), this.now);
      case 'inline':
        return new InlineTable(spec, name);
      case 'static':
        return new StaticTable(spec, name);
      case 'unix':
        if (name === 'passwd.byname') return new PasswdTable(spec, '/etc/passwd', this.now);
        throw new TableError(`unix:${name}: only unix:passwd.byname is supported`);
    }
    if (LATER_TYPES.has(type)) throw new TableError(`table type ${type} is not supported yet in Postern ("${spec}")`);
    throw new TableError(`unsupported table type '${type}' in '${spec}'`);
  }

  /** Close every table (SQL tables end their connections); resolves when all are closed. */
  async closeAll(): Promise<void> {
    const tables = [...this.cache.values()];
    this.cache.clear();
    await Promise.allSettled(tables.map(async (t) => t.close?.()));
  }
}
