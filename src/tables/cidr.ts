/**
 * cidr: tables (cidr_table(5)): "network/prefix result", bare addresses, "[…]" optional,
 * "!" negation, if/endif. First match wins. Networks in every form policy/networks.ts
 * accepts, IPv4-mapped ones included; a client key "::ffff:192.0.2.1" is looked up as
 * 192.0.2.1.
 *
 * A line Postfix cannot parse either (bad address, bad mask) makes the table unusable, with
 * file, line and Postfix's wording: Postern refuses to guess. A network with host bits set
 * ("192.168.1.1/24") is what Postfix warns about and skips ("non-null host address bits …
 * skipping this rule"): Postern does the same, and `postern check` shows the warning with
 * file and line (lint()), so a table that runs under Postfix runs unchanged here. On an
 * "if" line it is an error: Postfix would skip the "if", apply the rules inside the block to
 * every client and warn "ENDIF without IF" — a silent change of meaning Postern refuses.
 * Input: the admin's file (trusted), lookup keys (untrusted, only parsed).
 */

import type { LookupTable } from './types.js';
import { TableError } from './types.js';
import { TextSource, type SourceLine } from './text-source.js';
import { parseNetwork, inCidr, type Cidr } from '../policy/networks.js';

interface CidrRule { net: Cidr; negate: boolean; result?: string; kind: 'match' | 'if' | 'endif' }

interface Parsed {
  rules: CidrRule[];
  warnings: { line: number; message: string }[];
}

function parse(lines: SourceLine[], file: string): Parsed {
  const rules: CidrRule[] = [];
  const warnings: Parsed['warnings'] = [];
  for (const { text, line } of lines) {
    if (/^endif\b/i.test(text)) {
      rules.push({ net: { family: 4, bytes: new Uint8Array(4), prefix: 0 }, negate: false, kind: 'endif' });
      continue;
    }
    let rest = text;
    const isIf = /^if\s/i.test(rest);
    if (isIf) rest = rest.slice(2).trim();
    let negate = false;
    if (rest.startsWith('!')) {
      negate = true;
      rest = rest.slice(1);
    }
    const m = /^(\S+)\s*(.*)$/s.exec(rest);
    if (!m) throw new TableError(`${file}:${line}: bad address pattern: "${text}"`, file, line);
    const parsed = parseNetwork(m[1]!);
    if (parsed.error !== undefined && parsed.hostBits && !isIf) {
      warnings.push({ line, message: `cidr map ${file}, line ${line}: ${parsed.error}: skipping this rule` });
      continue;
    }
    if (parsed.error !== undefined) throw new TableError(`${file}:${line}: ${parsed.error}`, file, line);
    if (!isIf && !m[2]) throw new TableError(`${file}:${line}: ${m[1]} has no result`, file, line);
    rules.push(isIf ? { net: parsed.net, negate, kind: 'if' } : { net: parsed.net, negate, result: m[2]!.trim(), kind: 'match' });
  }
  return { rules, warnings };
}

export class CidrTable implements LookupTable {
  readonly kind = 'cidr' as const;
  private readonly source: TextSource<Parsed>;
  constructor(readonly spec: string, file: string, now?: () => number) {
    this.source = new TextSource(file, parse, now);
  }

  /** Lines Postfix would warn about and skip (for `postern check`). */
  lint(): { line: number; message: string }[] {
    return this.source.get().warnings;
  }

  async lookup(key: string): Promise<string | undefined> {
    let skip = 0;
    for (const r of this.source.get().rules) {
      if (skip > 0) {
        if (r.kind === 'if') skip++;
        else if (r.kind === 'endif') skip--;
        continue;
      }
      if (r.kind === 'endif') continue;
      const hit = inCidr(key, r.net) !== r.negate;
      if (r.kind === 'if') {
        if (!hit) skip = 1;
        continue;
      }
      if (hit) return r.result;
    }
    return undefined;
  }
}
