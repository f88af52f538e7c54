/**
 * Routing: which master.cf transport and next hop a recipient goes to (the part of Postfix's
 * trivial-rewrite(8) that answers "transport:nexthop"). Inputs are the admin's parameters and
 * tables (trusted) and a recipient address whose class resolver.ts already decided.
 *
 * Order (transport(5), postconf(5)):
 *  1. transport_maps, searched with user+ext@domain, user@domain, domain, .parent… (or
 *     parent… with parent_domain_matches_subdomains = transport_maps), then "*"; pattern
 *     tables get the whole address. A result is "transport:nexthop"; an empty transport or
 *     nexthop keeps the default for that field, so ":[gw]" only changes the next hop.
 *  2. by class: local → local_transport (nexthop: its own, else $myhostname); virtual mailbox
 *     → virtual_transport; relay → relay_transport; default → default_transport.
 *  3. the next hop, in decreasing precedence: the transport's own nexthop ("smtp:[gw]"),
 *     sender_dependent_relayhost_maps, relayhost (off-host classes only), the recipient domain.
 * A transport name must be a master.cf service or a built-in one (BUILTIN_TRANSPORTS).
 */

import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { LookupTable } from '../tables/types.js';
import { lookupAddress } from '../tables/lookup-order.js';
import { splitAddress, normalizeDomain } from '../protocol/address.js';
import type { AddressClassName } from './types.js';

export interface Route {
  readonly transport: string;
  readonly nexthop: string;
}

/** "lmtp:unix:private/dovecot-lmtp" → { transport: "lmtp", nexthop: "unix:private/dovecot-lmtp" }. */
export function splitTransport(value: string): Route {
  const v = value.trim();
  const colon = v.indexOf(':');
  if (colon < 0) return { transport: v, nexthop: '' };
  return { transport: v.slice(0, colon), nexthop: v.slice(colon + 1) };
}

/** Built-in transports and the delivery agent (master.cf command) each stands for. */
export const BUILTIN_TRANSPORT_COMMANDS: Readonly<Record<string, string>> = {
  smtp: 'smtp', relay: 'smtp', lmtp: 'lmtp', local: 'local', virtual: 'virtual', discard: 'discard', error: 'error', retry: 'error',
};

export interface Router {
  /** The route for `address` of class `className`; `sender` picks sender_dependent_relayhost_maps. Lookup failures throw (callers defer). */
  route(address: string, className: AddressClassName, sender?: string): Promise<Route>;
  /** The transport local(8) hands a user's mailbox to (mailbox_transport), if any. */
  readonly mailboxTransport: Route | undefined;
  /** The transport local(8) hands unknown users to (fallback_transport), if any. */
  readonly fallbackTransport: Route | undefined;
}

export function createRouter(params: Params, tables: TableRegistry): Router {
  const open = (spec: string): LookupTable => tables.open(spec);
  const transportMaps = params.list('transport_maps').map(open);
  const senderRelayMaps = params.list('sender_dependent_relayhost_maps').map(open);
  const parentMatches = params.list('parent_domain_matches_subdomains').includes('transport_maps');
  const relayhost = params.str('relayhost');
  const myhostname = params.str('myhostname');
  const byClass: Record<AddressClassName, Route> = {
    local: splitTransport(params.str('local_transport')),
    virtual_alias: splitTransport(params.str('virtual_transport')),
    virtual_mailbox: splitTransport(params.str('virtual_transport')),
    relay: splitTransport(params.str('relay_transport')),
    default: splitTransport(params.str('default_transport')),
  };
  const optional = (name: string): Route | undefined => (params.str(name) ? splitTransport(params.str(name)) : undefined);

  async function fromTransportMaps(address: string): Promise<Route | undefined> {
    for (const t of transportMaps) {
      const hit = await lookupAddress(t, address, { delimiter: params.str('recipient_delimiter'), parentMatches });
      // lookupAddress also tries "user@"; transport(5) has no such key, so ignore that form.
      if (hit && !hit.key.endsWith('@')) return splitTransport(hit.value);
      if (t.kind === 'exact') {
        const star = await t.lookup('*');
        if (star !== undefined) return splitTransport(star);
      }
    }
    return undefined;
  }

  async function senderRelayhost(sender: string | undefined): Promise<string | undefined> {
    if (!sender || senderRelayMaps.length === 0) return undefined;
    // postconf(5): the sender address, then @domain (and "<>" for the null sender).
    const { domain } = splitAddress(sender);
    for (const t of senderRelayMaps) {
      const keys = t.kind === 'exact' ? [sender.toLowerCase(), `@${normalizeDomain(domain)}`] : [sender];
      for (const key of keys) {
        const value = await t.lookup(key);
        if (value !== undefined) return value.trim();
      }
    }
    return undefined;
  }

  return {
    mailboxTransport: optional('mailbox_transport'),
    fallbackTransport: optional('fallback_transport'),
    async route(address, className, sender) {
      const domain = normalizeDomain(splitAddress(address).domain);
      const base = byClass[className];
      const mapped = await fromTransportMaps(address);
      const transport = mapped?.transport || base.transport;
      if (mapped?.nexthop) return { transport, nexthop: mapped.nexthop };
      if (base.nexthop && (!mapped?.transport || mapped.transport === base.transport)) return { transport, nexthop: base.nexthop };
      if (className === 'relay' || className === 'default') {
        const viaSender = await senderRelayhost(sender);
        if (viaSender) return { transport, nexthop: viaSender };
        if (relayhost) return { transport, nexthop: relayhost };
      }
      return { transport, nexthop: className === 'local' ? myhostname : domain };
    },
  };
}
