/**
 * The `domain` setting of SQL tables: when set, only keys of the form user@domain with a
 * non-empty local part and a listed domain are looked up; bare names, "@domain" and other
 * domains are misses without a query (mysql_table(5)). Items, as in Postfix match lists:
 * domain names (case-insensitive, exact — no subdomains), "/file" (names read from the
 * file), "type:table" (the domain is looked up as a key), and "!item" to exclude; the first
 * item that matches decides. A table that fails makes the lookup fail (temporary error).
 */

import { readFileSync } from 'node:fs';
import type { LookupTable } from '../types.js';
import { TableError } from '../types.js';

type Matcher = { readonly negate: boolean } & ({ readonly names: Set<string> } | { readonly table: LookupTable });

export class DomainFilter {
  private readonly matchers: Matcher[] = [];

  /** `open` opens a table spec through the registry, so relative paths resolve as elsewhere. */
  constructor(items: readonly string[], open: (spec: string) => LookupTable, file: string) {
    for (const raw of items) {
      const negate = raw.startsWith('!');
      const item = negate ? raw.slice(1) : raw;
      if (item.startsWith('/')) {
        let text: string;
        try {
          text = readFileSync(item, 'utf8');
        } catch (err) {
          throw new TableError(`${file}: domain: cannot read ${item}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file);
        }
        const names = text.split('\n').map((l) => l.replace(/#.*/, '')).join(' ').split(/[\s,]+/).filter(Boolean).map((n) => n.toLowerCase());
        this.matchers.push({ negate, names: new Set(names) });
      } else if (/^[a-z0-9]+:/i.test(item)) {
        this.matchers.push({ negate, table: open(item) });
      } else this.matchers.push({ negate, names: new Set([item.toLowerCase()]) });
    }
  }

  get active(): boolean {
    return this.matchers.length > 0;
  }

  /** Whether `key` may be looked up. */
  async allows(key: string): Promise<boolean> {
    if (!this.active) return true;
    const at = key.lastIndexOf('@');
    if (at <= 0 || at === key.length - 1) return false;
    const domain = key.slice(at + 1).toLowerCase();
    for (const m of this.matchers) {
      const hit = 'names' in m ? m.names.has(domain) : (await m.table.lookup(domain)) !== undefined;
      if (hit) return !m.negate;
    }
    return false;
  }
}
