/**
 * Opens an SQL table (mysql:, pgsql:, sqlite:) from its configuration file: parses the
 * file (no connection yet), builds the driver and the `domain` filter. Relative paths (the
 * file itself, SQLite's dbpath, tables named in `domain`) are resolved by the caller's
 * registry, against the configuration directory. Errors are TableErrors with file and line.
 */

import type { LookupTable } from '../types.js';
import { TableError } from '../types.js';
import type { Dialect } from './sql-text.js';
import { parseQueryFile } from './query-file.js';
import { SqlTable, type SqlDriver } from './base.js';
import { DomainFilter } from './domain-filter.js';
import { MysqlDriver } from './mysql.js';
import { PgsqlDriver } from './pgsql.js';
import { SqliteDriver } from './sqlite.js';

export const SQL_TYPES: ReadonlySet<string> = new Set<Dialect>(['mysql', 'pgsql', 'sqlite']);

export interface SqlOpenContext {
  /** Open another table (for `domain = type:table`) through the same registry. */
  open(spec: string): LookupTable;
  /** Resolve a relative path against the configuration directory. */
  path(p: string): string;
}

export function openSqlTable(type: Dialect, spec: string, file: string, ctx: SqlOpenContext): SqlTable {
  const cfg = parseQueryFile(type, file);
  let driver: SqlDriver;
  try {
    driver = type === 'mysql' ? new MysqlDriver(cfg) : type === 'pgsql' ? new PgsqlDriver(cfg) : new SqliteDriver(cfg, ctx.path(cfg.dbpath));
  } catch (err) {
    const line = cfg.lines.get('hosts') ?? 0;
    throw new TableError(`${file}, line ${line}: hosts: ${(err as Error).message}`, file, line);
  }
  let domains: DomainFilter;
  try {
    domains = new DomainFilter(cfg.domain, (s) => ctx.open(s), file);
  } catch (err) {
    const line = cfg.lines.get('domain') ?? 0;
    throw new TableError(`${file}, line ${line}: domain: ${(err as Error).message}`, file, line);
  }
  return new SqlTable(spec, cfg, driver, domains);
}
