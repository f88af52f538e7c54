/**
 * The generic restrictions (smtpd_check.c generic_checks): permit, reject, defer,
 * defer_if_permit, defer_if_reject, permit_mynetworks, permit_sasl_authenticated,
 * reject_unauth_pipelining and sleep, with Postfix's reply texts and codes.
 */

import type { RestrictionDef } from '../context.js';
import { DUNNO, PERMIT, clientWho, lookupFailure, refuse, refusalReply } from '../context.js';
import { NetworkListError } from '../mynetworks.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Upper bound for "sleep N" so a typo cannot hold a session for hours. */
const MAX_SLEEP_S = 300;

export const basicRestrictions: Record<string, RestrictionDef> = {
  permit: { fn: async () => PERMIT },
  reject: { fn: async (c) => refuse(c.ctx.params.int('reject_code'), '5.7.1', c.who, 'Access denied') },
  defer: { fn: async (c) => refuse(c.ctx.params.int('defer_code'), '4.3.2', c.who, 'Try again later') },
  // Postfix hard-codes 450 4.7.0 for these two (not defer_code).
  defer_if_permit: { fn: async (c) => ({ kind: 'defer_if_permit', reply: refusalReply(450, '4.7.0', `<${c.who.name}>: ${c.who.cls} rejected: defer_if_permit requested`) }) },
  defer_if_reject: { fn: async (c) => ({ kind: 'defer_if_reject', reply: refusalReply(450, '4.7.0', `<${c.who.name}>: ${c.who.cls} rejected: defer_if_reject requested`) }) },
  permit_mynetworks: {
    fn: async (c) => {
      try {
        return (await c.ctx.mynetworks.matches(c.facts.client)) ? PERMIT : DUNNO;
      } catch (err) {
        // Postfix 3.x: a broken mynetworks item is a lookup error, "451 4.3.0 <client>: Temporary lookup failure"
        // (`postern check` names the item with file and line).
        if (!(err instanceof NetworkListError)) throw err;
        return lookupFailure(clientWho(c.facts).name);
      }
    },
  },
  permit_sasl_authenticated: { fn: async (c) => (c.facts.saslUsername ? PERMIT : DUNNO) },
  reject_unauth_pipelining: {
    fn: async (c) => (c.facts.unauthPipelining ? refuse(503, '5.5.0', c.who, 'Improper use of SMTP command pipelining') : DUNNO),
  },
  sleep: {
    takesArg: true,
    fn: async (c) => {
      await sleep(Math.min(Number(c.arg), MAX_SLEEP_S) * 1000);
      return DUNNO;
    },
  },
};
