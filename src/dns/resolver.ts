/**
 * The one module that sends DNS queries. Node's c-ares Resolver with explicit timeout and
 * tries (the defaults stall 22 s on a dead server), typed results, and a small TTL cache
 * (c-ares caches nothing). Node reports TTLs only for A/AAAA; PTR, MX and TXT answers are
 * cached for a fixed 60 s (XXX: exact TTLs would need our own packet client). Negative
 * answers are cached for 60 s; temporary failures are never cached. A query already in
 * flight is shared, so restrictions that prefetch their lookups in parallel (DNS lists)
 * and the restriction that later needs the answer cost one query, not two.
 */

import { Resolver } from 'node:dns/promises';
import type { Dns, DnsResult, MxRecord } from './types.js';
import type { Params } from '../config/types.js';
import { ipBytes } from '../policy/networks.js';

export interface DnsOptions {
  servers?: string[];
  timeoutMs: number;
  tries: number;
  cacheMax?: number;
  now?: () => number;
}

const FIXED_TTL = 60;
const NEGATIVE_TTL = 60;

function classify<T>(err: unknown): DnsResult<T> {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'ENOTFOUND') return { kind: 'nxdomain' };
  if (code === 'ENODATA') return { kind: 'nodata' };
  return { kind: 'tempfail', reason: code || (err as Error).message };
}

/** "192.0.2.7" → "7.2.0.192.in-addr.arpa"; IPv6 → nibbles under ip6.arpa. */
export function reverseName(ip: string): string {
  const b = ipBytes(ip);
  if (!b) return ip;
  if (b.family === 4) return `${[...b.bytes].reverse().join('.')}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (const byte of b.bytes) nibbles.push((byte >> 4).toString(16), (byte & 15).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

export function createDns(opts: DnsOptions): Dns {
  const resolver = new Resolver({ timeout: Math.max(1, opts.timeoutMs), tries: opts.tries });
  if (opts.servers && opts.servers.length > 0) resolver.setServers(opts.servers);
  const now = opts.now ?? Date.now;
  const max = opts.cacheMax ?? 10_000;
  const cache = new Map<string, { expires: number; result: DnsResult<unknown> }>();
  const inflight = new Map<string, Promise<DnsResult<unknown>>>();

  function cached<T>(key: string, query: () => Promise<{ records: T[]; ttl: number }>): Promise<DnsResult<T>> {
    const hit = cache.get(key);
    if (hit && hit.expires > now()) {
      cache.delete(key); // refresh LRU position
      cache.set(key, hit);
      return Promise.resolve(hit.result as DnsResult<T>);
    }
    const pending = inflight.get(key);
    if (pending) return pending as Promise<DnsResult<T>>;
    const p = ask(key, query).finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  }

  async function ask<T>(key: string, query: () => Promise<{ records: T[]; ttl: number }>): Promise<DnsResult<T>> {
    let result: DnsResult<T>;
    try {
      const { records, ttl } = await query();
      result = records.length ? { kind: 'records', records, ttl } : { kind: 'nodata' };
    } catch (err) {
      result = classify<T>(err);
    }
    if (result.kind !== 'tempfail') {
      const ttl = result.kind === 'records' ? result.ttl : NEGATIVE_TTL;
      cache.set(key, { expires: now() + ttl * 1000, result });
      if (cache.size > max) cache.delete(cache.keys().next().value as string);
    }
    return result;
  }

  const addr = (rr: 'A' | 'AAAA') => async (name: string) =>
    cached<string>(`${rr} ${name.toLowerCase()}`, async () => {
      const recs = rr === 'A' ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
      return { records: recs.map((r) => r.address), ttl: Math.min(...recs.map((r) => r.ttl), 86400) };
    });

  return {
    a: addr('A'),
    aaaa: addr('AAAA'),
    // resolvePtr, not reverse(): reverse() answers from /etc/hosts first.
    ptr: (ip) => cached<string>(`PTR ${ip}`, async () => ({ records: await resolver.resolvePtr(reverseName(ip)), ttl: FIXED_TTL })),
    mx: (name) => cached<MxRecord>(`MX ${name.toLowerCase()}`, async () => ({ records: await resolver.resolveMx(name), ttl: FIXED_TTL })),
    txt: (name) => cached<string>(`TXT ${name.toLowerCase()}`, async () => ({ records: (await resolver.resolveTxt(name)).map((parts) => parts.join('')), ttl: FIXED_TTL })),
    ns: (name) => cached<string>(`NS ${name.toLowerCase()}`, async () => ({ records: await resolver.resolveNs(name), ttl: FIXED_TTL })),
  };
}

/** A resolver that never asks: every answer is a temporary failure (postern_dns_lookups = no). */
export function disabledDns(): Dns {
  const off = async (): Promise<{ kind: 'tempfail'; reason: string }> => ({ kind: 'tempfail', reason: 'DNS lookups are disabled (postern_dns_lookups = no)' });
  return { ptr: off, a: off, aaaa: off, mx: off, txt: off, ns: off };
}

export function dnsFromParams(params: Params): Dns {
  if (!params.bool('postern_dns_lookups')) return disabledDns();
  const servers = params.list('dns_servers');
  return createDns({ servers: servers.length ? servers : undefined, timeoutMs: params.timeMs('dns_timeout'), tries: params.int('dns_tries') });
}
