/**
 * DNS lists (smtpd_check.c reject_rbl_addr, reject_rbl_domain, permit_dnswl_*):
 * reject_rbl_client (old name reject_rbl), reject_rhsbl_client, reject_rhsbl_reverse_client,
 * reject_rhsbl_helo, reject_rhsbl_sender, reject_rhsbl_recipient, permit_dnswl_client,
 * permit_rhswl_client and the obsolete reject_maps_rbl (maps_rbl_domains).
 *
 * A lookup that fails (timeout, SERVFAIL) is not a listing, as in Postfix: the restriction
 * does not match and "warning: <query>: RBL lookup error: …" names the list, unless
 * postern_rbl_tempfail_action says defer / defer_if_permit. An answer that means "the list
 * refuses your resolver" (postern_rbl_blocked_replies) is logged distinctly and is never a
 * listing. An allow-list that cannot be asked gives DEFER_IF_REJECT (Postfix). Every DNS
 * list restriction prefetches its query so one list's lookups run in parallel.
 */

import type { Call, RestrictionDef } from '../context.js';
import { CLASS, DUNNO, PERMIT, REV_CLIENT, refusalReply, serverError } from '../context.js';
import type { Verdict } from '../types.js';
import { parseBlockedCodes, parseListSpec, queryList, reversedAddress, lookupErrorText, type BlockedCode, type ListResult, type ListSpec } from '../../dns/dnsxl.js';
import { rblRefusal, type RblSubject } from './rbl-reply.js';
import { validHostname } from './names.js';
import { authorizedDestination } from './destination.js';
import type { Params } from '../../config/types.js';

type Kind = 'client' | 'rhsbl_client' | 'rhsbl_reverse_client' | 'helo' | 'sender' | 'recipient';

/** What is looked up under the list, and how replies name it; undefined when there is nothing to look up. */
function subjectOf(c: Call, kind: Kind): (RblSubject & { key: string }) | undefined {
  const f = c.facts;
  const domainOf = (a: string | undefined): string | undefined => {
    if (!a) return undefined; // no address, or the null sender
    const d = a.slice(a.lastIndexOf('@') + 1).replace(/\.$/, '').toLowerCase();
    return a.includes('@') && validHostname(d) ? d : undefined;
  };
  const hostname = (n: string | undefined): string | undefined => {
    const h = n?.replace(/\.$/, '').toLowerCase();
    return h && h !== 'unknown' && validHostname(h) ? h : undefined;
  };
  switch (kind) {
    case 'client': {
      const key = reversedAddress(f.client.addr);
      return key ? { key, cls: CLASS.client, what: f.client.addr } : undefined;
    }
    case 'rhsbl_client': {
      const h = hostname(f.client.name);
      return h ? { key: h, cls: CLASS.client, what: f.client.name } : undefined;
    }
    case 'rhsbl_reverse_client': {
      const h = hostname(f.client.reverseName);
      return h ? { key: h, cls: REV_CLIENT, what: f.client.reverseName } : undefined;
    }
    case 'helo': {
      const h = hostname(f.helo);
      return h ? { key: h, cls: CLASS.helo, what: f.helo! } : undefined;
    }
    case 'sender': {
      const d = domainOf(f.sender);
      return d ? { key: d, cls: CLASS.sender, what: f.sender! } : undefined;
    }
    case 'recipient': {
      const d = domainOf(f.recipient);
      return d ? { key: d, cls: CLASS.recipient, what: f.recipient! } : undefined;
    }
  }
}

/** Parsed blocked-reply codes per Params object (one per service and reload). */
const blockedCache = new WeakMap<Params, BlockedCode[]>();
function blockedCodes(params: Params): BlockedCode[] {
  let codes = blockedCache.get(params);
  if (!codes) blockedCache.set(params, (codes = parseBlockedCodes(params.list('postern_rbl_blocked_replies')).codes));
  return codes;
}

interface Lookup {
  readonly list: ListSpec;
  readonly subject: RblSubject & { key: string };
  readonly query: string;
}

function prepare(c: Call, kind: Kind, arg: string | undefined): Lookup | 'bad' | undefined {
  const list = parseListSpec(arg ?? '');
  if (typeof list === 'string') return 'bad';
  const subject = subjectOf(c, kind);
  return subject ? { list, subject, query: `${subject.key}.${list.domain}` } : undefined;
}

function run(c: Call, l: Lookup, txt: boolean): Promise<ListResult> {
  return queryList(c.ctx.dns, l.query, l.list, blockedCodes(c.ctx.params), { txt });
}

