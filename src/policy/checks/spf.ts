/**
 * check_spf (Postern's name; Postfix needs policyd-spf for this): the SPF check of the
 * MAIL FROM identity (RFC 7208; the HELO identity for the null sender) by mailauth, through
 * dns/. fail → "550 5.7.23 <sender>: Sender address rejected: SPF check failed (…)";
 * temperror → "451 4.7.24 …: SPF temporary error (…)" (RFC 7372 codes); softfail, neutral,
 * none and permerror go on. Never for SASL-authenticated or mynetworks clients.
 * Cleanup repeats the check for the Authentication-Results header (the DNS cache answers).
 */

import { loadMailauth } from '../../cleanup/auth/mailauth.js';
import type { Call, RestrictionDef } from '../context.js';
import { DUNNO, refuse } from '../context.js';
import type { Verdict } from '../types.js';
import { mailauthResolver } from '../../dns/mailauth-resolver.js';

async function checkSpf(c: Call): Promise<Verdict> {
  const f = c.facts;
  if (f.sender === undefined || f.saslUsername) return DUNNO;
  // Our own networks send as our own users (seed configs list permit_mynetworks first anyway).
  if (await c.ctx.mynetworks.matches(f.client).catch(() => false)) return DUNNO;
  const r = await (await loadMailauth()).spf({
    sender: f.sender, ip: f.client.addr, helo: f.helo ?? f.client.addr,
    mta: c.ctx.params.str('myhostname'), resolver: mailauthResolver(c.ctx.dns) as never,
  });
  const comment = (r.status.comment ?? r.info ?? '').toString();
  const who = { name: f.sender, cls: 'Sender address' };
  switch (r.status.result) {
    case 'fail':
      return refuse(550, '5.7.23', who, `SPF check failed (${comment})`);
    case 'temperror':
    case 'temperr':
      return refuse(451, '4.7.24', who, `SPF temporary error (${comment})`);
    default:
      return DUNNO;
  }
}

export const spfRestrictions: Record<string, RestrictionDef> = {
  check_spf: { fn: checkSpf },
};
