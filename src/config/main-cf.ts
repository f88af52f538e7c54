/**
 * main.cf parser (postconf(5) syntax): `name = value`; lines that begin with white space
 * continue the previous line; `#` comment lines and blank lines are ignored; a `#` inside
 * a value belongs to the value, as in Postfix. Later settings override earlier ones.
 * Input is admin-written text; every problem becomes a Diagnostic with file and line.
 */

import type { Diagnostic } from './types.js';
import type { RawValue } from './params.js';
import { sourceLines } from '../tables/text-source.js';

export interface MainCf {
  readonly values: Map<string, RawValue>;
  readonly diagnostics: Diagnostic[];
}

export function parseMainCf(text: string, file: string): MainCf {
  const values = new Map<string, RawValue>();
  const diagnostics: Diagnostic[] = [];
  // A continuation line before any parameter has nothing to continue (sourceLines would keep it).
  const first = text.split(/\r?\n/).findIndex((l) => l.trim() !== '' && !/^\s*#/.test(l));
  if (first >= 0 && /^\s/.test(text.split(/\r?\n/)[first]!)) {
    diagnostics.push({ severity: 'error', file, line: first + 1, message: 'continuation line without a parameter before it' });
  }
  for (const { text: l, line } of sourceLines(text)) {
    if (first >= 0 && line === first + 1 && diagnostics.length > 0) continue;
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
