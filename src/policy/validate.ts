/** Restriction-list and table validation for `postern check` (no network I/O; opens tables). */

import type { Diagnostic, Params } from '../config/types.js';
import { compileProblems, STAGE_PARAM } from './engine.js';
import { registry } from './registry.js';
import { TableRegistry } from '../tables/open.js';
import { TableError } from '../tables/types.js';
import { PatternTable } from '../tables/pattern.js';

export function validatePolicyConfig(params: Params, where: string): Diagnostic[] {
  const classes = new Set(params.list('smtpd_restriction_classes'));
  const out = compileProblems(params, classes);
  const tables = new TableRegistry({ baseDir: params.str('config_directory') });
  for (const pname of Object.values(STAGE_PARAM)) {
    const words = params.list(pname);
    const at = params.origin(pname) ?? { file: '<default>', line: 0 };
    for (let i = 0; i < words.length; i++) {
      if (!registry.get(words[i]!.toLowerCase())?.takesArg || i + 1 >= words.length) continue;
      const spec = words[++i]!;
      try {
        const t = tables.open(spec);
        if (t instanceof PatternTable) for (const l of t.lint()) out.push({ severity: 'warning', file: spec.replace(/^[a-z]+:/, ''), line: l.line, message: l.message });
      } catch (err) {
        const e = err as TableError;
        out.push({ severity: 'error', ...at, message: `${pname} (${where}): ${e.message}` });
      }
    }
  }
  return out;
}
