/**
 * check_client_access, check_helo_access, check_sender_access, check_recipient_access and
 * check_etrn_access: look the request up in an access(5) table in Postfix's order
 * (tables/lookup-order.ts) and act on the value (actions.ts). An OK for a sender-routed
 * recipient ("user%evil@ours") counts as DUNNO, as in Postfix, so an access table listing
 * our domain cannot open a relay.
 */

import type { Call, RestrictionDef, Who } from '../context.js';
import { CLASS, DUNNO, clientWho, lookupFailure, serverError } from '../context.js';
import type { Verdict } from '../types.js';
import type { LookupTable } from '../../tables/types.js';
import { lookupAddress, lookupClient, lookupDomain, type Hit, type OrderOptions } from '../../tables/lookup-order.js';
import { stripSourceRoute } from '../../protocol/address.js';
import { accessAction } from './actions.js';
import { isRouted } from './routing.js';
import { isIP } from 'node:net';

type Kind = 'client' | 'helo' | 'sender' | 'recipient' | 'etrn';

async function exact(t: LookupTable, key: string): Promise<Hit | undefined> {
  const value = await t.lookup(key);
  return value === undefined ? undefined : { key, value };
}

/** What is looked up, and who the reply speaks about; undefined when there is nothing to look up. */
function subject(c: Call, kind: Kind): { who: Who; look: (t: LookupTable, o: OrderOptions) => Promise<Hit | undefined> } | undefined {
  const f = c.facts;
  // No parent-domain magic for numeric names (check_domain_access).
  const domainish = (name: string) => (t: LookupTable, o: OrderOptions) => (name.startsWith('[') || isIP(name) ? exact(t, name) : lookupDomain(t, name, o));
  switch (kind) {
    case 'client':
      return { who: clientWho(f), look: (t, o) => lookupClient(t, f.client, o) };
    case 'helo':
      return f.helo ? { who: { name: f.helo, cls: CLASS.helo }, look: domainish(f.helo) } : undefined;
    case 'etrn':
      return f.etrnDomain ? { who: { name: f.etrnDomain, cls: CLASS.etrn }, look: domainish(f.etrnDomain) } : undefined;
    case 'sender': {
      if (f.sender === undefined) return undefined;
      const who = { name: f.sender, cls: CLASS.sender };
      if (f.sender === '') {
        const key = c.ctx.params.str('smtpd_null_access_lookup_key');
        return { who, look: (t) => exact(t, key) };
      }
      return { who, look: (t, o) => lookupAddress(t, stripSourceRoute(f.sender!), o) };
    }
    case 'recipient':
      return f.recipient ? { who: { name: f.recipient, cls: CLASS.recipient }, look: (t, o) => lookupAddress(t, stripSourceRoute(f.recipient!), o) } : undefined;
  }
}

function accessCheck(kind: Kind): RestrictionDef {
  return {
    takesArg: true,
    fn: async (c): Promise<Verdict> => {
      const s = subject(c, kind);
      if (!s) return DUNNO;
      let table: LookupTable;
      try {
        table = c.ctx.tables.open(c.arg!);
      } catch {
        return serverError();
      }
      const opts = { delimiter: c.ctx.params.str('recipient_delimiter'), parentMatches: c.ctx.params.list('parent_domain_matches_subdomains').includes('smtpd_access_maps') };
      let hit: Hit | undefined;
      try {
        hit = await s.look(table, opts);
      } catch {
        return lookupFailure(s.who.name);
      }
      if (!hit) return DUNNO;
      const v = await accessAction(hit.value, c, s.who);
      if (v.kind === 'permit' && kind === 'recipient' && isRouted(s.who.name) && !c.ctx.params.bool('allow_untrusted_routing')) return DUNNO;
      return v;
    },
  };
}

export const accessRestrictions: Record<string, RestrictionDef> = {
  check_client_access: accessCheck('client'),
  check_helo_access: accessCheck('helo'),
  check_sender_access: accessCheck('sender'),
  check_recipient_access: accessCheck('recipient'),
  check_etrn_access: accessCheck('etrn'),
};
