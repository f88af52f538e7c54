/**
 * main.cf parser (postconf(5) syntax): `name = value`; lines that begin with white space
 * continue the previous line; `#` comment lines and blank lines are ignored; a `#` inside
 * a value belongs to the value, as in Postfix. Later settings override earlier ones.
 * Input is admin-written text; every problem becomes a Diagnostic with file and line.
 */

import type { Diagnostic } from './types.js';
import type { RawValue } from './params.js';

export interface MainCf {
  readonly values: Map<string, RawValue>;
  readonly diagnostics: Diagnostic[];
}

/** Logical lines: continuation lines joined, each tagged with the line it started on. */
export function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (/^\s*#/.test(raw) || raw.trim() === '') continue;
    if (/^\s/.test(raw) && out.length > 0) {
      const last = out[out.length - 1]!;
      last.text += ' ' + raw.trim();
      continue;
    }
    out.push({ text: raw.trimEnd(), line: i + 1 });
  }
  return out;
}

export function parseMainCf(text: string, file: string): MainCf {
  const values = new Map<string, RawValue>();
  const diagnostics: Diagnostic[] = [];
  for (const { text: l, line } of logicalLines(text)) {
    if (/^\s/.test(l)) {
      diagnostics.push({ severity: 'error', file, line, message: 'continuation line without a parameter before it' });
      continue;
    }
    const m = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/s.exec(l);
    if (!m) {
      diagnostics.push({ severity: 'error', file, line, message: `syntax error: expected "name = value", got "${l.slice(0, 60)}"` });
      continue;
    }
    const name = m[1]!;
    const prev = values.get(name);
    if (prev) {
      diagnostics.push({ severity: 'warning', file, line, message: `overriding earlier entry: ${name} (line ${prev.line})` });
    }
    values.set(name, { value: (m[2] ?? '').trim(), file, line });
  }
  return { values, diagnostics };
}
