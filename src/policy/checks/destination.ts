/**
 * Relay control and recipient existence: reject_unauth_destination,
 * defer_unauth_destination, permit_auth_destination, reject_unlisted_recipient,
 * reject_unlisted_sender. The address class comes from resolve/ (which already treats
 * routing tricks as foreign).
 */

import type { RestrictionDef } from '../context.js';
import { DUNNO, PERMIT, refusal } from '../context.js';
import { reply } from '../../protocol/reply.js';

function unauthDestination(kind: 'reject' | 'defer'): RestrictionDef {
  return {
    fn: async (f, _s, ctx) => {
      const rcpt = f.recipient;
      if (rcpt === undefined) return DUNNO;
      const cls = await ctx.resolver.classify(rcpt);
      if (cls.isFinal || cls.className === 'relay') return DUNNO;
      const code = kind === 'reject' ? ctx.params.int('relay_domains_reject_code') : ctx.params.int('defer_code');
      return { kind, reply: reply(code, kind === 'reject' ? '5.7.1' : '4.7.1', `<${rcpt}>: Relay access denied`) };
    },
  };
}

export const destinationRestrictions: Record<string, RestrictionDef> = {
  reject_unauth_destination: unauthDestination('reject'),
  defer_unauth_destination: unauthDestination('defer'),
  permit_auth_destination: {
    fn: async (f, _s, ctx) => {
      if (f.recipient === undefined) return DUNNO;
      const cls = await ctx.resolver.classify(f.recipient);
      return cls.isFinal || cls.className === 'relay' ? PERMIT : DUNNO;
    },
  },
  reject_unlisted_recipient: {
    fn: async (f, _s, ctx) => {
      if (f.recipient === undefined) return DUNNO;
      const r = await ctx.resolver.checkRecipient(f.recipient);
      if (r.known === true) return DUNNO;
      return { kind: r.known === 'tempfail' ? 'defer' : 'reject', reply: r.reply };
    },
  },
  reject_unlisted_sender: {
    fn: async (f, _s, ctx) => {
      if (!f.sender) return DUNNO;
      const r = await ctx.resolver.checkRecipient(f.sender);
      if (r.known === true) return DUNNO;
      const text = r.reply.lines.join(' ').replace('Recipient address rejected', 'Sender address rejected');
      return { kind: r.known === 'tempfail' ? 'defer' : 'reject', reply: reply(r.reply.code, r.reply.enhanced, text) };
    },
  },
};

/** The implicit check Postfix runs after the recipient restrictions (smtpd_reject_unlisted_recipient). */
export const implicitUnlistedRecipient = destinationRestrictions.reject_unlisted_recipient!;
export { refusal };
