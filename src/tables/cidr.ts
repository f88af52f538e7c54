/** cidr: tables (cidr_table(5)): "network/prefix result", bare addresses, "!" negation, if/endif. First match wins. */

import type { LookupTable } from './types.js';
import { TableError } from './types.js';
import { TextSource, type SourceLine } from './text-source.js';
import { parseCidr, inCidr, type Cidr } from '../policy/networks.js';

interface CidrRule { net: Cidr; negate: boolean; result?: string; kind: 'match' | 'if' | 'endif' }

function parse(lines: SourceLine[], file: string): CidrRule[] {
  const out: CidrRule[] = [];
  for (const { text, line } of lines) {
    if (/^endif\b/i.test(text)) {
      out.push({ net: { family: 4, bytes: new Uint8Array(4), prefix: 0 }, negate: false, kind: 'endif' });
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
    const net = m ? parseCidr(m[1]!.replace(/^\[(.*)\]/, '$1')) : undefined;
    if (!m || !net) throw new TableError(`${file}:${line}: bad network "${m?.[1] ?? text}"`, file, line);
    if (!isIf && !m[2]) throw new TableError(`${file}:${line}: ${m[1]} has no result`, file, line);
    out.push(isIf ? { net, negate, kind: 'if' } : { net, negate, result: m[2]!.trim(), kind: 'match' });
  }
  return out;
}

export class CidrTable implements LookupTable {
  readonly kind = 'cidr' as const;
  private readonly source: TextSource<CidrRule[]>;
  constructor(readonly spec: string, file: string, now?: () => number) {
    this.source = new TextSource(file, parse, now);
  }
  async lookup(key: string): Promise<string | undefined> {
    let skip = 0;
    for (const r of this.source.get()) {
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
