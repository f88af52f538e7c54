/** permit, reject, defer, permit_mynetworks, permit_sasl_authenticated, reject_unauth_pipelining. */

import type { RestrictionDef } from '../context.js';
import { DUNNO, PERMIT, refusal, subject } from '../context.js';
import { inCidr } from '../networks.js';
import { reply } from '../../protocol/reply.js';

export const basicRestrictions: Record<string, RestrictionDef> = {
  permit: { fn: async () => PERMIT },
  reject: {
    fn: async (f, stage, ctx) => {
      const s = subject(f, stage);
      return { kind: 'reject', reply: refusal(ctx.params.int('reject_code'), '5.7.1', s.key, s.what, 'Access denied') };
    },
  },
  defer: {
    fn: async (f, stage, ctx) => {
      const s = subject(f, stage);
      return { kind: 'defer', reply: refusal(ctx.params.int('defer_code'), '4.7.1', s.key, s.what, 'Try again later') };
    },
  },
  permit_mynetworks: { fn: async (f, _s, ctx) => (ctx.mynetworks.some((n) => inCidr(f.client.addr, n)) ? PERMIT : DUNNO) },
  permit_sasl_authenticated: { fn: async (f) => (f.saslUsername ? PERMIT : DUNNO) },
  reject_unauth_pipelining: {
    fn: async (f) => (f.unauthPipelining ? { kind: 'reject', reply: reply(503, '5.5.0', 'Error: improper use of SMTP command pipelining') } : DUNNO),
  },
};

export const deferIfRestrictions: Record<string, RestrictionDef> = {
  defer_if_permit: {
    fn: async (f, stage, ctx) => {
      const s = subject(f, stage);
      return { kind: 'defer_if_permit', reply: refusal(ctx.params.int('defer_code'), '4.7.1', s.key, s.what, 'defer_if_permit requested') };
    },
  },
  defer_if_reject: {
    fn: async (f, stage, ctx) => {
      const s = subject(f, stage);
      return { kind: 'defer_if_reject', reply: refusal(ctx.params.int('defer_code'), '4.7.1', s.key, s.what, 'defer_if_reject requested') };
    },
  },
};
