/**
 * Sender-specified routing in a recipient address (Postfix's RESOLVE_FLAG_ROUTED):
 * source routes "@a,@b:user@c", and local parts that still hold a routing operator after
 * unquoting — "user%evil@ours", "evil!user@ours", "\"user@evil\"@ours", "user\@evil@ours".
 * Such an address is never "ours" for relay decisions unless allow_untrusted_routing = yes
 * (defence in depth: resolve/ classifies these as foreign too). Input: untrusted client text.
 */

import { splitAddress, unquoteLocal, isDomainLiteral } from '../../protocol/address.js';

export function isRouted(address: string): boolean {
  const a = address.trim();
  if (a.startsWith('@')) return true;
  const { local, domain } = splitAddress(a);
  const l = unquoteLocal(local);
  if (/[@%!]/.test(l) || /\\[@%!]/.test(local)) return true;
  // A "domain" holding routing characters ("user@evil%ours") is not a host name at all.
  if (!isDomainLiteral(domain) && /[@%!:"\\]/.test(domain)) return true;
  return false;
}
