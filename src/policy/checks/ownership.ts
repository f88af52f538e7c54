/**
 * A stolen password sends only as its owner (B6). On a listener with SASL where the admin
 * configured no *_sender_login_mismatch restriction, and postern_sender_login_default = yes
 * (the default), an authenticated client may use as MAIL FROM only addresses its login owns:
 * - the login itself ("alice@example.org"; a login without a domain owns that local part
 *   in our local domains),
 * - addresses whose virtual_alias_maps / alias_maps expansion reaches the login
 *   ("postmaster@example.org" → alice@example.org),
 * - addresses smtpd_sender_login_maps gives to the login.
 * Anything else: 553 5.7.1 <addr>: Sender address rejected: not owned by user LOGIN —
 * Postfix's wording for reject_authenticated_sender_login_mismatch, which this is, implied.
 * postern_sender_login_default = no restores Postfix (any sender after AUTH). The engine runs
 * it after smtpd_sender_restrictions, like smtpd_reject_unlisted_sender.
 */

import type { Params } from '../../config/types.js';
import type { Call } from '../context.js';
import { CLASS, DUNNO, lookupFailure, refuse } from '../context.js';
import type { Verdict } from '../types.js';
import { configuredLists } from '../compile.js';
import { lookupAddress } from '../../tables/lookup-order.js';
import { splitList } from '../../config/params.js';

const MISMATCH = /^reject_(?:\w+_)?sender_login_mismatch$/i;

/** Whether the implied ownership check runs on the listener with these parameters. */
export function senderOwnershipApplies(params: Params): boolean {
  if (!params.bool('postern_sender_login_default') || !params.bool('smtpd_sasl_auth_enable')) return false;
  return !configuredLists(params).lists.some((l) => l.words.some((w) => MISMATCH.test(w)));
}

const localPart = (a: string): string => a.slice(0, a.lastIndexOf('@') < 0 ? a.length : a.lastIndexOf('@'));

async function owned(c: Call, sender: string, login: string): Promise<boolean> {
  const s = sender.toLowerCase();
  const l = login.toLowerCase();
  if (s === l) return true;
  const { ctx } = c;
  if (!l.includes('@') && localPart(s) === l && (await ctx.resolver.classify(s)).className === 'local') return true;
  const opts = { delimiter: ctx.params.str('recipient_delimiter'), parentMatches: false };
  for (const spec of ctx.params.list('smtpd_sender_login_maps')) {
    const hit = await lookupAddress(ctx.tables.open(spec), sender, opts);
    if (hit) return splitList(hit.value).some((o) => o.toLowerCase() === l);
  }
  for (const t of await ctx.resolver.expand(sender)) {
    const r = t.recipient.toLowerCase();
    if (r === l) return true;
    if (!l.includes('@') && localPart(r) === l && (t.kind === 'maildir' ? t.via === 'local' : t.kind !== 'remote' && t.kind !== 'transport')) return true;
  }
  return false;
}

export async function senderOwnership(c: Call): Promise<Verdict> {
  const { sender, saslUsername } = c.facts;
  if (!sender || !saslUsername) return DUNNO; // the null sender impersonates nobody
  try {
    if (await owned(c, sender, saslUsername)) return DUNNO;
  } catch {
    return lookupFailure(sender);
  }
  return refuse(553, '5.7.1', { name: sender, cls: CLASS.sender }, `not owned by user ${saslUsername}`);
}