/** Log why a DNS list gave no answer: a lookup error, or a "your resolver is blocked" code. */
function logUnanswered(c: Call, l: Lookup, r: ListResult): void {
  if (r.kind === 'blocked') c.ctx.note('warning', `dnsblog: ${l.query}: ${l.list.domain} answered ${r.answer}: ${r.meaning}`);
  else c.ctx.note('warning', `${l.query}: RBL lookup error: ${lookupErrorText(l.query)}`);
}

/** A block list that could not give an answer: log why, then apply postern_rbl_tempfail_action. */
function unanswered(c: Call, l: Lookup, r: ListResult): Verdict {
  logUnanswered(c, l, r);
  const action = c.ctx.params.str('postern_rbl_tempfail_action').toLowerCase();
  if (action !== 'defer' && action !== 'defer_if_permit') return DUNNO;
  const reply = refusalReply(450, '4.7.1', `Service unavailable; ${l.subject.cls} [${l.subject.what}] not checked: ${l.list.domain} did not answer; try again later`);
  return action === 'defer' ? { kind: 'defer', reply } : { kind: 'defer_if_permit', reply };
}

/** Start the list's DNS query early, so the lookups of one restriction list run together. */
function prefetchList(kind: Kind): NonNullable<RestrictionDef['prefetch']> {
  return (c) => {
    const l = prepare(c, kind, c.arg);
    if (l && l !== 'bad') void c.ctx.dns.a(l.query);
  };
}

function rejectList(kind: Kind): RestrictionDef {
  return {
    takesArg: true,
    prefetch: prefetchList(kind),
    fn: async (c) => {
      const l = prepare(c, kind, c.arg);
      if (l === 'bad') return serverError(); // reported by `postern check`
      if (!l) return DUNNO;
      const r = await run(c, l, true);
      if (r.kind === 'listed') return rblRefusal(c, l.list, l.subject, r.txt);
      if (r.kind === 'clean') return DUNNO;
      return unanswered(c, l, r);
    },
  };
}

/**
 * permit_dnswl_client / permit_rhswl_client: PERMIT when listed, but never where it would
 * override reject_unauth_destination (a listed client may not relay); DEFER_IF_REJECT when
 * the allow-list cannot be asked.
 */
function permitList(kind: Kind): RestrictionDef {
  return {
    takesArg: true,
    prefetch: prefetchList(kind),
    fn: async (c) => {
      const l = prepare(c, kind, c.arg);
      if (l === 'bad') return serverError(); // reported by `postern check`
      if (!l) return DUNNO;
      const r = await run(c, l, false);
      if (r.kind === 'error' || r.kind === 'blocked') {
        logUnanswered(c, l, r);
        return { kind: 'defer_if_reject', reply: refusalReply(450, '4.7.1', `<${c.who.name}>: ${c.who.cls} rejected: Service unavailable`) };
      }
      if (r.kind !== 'listed') return DUNNO;
      if ((c.stage === 'relay' || c.stage === 'recipient') && c.facts.recipient !== undefined) {
        try {
          if (!(await authorizedDestination(c, c.facts.recipient))) return DUNNO;
        } catch {
          return DUNNO;
        }
      }
      return PERMIT;
    },
  };
}

/** reject_maps_rbl: reject_rbl_client for every domain of maps_rbl_domains, asked in parallel; the first listed one (in order) answers. */
const mapsRbl: RestrictionDef = {
  prefetch: (c) => {
    for (const d of c.ctx.params.list('maps_rbl_domains')) {
      const l = prepare(c, 'client', d);
      if (l && l !== 'bad') void c.ctx.dns.a(l.query);
    }
  },
  fn: async (c) => {
    const lookups = c.ctx.params.list('maps_rbl_domains').map((d) => prepare(c, 'client', d));
    const results = await Promise.all(lookups.map((l) => (l && l !== 'bad' ? run(c, l, true) : Promise.resolve(undefined))));
    for (let i = 0; i < lookups.length; i++) {
      const l = lookups[i];
      const r = results[i];
      if (!l || l === 'bad' || !r || r.kind === 'clean') continue;
      if (r.kind === 'listed') return rblRefusal(c, l.list, l.subject, r.txt);
      const v = unanswered(c, l, r);
      if (v.kind !== 'dunno') return v;
    }
    return DUNNO;
  },
};

export const dnsblRestrictions: Record<string, RestrictionDef> = {
  reject_rbl_client: rejectList('client'),
  reject_rbl: rejectList('client'),
  reject_rhsbl_client: rejectList('rhsbl_client'),
  reject_rhsbl_reverse_client: rejectList('rhsbl_reverse_client'),
  reject_rhsbl_helo: rejectList('helo'),
  reject_rhsbl_sender: rejectList('sender'),
  reject_rhsbl_recipient: rejectList('recipient'),
  permit_dnswl_client: permitList('client'),
  permit_rhswl_client: permitList('rhsbl_client'),
  reject_maps_rbl: mapsRbl,
};
