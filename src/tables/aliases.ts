/**
 * aliases(5) files read as text (no newaliases step): "name: value, value", continuation
 * lines beginning with white space, "#" comments at the start of a line, quoted names
 * ("\"a b\": x"). Names are case-insensitive; the first entry for a name wins and a line
 * without "name:" is skipped with a warning, as postalias(1) does. Values are kept as
 * written; resolve/ interprets them (local names, addresses, /path/Maildir/, /path/mbox,
 * |command, :include:). Re-read when the file changes (TextSource). The file is the
 * admin's: trusted, but parsed defensively.
 *
 * Only hash:/btree:/lmdb:/cdb:/dbm:/sdbm: files named in alias_maps are read this way (they
 * are what postalias(1) builds from an aliases file); every other table type in alias_maps
 * keeps its own syntax (TableRegistry.openAliases).
 */

import { TextSource, type SourceLine } from './text-source.js';
import type { LookupTable } from './types.js';

export interface ParsedAliases {
  readonly entries: Map<string, string>;
  readonly warnings: string[];
}

/** Parse logical lines (comments dropped, continuations joined) into name → value. */
export function parseAliases(lines: SourceLine[], file: string): ParsedAliases {
  const entries = new Map<string, string>();
  const warnings: string[] = [];
  for (const { text, line } of lines) {
    const m = /^("(?:[^"\\]|\\.)*"|[^:\s"]+)\s*:\s*(.*)$/s.exec(text);
    if (!m) {
      warnings.push(`${file}, line ${line}: need name:value pair`);
      continue;
    }
    const name = (m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[1]!).toLowerCase();
    const value = m[2]!.trim();
    if (!value) {
      warnings.push(`${file}, line ${line}: no value for "${name}"`);
      continue;
    }
    if (entries.has(name)) {
      warnings.push(`${file}, line ${line}: duplicate entry: "${name}"`);
      continue;
    }
    entries.set(name, value);
  }
  return { entries, warnings };
}

export class AliasTable implements LookupTable {
  readonly kind = 'exact' as const;
  private readonly source: TextSource<ParsedAliases>;
  constructor(readonly spec: string, file: string, now?: () => number) {
    this.source = new TextSource(file, parseAliases, now);
  }
  async lookup(key: string): Promise<string | undefined> {
    return this.source.get().entries.get(key.toLowerCase());
  }
  /** Lines postalias would warn about, for `postern check`. */
  warnings(): string[] {
    return this.source.get().warnings;
  }
}
