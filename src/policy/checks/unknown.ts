/**
 * DNS existence checks (smtpd_check.c reject_unknown_client, reject_unknown_reverse_name,
 * reject_unknown_hostname, reject_unknown_mailhost), with Postfix's codes and texts:
 * - reject_unknown_client_hostname (old name reject_unknown_client): no PTR, or the PTR name
 *   does not forward-confirm → unknown_client_reject_code 4.7.25 "Client host rejected:
 *   cannot find your hostname, [addr]"; always 450 when a lookup failed temporarily.
 * - reject_unknown_reverse_client_hostname: no PTR at all (same code and rule).
 * - reject_unknown_helo_hostname (old name reject_unknown_hostname): no A, AAAA or MX →
 *   unknown_hostname_reject_code "Host not found"; a temporary failure follows
 *   unknown_helo_hostname_tempfail_action (defer_if_permit or defer, 450).
 * - reject_unknown_sender_domain / reject_unknown_recipient_domain: no MX, A or AAAA for a
 *   domain we are not final destination for → unknown_address_reject_code "Domain not
 *   found"; a null MX (RFC 7505) → 550 5.7.27 / 556 5.1.10 "Domain … does not accept mail
 *   (nullMX)"; a temporary failure follows unknown_address_tempfail_action.
 * - reject_unknown_address (Postern): the recipient's domain at RCPT, else the sender's.
 * Input: untrusted names, only looked up through dns/.
 */

import type { Call, RestrictionDef, Who } from '../context.js';
import { CLASS, DUNNO, asVerdict, refuse, refusalReply } from '../context.js';
import type { Verdict } from '../types.js';
import type { DnsResult } from '../../dns/types.js';
import { isDomainLiteral, splitAddress } from '../../protocol/address.js';
import { lookupErrorText } from '../../dns/dnsxl.js';

/** The class digit of the enhanced code follows the reply code (smtpd_check_reject()). */
const fixClass = (code: number, dsn: string): string => `${String(code)[0]}${dsn.slice(1)}`;

function clientCheck(which: 'name' | 'reverse'): RestrictionDef {
  return {
    fn: async (c) => {
      const cl = c.facts.client;
      const status = which === 'name' ? cl.nameStatus : (cl.reverseStatus ?? (cl.reverseName !== 'unknown' ? 'ok' : cl.nameStatus));
      if (status === 'ok') return DUNNO;
      const code = status === 'tempfail' ? 450 : c.ctx.params.int('unknown_client_reject_code');
      const text = `Client host rejected: cannot find your ${which === 'name' ? 'hostname' : 'reverse hostname'}, [${cl.addr}]`;
      return asVerdict(refusalReply(code, fixClass(code, '4.7.25'), text));
    },
  };
}

/** DEFER_IF_PERMIT2(): a temporary failure either defers now or only if the request would be accepted. */
function tempfail(c: Call, param: string, dsn: string, who: Who, text: string): Verdict {
  const reply = refusalReply(450, dsn, `<${who.name}>: ${who.cls} rejected: ${text}`);
  return c.ctx.params.str(param).toLowerCase() === 'defer' ? { kind: 'defer', reply } : { kind: 'defer_if_permit', reply };
}

type Outcome = 'found' | 'notfound' | 'tempfail' | 'nullmx' | 'malformed';

const classify = (r: DnsResult<unknown>): 'records' | 'none' | 'tempfail' => (r.kind === 'records' ? 'records' : r.kind === 'tempfail' ? 'tempfail' : 'none');

/** A, AAAA or MX, asked together: any record is enough. */
async function hostExists(c: Call, name: string): Promise<Outcome> {
  const results = await Promise.all([c.ctx.dns.a(name), c.ctx.dns.aaaa(name), c.ctx.dns.mx(name)]);
  const kinds = results.map(classify);
  if (kinds.includes('records')) return 'found';
  return kinds.includes('tempfail') ? 'tempfail' : 'notfound';
}

