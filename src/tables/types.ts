/**
 * The lookup-table interface every table type implements (Postfix's dict_open() family).
 *
 * `lookup` takes one key exactly as the caller built it; the Postfix lookup order for
 * addresses, domains and clients lives in tables/lookup-order.ts and calls `lookup` per
 * candidate key for exact-match tables, or once with the whole string for pattern tables.
 */

export type TableKind =
  /** Exact-key tables: hash, btree, lmdb, texthash, inline, static, mysql, pgsql, sqlite. */
  | 'exact'
  /** Pattern tables matched against the whole input: regexp, pcre. */
  | 'pattern'
  /** Network tables: cidr. */
  | 'cidr';

export interface LookupTable {
  /** "hash:/etc/postfix/sender_access" — as written in the config. */
  readonly spec: string;
  readonly kind: TableKind;
  /**
   * The value for `key`, or undefined when there is no match. Never throws for a miss;
   * REJECTS when the table cannot answer (database down, timeout), so callers tempfail.
   */
  lookup(key: string): Promise<string | undefined>;
  /** Source lines the table skipped (postmap/postalias warnings), for `postern check`. */
  warnings?(): string[];
  /** Release files or connections (SQL tables end their pools). */
  close?(): void | Promise<void>;
}

/** Thrown when a table spec cannot be opened (unknown type, missing file, bad pattern line). */
export class TableError extends Error {
  constructor(message: string, readonly file?: string, readonly line?: number) {
    super(message);
    this.name = 'TableError';
  }
}
