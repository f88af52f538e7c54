/**
 * `postern check` for the abuse defences (docs/abuse.md): the state backend setting, the
 * ban settings, and which listeners the implied sender-ownership check (B6) applies to —
 * said plainly, since it refuses senders Postfix would accept.
 */

import type { Diagnostic, LoadedConfig } from './types.js';
import { stateProblems } from '../state/shared.js';
import { parseBanEvents } from '../state/bans.js';
import { senderOwnershipApplies } from '../policy/checks/ownership.js';

export function abuseDiagnostics(cfg: LoadedConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const main = cfg.main;
  const at = (name: string): { file: string; line: number } => main.origin(name) ?? { file: `${cfg.dir}/main.cf`, line: 0 };
  for (const p of stateProblems(main)) out.push({ severity: 'error', ...at(p.split(':')[0]!), message: p });
  const { unknown } = parseBanEvents(main.list('postern_ban_events'));
  if (unknown.length) out.push({ severity: 'error', ...at('postern_ban_events'), message: `postern_ban_events: unknown event ${unknown.map((u) => `"${u}"`).join(', ')} (known: auth, relay, unknown_recipient, protocol)` });
  const action = main.str('postern_ban_action').toLowerCase();
  if (action !== 'reject' && action !== 'drop') out.push({ severity: 'error', ...at('postern_ban_action'), message: `postern_ban_action: "${action}" is neither reject nor drop` });
  const smtpd = cfg.services.filter((s) => s.type === 'inet' && s.command === 'smtpd');
  const owned = smtpd.filter((s) => senderOwnershipApplies(s.params));
  if (owned.length) {
    out.push({
      severity: 'info', ...at('postern_sender_login_default'),
      message: `sender ownership after AUTH (postern_sender_login_default = yes) applies to ${owned.map((s) => s.name).join(', ')}: ` +
        'an authenticated client may only send as its own address, aliases that reach it and smtpd_sender_login_maps owners (553 5.7.1 otherwise)',
    });
  }
  return out;
}
