/**
 * `postern check` for milters (docs/content-checks.md): each smtpd listener's smtpd_milters
 * items and settings, and milter_default_action / milter_protocol, so a typo is found before
 * the first session meets it (a milter that cannot be parsed counts as down: its default
 * action, tempfail unless changed, then refuses mail).
 */

import type { Diagnostic, LoadedConfig } from './types.js';
import { milterSpecs, parseDefaultAction, parseProtocol } from '../milter/spec.js';

export function milterDiagnostics(cfg: LoadedConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const add = (d: Diagnostic): void => {
    const key = `${d.file}:${d.line}:${d.message}`;
    if (!seen.has(key)) out.push(d), seen.add(key);
  };
  for (const s of cfg.services.filter((x) => x.type === 'inet' && x.command === 'smtpd')) {
    const p = s.params;
    const at = (name: string): { file: string; line: number } => p.origin(name) ?? { file: s.file, line: s.line };
    for (const e of milterSpecs(p, 'smtpd_milters').errors) add({ severity: 'error', ...at('smtpd_milters'), message: `smtpd_milters: ${e}` });
    if (!parseDefaultAction(p.str('milter_default_action'))) {
      add({ severity: 'error', ...at('milter_default_action'), message: `milter_default_action: "${p.str('milter_default_action')}" is not accept, reject, tempfail or quarantine` });
    }
    if (!parseProtocol(p.str('milter_protocol'))) add({ severity: 'error', ...at('milter_protocol'), message: `milter_protocol: "${p.str('milter_protocol')}" is not 2, 3, 4 or 6` });
  }
  return out;
}
