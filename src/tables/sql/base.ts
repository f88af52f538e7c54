/**
 * What every SQL table does around its driver (Postfix's dict_mysql/dict_pgsql/
 * dict_sqlite lookup, db_common.c): an exact-key table (kind 'exact', so the callers'
 * lookup order applies: user+ext@domain, user@domain, @domain, …).
 *
 * lookup(key): the key is folded to lower case (as Postfix's tables do); a key holding a
 * NUL, a key outside `domain`, or a key the query's escapes cannot be filled from (no
 * domain for %d, …) is a miss WITHOUT a query. Otherwise the query runs with the key's
 * parts as bound parameters (sql-text.ts); every column of every row, except NULL and empty
 * values, goes through result_format, and the results are joined with commas. More than
 * expansion_limit results is an error, as in Postfix.
 *
 * Failure semantics: when the database cannot be reached, refuses, or times out, lookup()
 * REJECTS with "<spec>: <reason>" — never a miss, because a miss becomes a 550 or a
 * bounce and the mail would be lost; callers answer 451 4.3.0 or defer. The table layer
 * logs nothing itself.
 */

import type { LookupTable } from '../types.js';
import type { SqlConfig } from './query-file.js';
import type { DomainFilter } from './domain-filter.js';
import { queryValues, resultSuppressed, formatResult } from './template.js';

/** One database connection (or pool) per table, connected at the first query. */
export interface SqlDriver {
  /**
   * Rows as arrays of column values (strings, numbers, Buffers, null …). Rejects on any
   * failure. `textSql`: PostgreSQL's fallback with text-typed placeholders (sql-text.ts).
   */
  query(sql: string, params: readonly string[], textSql?: string): Promise<unknown[][]>;
  close(): Promise<void>;
}

/** Waits for `p` at most `ms` (closing must never hold up a shutdown). */
export function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    void p.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

function text(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

export class SqlTable implements LookupTable {
  readonly kind = 'exact' as const;

  constructor(
    readonly spec: string,
    readonly config: SqlConfig,
    private readonly driver: SqlDriver,
    private readonly domains: DomainFilter,
  ) {}

  async lookup(rawKey: string): Promise<string | undefined> {
    if (rawKey.includes('\0')) return undefined; // never SQL, never a match (a C string cannot hold it)
    const key = rawKey.toLowerCase();
    let allowed: boolean;
    try {
      allowed = await this.domains.allows(key);
    } catch (err) {
      throw new Error(`${this.spec}: domain table: ${(err as Error).message}`);
    }
    if (!allowed) return undefined;
    const { query, resultFormat, expansionLimit } = this.config;
    const all = queryValues(query.escapes, key);
    if (!all || resultSuppressed(resultFormat, key)) return undefined;
    const params = queryValues(query.slots, key)!;
    let rows: unknown[][];
    try {
      rows = await this.driver.query(query.sql, params, query.textSql);
    } catch (err) {
      throw new Error(`${this.spec}: ${(err as Error).message}`);
    }
    const out: string[] = [];
    for (const row of rows) {
      for (const col of row) {
        const v = text(col);
        if (v === undefined) continue;
        const f = formatResult(resultFormat, v, key);
        if (f === undefined) continue;
        out.push(f);
        if (expansionLimit > 0 && out.length > expansionLimit) {
          throw new Error(`${this.spec}: expansion limit ${expansionLimit} exceeded for key "${key}"`);
        }
      }
    }
    return out.length ? out.join(',') : undefined;
  }

  /** Ends the connections; lookups after close() reconnect. */
  close(): Promise<void> {
    return this.driver.close();
  }
}