/** MX first (a null MX or a malformed MX set decides), then A and AAAA. */
async function mailhostExists(c: Call, domain: string): Promise<Outcome> {
  const mx = await c.ctx.dns.mx(domain);
  if (mx.kind === 'records') {
    const empty = mx.records.filter((r) => r.exchange === '' || r.exchange === '.');
    if (empty.length === 0) return 'found';
    return mx.records.length === 1 ? 'nullmx' : 'malformed';
  }
  if (mx.kind === 'nxdomain') return 'notfound';
  const [a, aaaa] = await Promise.all([c.ctx.dns.a(domain), c.ctx.dns.aaaa(domain)]);
  const kinds = [classify(mx), classify(a), classify(aaaa)];
  if (kinds.includes('records')) return 'found';
  return kinds.includes('tempfail') ? 'tempfail' : 'notfound';
}

const unknownHelo: RestrictionDef = {
  fn: async (c) => {
    const helo = c.facts.helo;
    if (!helo || helo.startsWith('[')) return DUNNO; // no HELO, or an address literal
    const name = helo.replace(/\.$/, '');
    const who = { name: helo, cls: CLASS.helo };
    const r = await hostExists(c, name);
    if (r === 'found') return DUNNO;
    if (r === 'tempfail') {
      c.ctx.note('warning', `${name}: address or MX lookup error: ${lookupErrorText(name)}`);
      return tempfail(c, 'unknown_helo_hostname_tempfail_action', '4.7.1', who, 'Host not found');
    }
    const code = c.ctx.params.int('unknown_hostname_reject_code');
    return refuse(code, fixClass(code, '4.7.1'), who, 'Host not found');
  },
};

/** reject_unknown_address(): skipped for the null sender, address literals and our own domains. */
async function unknownAddress(c: Call, address: string | undefined, cls: string): Promise<Verdict> {
  if (!address || !address.includes('@')) return DUNNO;
  const { domain } = splitAddress(address);
  const d = domain.replace(/\.$/, '').toLowerCase();
  if (!d || isDomainLiteral(domain)) return DUNNO;
  try {
    if ((await c.ctx.resolver.classify(address)).isFinal) return DUNNO;
  } catch {
    // Our own tables failed: judge the domain by DNS like any other.
  }
  const sender = cls === CLASS.sender;
  const who = { name: address, cls };
  const dsn = sender ? '4.1.8' : '4.1.2';
  const r = await mailhostExists(c, d);
  switch (r) {
    case 'found':
      return DUNNO;
    case 'nullmx': {
      const code = sender ? 550 : 556;
      return refuse(code, fixClass(code, sender ? '4.7.27' : '4.1.10'), who, `Domain ${d} does not accept mail (nullMX)`);
    }
    case 'tempfail':
      c.ctx.note('warning', `${d}: MX or address lookup error: ${lookupErrorText(d, 'MX')}`);
      return tempfail(c, 'unknown_address_tempfail_action', dsn, who, 'Domain not found');
    case 'malformed':
    case 'notfound': {
      const code = c.ctx.params.int('unknown_address_reject_code');
      return refuse(code, fixClass(code, dsn), who, r === 'malformed' ? 'Malformed DNS server reply' : 'Domain not found');
    }
  }
}

export const unknownRestrictions: Record<string, RestrictionDef> = {
  reject_unknown_client_hostname: clientCheck('name'),
  reject_unknown_client: clientCheck('name'),
  reject_unknown_reverse_client_hostname: clientCheck('reverse'),
  reject_unknown_helo_hostname: unknownHelo,
  reject_unknown_hostname: unknownHelo,
  reject_unknown_sender_domain: { fn: (c) => unknownAddress(c, c.facts.sender, CLASS.sender) },
  reject_unknown_recipient_domain: { fn: (c) => unknownAddress(c, c.facts.recipient, CLASS.recipient) },
  reject_unknown_address: {
    fn: (c) => (c.facts.recipient !== undefined ? unknownAddress(c, c.facts.recipient, CLASS.recipient) : unknownAddress(c, c.facts.sender, CLASS.sender)),
  },
};
