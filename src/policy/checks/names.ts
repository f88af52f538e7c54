/** Syntax checks on HELO names and addresses: reject_non_fqdn_*, reject_invalid_helo_hostname. */

import type { RestrictionDef } from '../context.js';
import { DUNNO, refusal } from '../context.js';
import { isFqdn, splitAddress, isDomainLiteral } from '../../protocol/address.js';
import { isIP } from 'node:net';

/** A HELO argument Postfix accepts as a name: hostname syntax or an address literal. */
export function validHeloName(helo: string): boolean {
  if (isDomainLiteral(helo)) return isIP(helo.slice(1, -1).replace(/^IPv6:/i, '')) !== 0;
  if (helo.length > 255) return false;
  const h = helo.endsWith('.') ? helo.slice(0, -1) : helo;
  return h.length > 0 && h.split('.').every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

const heloNonFqdn: RestrictionDef = {
  fn: async (f, _s, ctx) => {
    const h = f.helo;
    if (!h || isDomainLiteral(h) || isFqdn(h)) return DUNNO;
    return { kind: 'reject', reply: refusal(ctx.params.int('non_fqdn_reject_code'), '5.5.2', h, 'Helo command rejected', 'need fully-qualified hostname') };
  },
};

const heloInvalid: RestrictionDef = {
  fn: async (f, _s, ctx) => {
    const h = f.helo;
    if (h === undefined || validHeloName(h)) return DUNNO;
    return { kind: 'reject', reply: refusal(ctx.params.int('invalid_hostname_reject_code'), '5.5.2', h, 'Helo command rejected', 'Invalid name') };
  },
};

function nonFqdnAddress(which: 'sender' | 'recipient'): RestrictionDef {
  return {
    fn: async (f, _s, ctx) => {
      const a = which === 'sender' ? f.sender : f.recipient;
      if (!a) return DUNNO; // the null sender is fine
      const { domain } = splitAddress(a);
      if (domain && (isDomainLiteral(domain) || isFqdn(domain))) return DUNNO;
      const what = which === 'sender' ? 'Sender address rejected' : 'Recipient address rejected';
      return { kind: 'reject', reply: refusal(ctx.params.int('non_fqdn_reject_code'), '5.5.2', a, what, 'need fully-qualified address') };
    },
  };
}

export const nameRestrictions: Record<string, RestrictionDef> = {
  reject_non_fqdn_helo_hostname: heloNonFqdn,
  reject_non_fqdn_hostname: heloNonFqdn,
  reject_invalid_helo_hostname: heloInvalid,
  reject_invalid_hostname: heloInvalid,
  reject_non_fqdn_sender: nonFqdnAddress('sender'),
  reject_non_fqdn_recipient: nonFqdnAddress('recipient'),
};
