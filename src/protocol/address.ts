/**
 * Mailbox address pieces (RFC 5321 §4.1.2): split local part from domain, strip source
 * routes, normalise domains. Shared by session/ (syntax), policy/ (relay checks) and
 * resolve/ (address classes). Input is untrusted client text; nothing here throws.
 */

export interface AddressParts {
  /** Local part as written (quotes kept). */
  readonly local: string;
  /** Domain as written after the last unquoted '@' ("" when there is none). */
  readonly domain: string;
}

/** Split at the last '@' that is not inside a quoted string or escaped. */
export function splitAddress(address: string): AddressParts {
  let inQuote = false;
  let at = -1;
  for (let i = 0; i < address.length; i++) {
    const ch = address[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '"') inQuote = !inQuote;
    else if (ch === '@' && !inQuote) at = i;
  }
  if (at < 0) return { local: address, domain: '' };
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/** Lower-case and drop one trailing dot: "Example.COM." → "example.com". */
export function normalizeDomain(domain: string): string {
  let d = domain.toLowerCase();
  if (d.endsWith('.')) d = d.slice(0, -1);
  return d;
}

/** "@a.example,@b.example:user@c.example" → "user@c.example" (RFC 5321 §4.1.2 source route). */
export function stripSourceRoute(address: string): string {
  const m = /^@[^:]*:(.*)$/s.exec(address);
  return m ? (m[1] ?? '') : address;
}

/** Remove surrounding quotes and backslash escapes from a quoted local part. */
export function unquoteLocal(local: string): string {
  if (local.length >= 2 && local.startsWith('"') && local.endsWith('"')) {
    return local.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return local;
}

/** True for "[192.0.2.1]" or "[IPv6:…]" domain literals. */
export function isDomainLiteral(domain: string): boolean {
  return domain.startsWith('[') && domain.endsWith(']');
}

/** A syntactically plausible FQDN: at least two labels, letters/digits/hyphens (or UTF-8). */
export function isFqdn(domain: string): boolean {
  const d = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  if (!d.includes('.')) return false;
  return d.split('.').every((label) => label.length > 0 && label.length <= 63 && /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u.test(label));
}
