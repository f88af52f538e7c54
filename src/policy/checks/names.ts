/**
 * Syntax checks on the HELO name and on addresses (smtpd_check.c): reject_invalid_helo_hostname
 * (old name reject_invalid_hostname), reject_non_fqdn_helo_hostname (reject_non_fqdn_hostname),
 * reject_non_fqdn_sender, reject_non_fqdn_recipient. Host name syntax is Postfix's
 * valid_hostname(): letters, digits, "_" and inner "-", labels up to 63, 255 in all, not
 * all-numeric. Input: untrusted client text, only inspected.
 */

import type { Call, RestrictionDef } from '../context.js';
import { DUNNO, refuse } from '../context.js';
import type { Verdict } from '../types.js';
import { isIP } from 'node:net';

/** Drop one trailing dot, but not from "name.." (dup_if_truncate). */
const truncateDot = (n: string): string => (n.length > 1 && n.endsWith('.') && !n.endsWith('..') ? n.slice(0, -1) : n);

export function validHostname(name: string): boolean {
  if (!name || name.length > 255) return false;
  const labels = name.split('.');
  if (!labels.every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l))) return false;
  return /[^0-9.]/.test(name); // an all-numeric name is an address, not a host name
}

export const validHostaddr = (addr: string): boolean => isIP(addr) !== 0;

/** "[192.0.2.1]" or "[IPv6:2001:db8::1]" (valid_mailhost_addr). */
function validLiteral(helo: string): boolean {
  const inner = helo.length > 2 && helo.endsWith(']') ? helo.slice(1, -1) : helo;
  if (/^IPv6:/i.test(inner)) return isIP(inner.slice(5)) === 6;
  return validHostaddr(inner);
}

function invalidHostaddr(c: Call, helo: string): Verdict {
  return validLiteral(helo) ? DUNNO : refuse(c.ctx.params.int('invalid_hostname_reject_code'), '5.5.2', { name: helo, cls: 'Helo command' }, 'invalid ip address');
}

const heloInvalid: RestrictionDef = {
  fn: async (c) => {
    const h = c.facts.helo;
    if (h === undefined) return DUNNO;
    if (h.startsWith('[')) return invalidHostaddr(c, h);
    const t = truncateDot(h);
    if (validHostname(t) || validHostaddr(t)) return DUNNO;
    return refuse(c.ctx.params.int('invalid_hostname_reject_code'), '5.5.2', { name: h, cls: 'Helo command' }, 'Invalid name');
  },
};

const heloNonFqdn: RestrictionDef = {
  fn: async (c) => {
    const h = c.facts.helo;
    if (h === undefined) return DUNNO;
    if (h.startsWith('[')) return invalidHostaddr(c, h);
    const t = truncateDot(h);
    if (validHostname(t) && t.includes('.')) return DUNNO;
    return refuse(c.ctx.params.int('non_fqdn_reject_code'), '5.5.2', { name: h, cls: 'Helo command' }, 'need fully-qualified hostname');
  },
};

/** reject_non_fqdn_address(): the part after the last "@" must be a dotted host name or a [literal]. */
function nonFqdnAddress(which: 'sender' | 'recipient'): RestrictionDef {
  return {
    fn: async (c) => {
      const a = which === 'sender' ? c.facts.sender : c.facts.recipient;
      if (!a) return DUNNO; // the null sender is fine
      const at = a.lastIndexOf('@');
      const domain = at >= 0 ? a.slice(at + 1) : '';
      if (domain.startsWith('[') && domain.endsWith(']')) return DUNNO;
      const t = truncateDot(domain);
      if (t && validHostname(t) && t.includes('.')) return DUNNO;
      const cls = which === 'sender' ? 'Sender address' : 'Recipient address';
      return refuse(c.ctx.params.int('non_fqdn_reject_code'), '4.5.2', { name: a, cls }, 'need fully-qualified address');
    },
  };
}

export const nameRestrictions: Record<string, RestrictionDef> = {
  reject_invalid_helo_hostname: heloInvalid,
  reject_invalid_hostname: heloInvalid,
  reject_non_fqdn_helo_hostname: heloNonFqdn,
  reject_non_fqdn_hostname: heloNonFqdn,
  reject_non_fqdn_sender: nonFqdnAddress('sender'),
  reject_non_fqdn_recipient: nonFqdnAddress('recipient'),
};
