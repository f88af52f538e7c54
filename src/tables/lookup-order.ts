/**
 * Postfix's search order for access-style lookups (access(5): EMAIL ADDRESS PATTERNS,
 * DOMAIN NAME PATTERNS, HOST NAME/ADDRESS PATTERNS). Exact tables are asked once per
 * candidate key in order; pattern tables once with the whole string; cidr tables with the
 * address.
 */

import type { LookupTable } from './types.js';
import { splitAddress, normalizeDomain } from '../protocol/address.js';
import { ipBytes } from '../policy/networks.js';

export interface OrderOptions {
  /** recipient_delimiter characters ("" for none). */
  delimiter: string;
  /** Whether "example.com" also matches "sub.example.com" (parent_domain_matches_subdomains). */
  parentMatches: boolean;
}

export interface Hit {
  readonly key: string;
  readonly value: string;
}

async function first(table: LookupTable, keys: string[]): Promise<Hit | undefined> {
  for (const key of keys) {
    const value = await table.lookup(key);
    if (value !== undefined) return { key, value };
  }
  return undefined;
}

/** "a.b.example.com" → ["a.b.example.com", then parents per parentMatches]. */
export function domainKeys(domain: string, parentMatches: boolean): string[] {
  const d = normalizeDomain(domain);
  const keys = [d];
  const labels = d.split('.');
  for (let i = 1; i < labels.length; i++) {
    const parent = labels.slice(i).join('.');
    keys.push(parentMatches ? parent : '.' + parent);
  }
  return keys;
}

function stripExtension(local: string, delimiter: string): string | undefined {
  if (!delimiter) return undefined;
  for (let i = 0; i < local.length; i++) {
    if (delimiter.includes(local[i]!) && i > 0) return local.slice(0, i);
  }
  return undefined;
}

export async function lookupAddress(table: LookupTable, address: string, opts: OrderOptions): Promise<Hit | undefined> {
  if (table.kind !== 'exact') return first(table, [address]);
  if (address === '' || address === '<>') return first(table, ['<>']);
  const { local, domain } = splitAddress(address);
  const lc = local.toLowerCase();
  const base = stripExtension(lc, opts.delimiter);
  const keys: string[] = [];
  if (domain) {
    const d = normalizeDomain(domain);
    keys.push(`${lc}@${d}`);
    if (base) keys.push(`${base}@${d}`);
    keys.push(...domainKeys(d, opts.parentMatches));
  }
  keys.push(`${lc}@`);
  if (base) keys.push(`${base}@`);
  return first(table, keys);
}

export async function lookupDomain(table: LookupTable, domain: string, opts: OrderOptions): Promise<Hit | undefined> {
  if (table.kind !== 'exact') return first(table, [domain]);
  return first(table, domainKeys(domain, opts.parentMatches));
}

/** Client lookups: host name and its parents, then the address and its network prefixes. */
export async function lookupClient(table: LookupTable, client: { name: string; addr: string }, opts: OrderOptions): Promise<Hit | undefined> {
  if (table.kind === 'cidr') return first(table, [client.addr]);
  if (table.kind === 'pattern') {
    const keys = client.name && client.name !== 'unknown' ? [client.name, client.addr] : [client.addr];
    return first(table, keys);
  }
  const keys: string[] = [];
  if (client.name && client.name !== 'unknown') keys.push(...domainKeys(client.name, opts.parentMatches));
  keys.push(...addressKeys(client.addr));
  return first(table, keys);
}

/** "1.2.3.4" → 1.2.3.4, 1.2.3, 1.2, 1; IPv6 "2001:db8::1" → the address, then shorter colon-prefixes. */
export function addressKeys(addr: string): string[] {
  const ip = ipBytes(addr);
  if (!ip) return [addr];
  if (ip.family === 4) {
    const parts = [...ip.bytes].map(String); // also for a mapped client written in hex
    return [4, 3, 2, 1].map((n) => parts.slice(0, n).join('.'));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i]! << 8) | ip.bytes[i + 1]!).toString(16));
  const keys = [addr.toLowerCase()];
  for (let n = 7; n >= 1; n--) keys.push(groups.slice(0, n).join(':'));
  return [...new Set(keys)];
}
