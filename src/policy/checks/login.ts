/**
 * Sender address ownership for authenticated clients (smtpd_sender_login_maps):
 * reject_authenticated_sender_login_mismatch — a logged-in user may only use MAIL FROM
 * addresses the map gives to that login; reject_unauthenticated_sender_login_mismatch —
 * an address owned by a login may not be used without logging in;
 * reject_sender_login_mismatch — both. reject_known_sender_login_mismatch — the first, but
 * only for addresses present in the map. Postfix wording and codes (553 5.7.1).
 */

import type { PolicyContext, RestrictionDef } from '../context.js';
import { CLASS, DUNNO, refuse } from '../context.js';
import type { SessionFacts } from '../types.js';
import { lookupAddress } from '../../tables/lookup-order.js';
import { splitList } from '../../config/params.js';

async function owners(facts: SessionFacts, ctx: PolicyContext): Promise<string[] | undefined> {
  const sender = facts.sender;
  if (!sender) return undefined;
  const opts = { delimiter: ctx.params.str('recipient_delimiter'), parentMatches: false };
  for (const spec of ctx.params.list('smtpd_sender_login_maps')) {
    const hit = await lookupAddress(ctx.tables.open(spec), sender, opts);
    if (hit) return splitList(hit.value).map((o) => o.toLowerCase());
  }
  return undefined;
}

function check(mode: { authenticated: boolean; unauthenticated: boolean; knownOnly: boolean }): RestrictionDef {
  return {
    fn: async ({ facts, ctx }) => {
      if (!facts.sender) return DUNNO;
      const own = await owners(facts, ctx);
      const login = facts.saslUsername?.toLowerCase();
      if (login && mode.authenticated) {
        if (own === undefined && mode.knownOnly) return DUNNO;
        if (!own || !own.includes(login)) {
          return refuse(553, '5.7.1', { name: facts.sender, cls: CLASS.sender }, `not owned by user ${facts.saslUsername}`);
        }
      }
      if (!login && mode.unauthenticated && own !== undefined) {
        return refuse(553, '5.7.1', { name: facts.sender, cls: CLASS.sender }, 'not logged in');
      }
      return DUNNO;
    },
  };
}

export const loginRestrictions: Record<string, RestrictionDef> = {
  reject_sender_login_mismatch: check({ authenticated: true, unauthenticated: true, knownOnly: false }),
  reject_authenticated_sender_login_mismatch: check({ authenticated: true, unauthenticated: false, knownOnly: false }),
  reject_known_sender_login_mismatch: check({ authenticated: true, unauthenticated: false, knownOnly: true }),
  reject_unauthenticated_sender_login_mismatch: check({ authenticated: false, unauthenticated: true, knownOnly: false }),
};
