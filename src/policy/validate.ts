/**
 * Restriction-list validation for `postern check`: the compile problems (unknown names,
 * missing arguments, not-yet-supported restrictions), every table a list names opened
 * (missing files, bad patterns), mynetworks items that cannot be used, and restrictions
 * made unreachable by an earlier permit/reject/defer, and the DNS defences' arguments
 * (validate-dns.ts). No network I/O; opens tables.
 */

import type { Diagnostic, Params } from '../config/types.js';
import { compileProblems, configuredLists, tableRefs } from './compile.js';
import { createNetworkList } from './mynetworks.js';
import { TableRegistry } from '../tables/open.js';
import { PatternTable } from '../tables/pattern.js';
import { CidrTable } from '../tables/cidr.js';
import { validateDnsConfig } from './validate-dns.js';

const FINAL = new Set(['permit', 'reject', 'defer']);

export function validatePolicyConfig(params: Params, where: string): Diagnostic[] {
  const out = [...compileProblems(params), ...validateDnsConfig(params)];
  const tables = new TableRegistry({ baseDir: params.str('config_directory') });
  const at = (p: string) => params.origin(p) ?? { file: '<default>', line: 0 };
  for (const { param, spec } of tableRefs(params)) {
    try {
      const t = tables.open(spec);
      if (t instanceof PatternTable || t instanceof CidrTable) for (const l of t.lint()) out.push({ severity: 'warning', file: spec.replace(/^[a-z]+:/, ''), line: l.line, message: l.message });
    } catch (err) {
      out.push({ severity: 'error', ...at(param), message: `${param} (${where}): ${(err as Error).message}` });
    }
  }
  const mynetworks = createNetworkList(params, tables);
  for (const problem of mynetworks.problems) {
    const p = problem.startsWith('mynetworks_style') ? 'mynetworks_style' : 'mynetworks';
    out.push({ severity: 'error', ...at(p), message: problem });
  }
  for (const w of mynetworks.warnings) {
    out.push({ severity: 'warning', ...(w.file ? { file: w.file, line: w.line ?? 0 } : at('mynetworks')), message: w.message });
  }
  // Postfix: "restriction `x' after `permit' is ignored".
  for (const { param, words } of configuredLists(params).lists) {
    for (let i = 0; i + 1 < words.length; i++) {
      const w = words[i]!.toLowerCase();
      if (FINAL.has(w) && (i === 0 || words[i - 1]!.toLowerCase() !== 'warn_if_reject')) {
        out.push({ severity: 'warning', ...at(param), message: `${param}: restriction ${words[i + 1]} after ${w} is ignored` });
        break;
      }
    }
  }
  return out;
}
