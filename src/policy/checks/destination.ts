/**
 * Relay control and recipient existence (smtpd_check.c): permit_auth_destination,
 * reject_unauth_destination, defer_unauth_destination, reject_unlisted_recipient (alias
 * check_recipient_maps; off with receive_override_options = no_unknown_recipient_checks),
 * reject_unlisted_sender. The address class comes from resolve/;
 * sender-specified routing is refused here as well, whatever resolve/ says.
 */

import type { Call, RestrictionDef } from '../context.js';
import { CLASS, DUNNO, PERMIT, asVerdict, lookupFailure, refusalReply } from '../context.js';
import type { Verdict } from '../types.js';
import { reply } from '../../protocol/reply.js';
import { isRouted } from './routing.js';
import { receiveOverride } from '../../config/receive-override.js';

/** Postfix's permit_auth_destination(): final or relay_domains, and not sender-routed. */
export async function authorizedDestination(c: Call, rcpt: string): Promise<boolean> {
  if (isRouted(rcpt) && !c.ctx.params.bool('allow_untrusted_routing')) return false;
  const cls = await c.ctx.resolver.classify(rcpt);
  return cls.isFinal || cls.className === 'relay';
}

function unauthDestination(kind: 'reject' | 'defer'): RestrictionDef {
  return {
    fn: async (c) => {
      const rcpt = c.facts.recipient;
      if (rcpt === undefined) return DUNNO;
      try {
        if (await authorizedDestination(c, rcpt)) return DUNNO;
      } catch {
        return lookupFailure(rcpt);
      }
      // defer_unauth_destination answers relay_domains_reject_code minus 100 (454 by default).
      const code = c.ctx.params.int('relay_domains_reject_code') - (kind === 'defer' ? 100 : 0);
      return asVerdict(refusalReply(code, kind === 'reject' ? '5.7.1' : '4.7.1', `<${rcpt}>: Relay access denied`));
    },
  };
}

/** The recipient-table check shared by the explicit restriction and the implicit one at the end of RCPT. */
export async function unlistedRecipient(c: Call): Promise<Verdict> {
  const rcpt = c.facts.recipient;
  if (!rcpt || !c.ctx.firstMapCheck('recipient')) return DUNNO;
  // A content filter's re-injection listener: the recipients were checked on the way in.
  if (receiveOverride(c.ctx.params, 'no_unknown_recipient_checks')) return DUNNO;
  try {
    const r = await c.ctx.resolver.checkRecipient(rcpt);
    return r.known === true ? DUNNO : asVerdict(r.reply);
  } catch {
    return lookupFailure(rcpt);
  }
}

/** Same tables for the sender: "<s>: Sender address rejected: User unknown in …" with X.1.0. */
export async function unlistedSender(c: Call): Promise<Verdict> {
  const sender = c.facts.sender;
  if (!sender || !c.ctx.firstMapCheck('sender')) return DUNNO;
  try {
    const r = await c.ctx.resolver.checkRecipient(sender);
    if (r.known === true) return DUNNO;
    const text = r.reply.lines.join(' ').replace(`${CLASS.recipient} rejected`, `${CLASS.sender} rejected`);
    return asVerdict(reply(r.reply.code, `${String(r.reply.code)[0]}.1.0`, text));
  } catch {
    return lookupFailure(sender);
  }
}

export const destinationRestrictions: Record<string, RestrictionDef> = {
  permit_auth_destination: {
    fn: async (c) => {
      const rcpt = c.facts.recipient;
      if (rcpt === undefined) return DUNNO;
      try {
        return (await authorizedDestination(c, rcpt)) ? PERMIT : DUNNO;
      } catch {
        return lookupFailure(rcpt);
      }
    },
  },
  reject_unauth_destination: unauthDestination('reject'),
  defer_unauth_destination: unauthDestination('defer'),
  reject_unlisted_recipient: { fn: unlistedRecipient },
  check_recipient_maps: { fn: unlistedRecipient },
  reject_unlisted_sender: { fn: unlistedSender },
};
