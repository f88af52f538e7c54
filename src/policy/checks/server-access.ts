/**
 * Access tables keyed by DNS data (smtpd_check.c check_server_access): check_{client,
 * reverse_client_hostname,helo,sender,recipient}_{mx,ns,a}_access look up the MX hosts,
 * the name servers or the addresses of a name — each host by its name and parent domains,
 * then by its addresses and their networks — and act on the first hit. A name without MX is
 * its own mail host; a name without NS is looked up again one label shorter. An OK result
 * is refused (DUNNO plus a warning): these tables are meant for deny lists.
 * Also check_reverse_client_hostname_access: the client table keyed by the unverified
 * reverse name. Input: untrusted names, looked up through dns/; admin-written tables.
 */

import type { Call, RestrictionDef, Who } from '../context.js';
import { CLASS, DUNNO, REV_CLIENT, clientWho, lookupFailure, serverError } from '../context.js';
import type { Verdict } from '../types.js';
import type { LookupTable } from '../../tables/types.js';
import { addressKeys, lookupClient, lookupDomain, type Hit } from '../../tables/lookup-order.js';
import { isDomainLiteral, splitAddress } from '../../protocol/address.js';
import { accessAction } from './actions.js';

type Subject = 'client' | 'reverse_client_hostname' | 'helo' | 'sender' | 'recipient';
type Server = 'mx' | 'ns' | 'a';

/** The name whose servers are looked up, and who replies speak about. */
function subjectOf(c: Call, s: Subject): { name: string; who: Who } | undefined {
  const f = c.facts;
  const known = (n: string | undefined): string | undefined => (n && n !== 'unknown' ? n.replace(/\.$/, '').toLowerCase() : undefined);
  const domain = (a: string | undefined): string | undefined => {
    if (!a || !a.includes('@')) return undefined;
    const d = splitAddress(a).domain;
    return d && !isDomainLiteral(d) ? d.replace(/\.$/, '').toLowerCase() : undefined;
  };
  const named = (name: string | undefined, who: Who) => (name ? { name, who } : undefined);
  switch (s) {
    case 'client':
      return named(known(f.client.name), clientWho(f));
    case 'reverse_client_hostname':
      return named(known(f.client.reverseName), { name: clientWho(f).name, cls: REV_CLIENT });
    case 'helo':
      return f.helo && !f.helo.startsWith('[') ? named(known(f.helo), { name: f.helo, cls: CLASS.helo }) : undefined;
    case 'sender':
      return named(domain(f.sender), { name: f.sender ?? '', cls: CLASS.sender });
    case 'recipient':
      return named(domain(f.recipient), { name: f.recipient ?? '', cls: CLASS.recipient });
  }
}

/** The server host names for `name` (MX hosts, NS hosts, or the name itself for A). */
async function serverNames(c: Call, type: Server, name: string): Promise<string[] | undefined> {
  if (type === 'a') return [name];
  if (type === 'mx') {
    const r = await c.ctx.dns.mx(name);
    if (r.kind === 'records') return r.records.map((m) => m.exchange).filter((h) => h !== '' && h !== '.'); // a null MX has no hosts
    if (r.kind === 'nodata' || r.kind === 'nxdomain') return [name];
    c.ctx.note('warning', `Unable to look up MX host for ${name}: ${r.reason}`);
    return undefined;
  }
  let domain = name;
  for (;;) {
    const r = await c.ctx.dns.ns(domain);
    if (r.kind === 'records') return [...r.records];
    if (r.kind === 'tempfail') {
      c.ctx.note('warning', `Unable to look up NS host for ${domain}: ${r.reason}`);
      return undefined;
    }
    const dot = domain.indexOf('.');
    if (dot < 0 || dot === domain.length - 1) return [];
    domain = domain.slice(dot + 1);
  }
}

async function addresses(c: Call, host: string): Promise<string[]> {
  const [a, aaaa] = await Promise.all([c.ctx.dns.a(host), c.ctx.dns.aaaa(host)]);
  const out = [...(a.kind === 'records' ? a.records : []), ...(aaaa.kind === 'records' ? aaaa.records : [])];
  if (out.length === 0 && (a.kind === 'tempfail' || aaaa.kind === 'tempfail')) c.ctx.note('warning', `Unable to look up host ${host}: temporary DNS failure`);
  return out;
}

async function addressHit(t: LookupTable, addr: string): Promise<Hit | undefined> {
  const keys = t.kind === 'exact' ? addressKeys(addr) : [addr];
  for (const key of keys) {
    const value = await t.lookup(key);
    if (value !== undefined) return { key, value };
  }
  return undefined;
}

/** Postfix refuses OK from these tables: it would whitelist everyone who shares a mail host. */
async function act(c: Call, hit: Hit, who: Who, restriction: string, what: string): Promise<Verdict> {
  const v = await accessAction(hit.value, c, who);
  if (v.kind !== 'permit') return v;
  c.ctx.note('warning', `restriction ${restriction} returns OK for ${what}; this is not allowed for security reasons; use DUNNO instead of OK if you want to make an exception`);
  return DUNNO;
}

function serverAccess(s: Subject, type: Server): RestrictionDef {
  const restriction = `check_${s}_${type}_access`;
  return {
    takesArg: true,
    fn: async (c) => {
      const subject = subjectOf(c, s);
      if (!subject) return DUNNO;
      let table: LookupTable;
      try {
        table = c.ctx.tables.open(c.arg!);
      } catch {
        return serverError();
      }
      const opts = { delimiter: '', parentMatches: c.ctx.params.list('parent_domain_matches_subdomains').includes('smtpd_access_maps') };
      const hosts = await serverNames(c, type, subject.name);
      if (!hosts) return DUNNO;
      try {
        for (const host of hosts) {
          const h = host.replace(/\.$/, '').toLowerCase();
          const byName = await lookupDomain(table, h, opts);
          if (byName) return act(c, byName, subject.who, restriction, h);
          for (const addr of await addresses(c, h)) {
            const byAddr = await addressHit(table, addr);
            if (byAddr) return act(c, byAddr, subject.who, restriction, addr);
          }
        }
      } catch {
        return lookupFailure(subject.who.name);
      }
      return DUNNO;
    },
  };
}

const reverseClientAccess: RestrictionDef = {
  takesArg: true,
  fn: async (c) => {
    const f = c.facts;
    const who = { name: clientWho(f).name, cls: REV_CLIENT };
    let table: LookupTable;
    try {
      table = c.ctx.tables.open(c.arg!);
    } catch {
      return serverError();
    }
    let hit: Hit | undefined;
    try {
      hit = await lookupClient(table, { name: f.client.reverseName, addr: f.client.addr }, { delimiter: '', parentMatches: c.ctx.params.list('parent_domain_matches_subdomains').includes('smtpd_access_maps') });
    } catch {
      return lookupFailure(who.name);
    }
    if (!hit) return DUNNO;
    return act(c, hit, who, 'check_reverse_client_hostname_access', f.client.reverseName);
  },
};

const SUBJECTS = ['client', 'reverse_client_hostname', 'helo', 'sender', 'recipient'] as const;
const SERVERS = ['mx', 'ns', 'a'] as const;

export const serverAccessRestrictions: Record<string, RestrictionDef> = {
  check_reverse_client_hostname_access: reverseClientAccess,
  ...Object.fromEntries(SUBJECTS.flatMap((s) => SERVERS.map((t) => [`check_${s}_${t}_access`, serverAccess(s, t)]))),
};
