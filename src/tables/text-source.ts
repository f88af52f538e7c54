/**
 * A text file read as a table source, re-read when it changes (checked at most once a
 * second). Shared by the exact-key tables (hash/btree/lmdb/texthash), regexp, pcre and
 * cidr: Postern reads the admin's text file directly, so there is no postmap step.
 */

import { readFileSync, statSync, existsSync } from 'node:fs';
import { TableError } from './types.js';

export interface SourceLine {
  readonly text: string;
  readonly line: number;
}

/** Logical lines of a Postfix table source: comments dropped, continuations joined. */
export function sourceLines(text: string): SourceLine[] {
  const out: { text: string; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (/^\s*#/.test(raw) || raw.trim() === '') continue;
    if (/^\s/.test(raw) && out.length > 0) {
      out[out.length - 1]!.text += ' ' + raw.trim();
      continue;
    }
    out.push({ text: raw.trim(), line: i + 1 });
  }
  return out;
}

export class TextSource<T> {
  private parsed: T;
  private stamp: string;
  private checkedAt: number;

  constructor(
    readonly file: string,
    private readonly parse: (lines: SourceLine[], file: string) => T,
    private readonly now: () => number = Date.now,
  ) {
    if (!existsSync(file)) {
      const hint = existsSync(`${file}.db`) || existsSync(`${file}.lmdb`) ? ` (only the postmap output ${file}.db/.lmdb exists; Postern reads the text source)` : '';
      throw new TableError(`table source file ${file} does not exist${hint}`, file);
    }
    this.stamp = this.statStamp();
    this.parsed = this.load();
    this.checkedAt = this.now();
  }

  private statStamp(): string {
    try {
      const s = statSync(this.file);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }

  private load(): T {
    return this.parse(sourceLines(readFileSync(this.file, 'utf8')), this.file);
  }

  /** The parsed content, reloaded when the file changed (keeps the old one if the new one is broken). */
  get(): T {
    const t = this.now();
    if (t - this.checkedAt >= 1000) {
      this.checkedAt = t;
      const stamp = this.statStamp();
      if (stamp !== this.stamp && stamp !== 'missing') {
        try {
          this.parsed = this.load();
          this.stamp = stamp;
        } catch {
          // XXX: a broken edit keeps the previous table; `postern check` shows the error.
        }
      }
    }
    return this.parsed;
  }
}
