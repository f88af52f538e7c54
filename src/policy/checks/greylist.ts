/**
 * check_greylist: built-in greylisting (state/greylist.ts has postgrey's rules), placed in
 * smtpd_recipient_restrictions where check_policy_service for postgrey would be. It answers
 * like Postfix with postgrey: DEFER_IF_PERMIT, so a later REJECT still wins and a later
 * PERMIT becomes
 *   450 4.2.0 <rcpt>: Recipient address rejected: Greylisted, try again in N seconds
 * logged as a normal "NOQUEUE: reject: RCPT from …" line by the session.
 * Never greylisted: SASL-authenticated clients, mynetworks, clients in
 * postern_greylist_client_whitelist (matched by forward-confirmed name, its parent domains
 * and by address — so a big sender retrying from another address of its pool passes at
 * once, B4), recipients in postern_greylist_recipient_whitelist. The first accepted retry
 * gets an X-Greylist header, as postgrey adds one.
 * State store down: greylisting accepts (logged once a minute) — it never costs mail.
 */

import type { Call, RestrictionDef } from '../context.js';
import { DUNNO, refusalReply } from '../context.js';
import type { Verdict } from '../types.js';
import type { Params } from '../../config/types.js';
import { lookupAddress, lookupClient } from '../../tables/lookup-order.js';
import { Greylist, greylistSettings } from '../../state/greylist.js';

const engines = new WeakMap<Params, Greylist>();

function greylistFor(c: Call): Greylist | undefined {
  const state = c.ctx.state;
  if (!state) return undefined;
  let g = engines.get(c.ctx.params);
  if (!g) engines.set(c.ctx.params, (g = new Greylist(state.primary, greylistSettings(c.ctx.params))));
  return g;
}

const listed = (value: string | undefined): boolean => value !== undefined && value.trim().toUpperCase() !== 'DUNNO';

async function whitelisted(c: Call, rcpt: string): Promise<boolean> {
  const { facts, ctx } = c;
  const opts = { delimiter: ctx.params.str('recipient_delimiter'), parentMatches: true };
  for (const spec of ctx.params.list('postern_greylist_client_whitelist')) {
    if (listed((await lookupClient(ctx.tables.open(spec), facts.client, opts))?.value)) return true;
  }
  for (const spec of ctx.params.list('postern_greylist_recipient_whitelist')) {
    if (listed((await lookupAddress(ctx.tables.open(spec), rcpt, opts))?.value)) return true;
  }
  return false;
}

async function checkGreylist(c: Call): Promise<Verdict> {
  const rcpt = c.facts.recipient;
  if (rcpt === undefined || c.facts.saslUsername) return DUNNO;
  const greylist = greylistFor(c);
  if (!greylist) return DUNNO;
  try {
    if (await c.ctx.mynetworks.matches(c.facts.client)) return DUNNO;
  } catch {
    return DUNNO; // a broken mynetworks is reported by the restrictions that trust it, not here
  }
  if (await whitelisted(c, rcpt)) return DUNNO;
  let r;
  try {
    r = await greylist.check(c.facts.client.addr, c.facts.sender ?? '', rcpt);
  } catch (err) {
    c.ctx.state!.unavailable(err, 'greylisting accepts mail, bans and rate limits use this host\'s memory');
    return DUNNO;
  }
  if (r.kind === 'greylist') {
    return { kind: 'defer_if_permit', reply: refusalReply(450, '4.2.0', `<${rcpt}>: Recipient address rejected: Greylisted, try again in ${r.remainingS} seconds`) };
  }
  if (r.delayedS !== undefined) {
    c.ctx.effect({ prepend: `X-Greylist: delayed ${r.delayedS} seconds by Postern at ${c.ctx.params.str('myhostname')}; ${new Date().toUTCString()}` });
  }
  return DUNNO;
}

export const greylistRestrictions: Record<string, RestrictionDef> = {
  check_greylist: { fn: checkGreylist },
};
