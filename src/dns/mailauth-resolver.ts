/**
 * The resolver function mailauth takes (shaped like dns.promises.resolve(name, rrtype)),
 * built on Postern's Dns so every SPF/DKIM/DMARC/ARC query goes through dns/ (its servers,
 * timeouts and cache; the local test server in tests). Errors carry the codes mailauth reads:
 * ENOTFOUND (NXDOMAIN), ENODATA (no record of that type), ETIMEOUT (temporary failure:
 * SPF/DKIM "temperror"). TXT records come back as one chunk each (already joined).
 */

import type { Dns, DnsResult } from './types.js';
import { isIP } from 'node:net';

export type MailauthResolver = (name: string, rrtype: string) => Promise<unknown[]>;

function fail(code: string, name: string, rrtype: string, why = ''): never {
  const err = new Error(`${rrtype} ${name}: ${code}${why ? ` (${why})` : ''}`) as Error & { code: string };
  err.code = code;
  throw err;
}

function records<T>(r: DnsResult<T>, name: string, rrtype: string): readonly T[] {
  switch (r.kind) {
    case 'records': return r.records;
    case 'nxdomain': return fail('ENOTFOUND', name, rrtype);
    case 'nodata': return fail('ENODATA', name, rrtype);
    case 'tempfail': return fail('ETIMEOUT', name, rrtype, r.reason);
  }
}

/** "7.2.0.192.in-addr.arpa" / nibble ip6.arpa → the address, or undefined. */
export function addressOfReverseName(name: string): string | undefined {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n.endsWith('.in-addr.arpa')) {
    const ip = n.slice(0, -'.in-addr.arpa'.length).split('.').reverse().join('.');
    return isIP(ip) === 4 ? ip : undefined;
  }
  if (n.endsWith('.ip6.arpa')) {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.').reverse();
    if (nibbles.length !== 32) return undefined;
    const groups = [];
    for (let i = 0; i < 32; i += 4) groups.push(nibbles.slice(i, i + 4).join(''));
    const ip = groups.join(':');
    return isIP(ip) === 6 ? ip : undefined;
  }
  return undefined;
}

export function mailauthResolver(dns: Dns): MailauthResolver {
  return async (name, rrtype) => {
    switch (rrtype.toUpperCase()) {
      case 'TXT': return records(await dns.txt(name), name, rrtype).map((t) => [t]);
      case 'A': return [...records(await dns.a(name), name, rrtype)];
      case 'AAAA': return [...records(await dns.aaaa(name), name, rrtype)];
      case 'MX': return records(await dns.mx(name), name, rrtype).map((m) => ({ exchange: m.exchange, priority: m.priority }));
      case 'PTR': {
        const ip = addressOfReverseName(name);
        if (!ip) return fail('ENOTFOUND', name, rrtype);
        return [...records(await dns.ptr(ip), name, rrtype)];
      }
      default: return fail('ENODATA', name, rrtype, 'record type not asked by Postern');
    }
  };
}
