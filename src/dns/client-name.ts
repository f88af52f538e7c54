/**
 * The client's name, as Postfix determines it: PTR lookup, then a forward lookup of that
 * name that must return the client address ("verified"). Otherwise the name is "unknown";
 * a temporary DNS failure is remembered so reject_unknown_client_hostname can answer 4xx.
 * The PTR result alone is kept as reverseName/reverseStatus (the unverified name).
 */

import type { Dns } from './types.js';
import type { ClientInfo } from '../policy/types.js';
import { normalizeAddr } from '../policy/networks.js';
import { isIPv6 } from 'node:net';

export async function lookupClientInfo(dns: Dns, rawAddr: string, port: number, opts: { peernameLookup: boolean }): Promise<ClientInfo> {
  const addr = normalizeAddr(rawAddr);
  const unknown = (status: ClientInfo['nameStatus'], reverseName = 'unknown'): ClientInfo =>
    ({ addr, port, name: 'unknown', reverseName, nameStatus: status, reverseStatus: reverseName !== 'unknown' ? 'ok' : status });
  if (!opts.peernameLookup) return unknown('unknown');
  const ptr = await dns.ptr(addr);
  if (ptr.kind === 'tempfail') return unknown('tempfail');
  if (ptr.kind !== 'records') return unknown('unknown');
  const names = ptr.records.map((n) => n.replace(/\.$/, '').toLowerCase());
  for (const name of names) {
    const fwd = isIPv6(addr) ? await dns.aaaa(name) : await dns.a(name);
    if (fwd.kind === 'tempfail') return unknown('tempfail', names[0]);
    if (fwd.kind === 'records' && fwd.records.some((a) => a.toLowerCase() === addr.toLowerCase())) {
      return { addr, port, name, reverseName: name, nameStatus: 'ok', reverseStatus: 'ok' };
    }
  }
  return unknown('unknown', names[0]);
}
