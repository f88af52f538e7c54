/**
 * From a destination to the server addresses to try, in order (RFC 5321 §5.1, RFC 7505,
 * Postfix's smtp_addr.c rules):
 *
 * - MX lookup for a bare domain; records sorted by preference, hosts and addresses of equal
 *   preference shuffled (smtp_randomize_addresses), one address family first when
 *   smtp_address_preference says so; the list cut at smtp_mx_address_limit.
 * - No MX records (nodata or nxdomain): the domain's own A/AAAA records, as if it were its
 *   own MX host.
 * - Null MX (a single MX "."): the domain accepts no mail — bounce at once.
 * - A temporary DNS failure is 4.4.3 (try later); a name that does not exist, 5.4.4.
 * - [host], LMTP and address literals: the host's addresses, no MX lookup.
 *
 * DNS answers are untrusted: an MX host without addresses is skipped, never fatal while
 * another host has addresses. Wording follows Postfix ("Host or domain name not found.
 * Name service error for name=… type=MX: Host not found, try again").
 */

import { isIP } from 'node:net';
import type { Dns, DnsResult } from '../../dns/types.js';

export interface Candidate {
  /** MX host name (or the host / literal itself). */
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly pref: number;
}

export interface LookupFailure {
  readonly dsn: string;
  readonly text: string;
}

export type Resolution =
  | { readonly kind: 'ok'; readonly candidates: readonly Candidate[]; readonly warnings: readonly string[] }
  | { readonly kind: 'fail'; readonly failure: LookupFailure; readonly nullMx?: boolean; readonly warnings: readonly string[] };

export interface ResolveOptions {
  readonly ipv4: boolean;
  readonly ipv6: boolean;
  /** smtp_randomize_addresses. */
  readonly randomize: boolean;
  /** smtp_address_preference. */
  readonly preference: 'any' | 'ipv4' | 'ipv6';
  /** smtp_mx_address_limit (0 = none). */
  readonly addressLimit: number;
  /** For tests: a deterministic random source in [0, 1). */
  readonly random?: () => number;
}

const DNS_TEXT = {
  nxdomain: 'Host not found',
  nodata: 'Host found but no data record of requested type',
  tempfail: 'Host not found, try again',
} as const;

function nameServiceError(name: string, type: string, kind: keyof typeof DNS_TEXT): string {
  return `Host or domain name not found. Name service error for name=${name} type=${type}: ${DNS_TEXT[kind]}`;
}

/** Fisher-Yates shuffle then a stable sort by (preference, family rank): equal preferences end up in random order. */
export function orderCandidates(list: readonly Candidate[], opts: Pick<ResolveOptions, 'randomize' | 'preference' | 'random'>): Candidate[] {
  const out = [...list];
  if (opts.randomize) {
    const rnd = opts.random ?? Math.random;
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
  }
  const rank = (c: Candidate): number => {
    if (opts.preference === 'any') return 0;
    const fam = isIP(c.address) === 6 ? 'ipv6' : 'ipv4';
    return fam === opts.preference ? 0 : 1;
  };
  // Array.prototype.sort is stable (ES2019), so the shuffle survives within a preference.
  return out.sort((a, b) => a.pref - b.pref || rank(a) - rank(b));
}

/** A and/or AAAA of one host; failure text names the first type that failed, tempfail first. */
async function hostAddresses(dns: Dns, host: string, port: number, pref: number, opts: ResolveOptions): Promise<{ ok: Candidate[] } | { fail: LookupFailure }> {
  const lit = isIP(host);
  if (lit) {
    if ((lit === 4 && !opts.ipv4) || (lit === 6 && !opts.ipv6)) return { fail: { dsn: '5.4.4', text: `${host}: address family disabled by inet_protocols` } };
    return { ok: [{ host, address: host, port, pref }] };
  }
  const queries: [string, Promise<DnsResult<string>>][] = [];
  if (opts.ipv4) queries.push(['A', dns.a(host)]);
  if (opts.ipv6) queries.push(['AAAA', dns.aaaa(host)]);
  if (queries.length === 0) return { fail: { dsn: '4.4.4', text: 'all network protocols are disabled' } };
  const results = await Promise.all(queries.map(async ([type, q]) => [type, await q] as const));
  const ok: Candidate[] = [];
  for (const [, r] of results) if (r.kind === 'records') for (const address of r.records) ok.push({ host, address, port, pref });
  if (ok.length) return { ok };
  const temp = results.find(([, r]) => r.kind === 'tempfail');
  if (temp) return { fail: { dsn: '4.4.3', text: nameServiceError(host, temp[0], 'tempfail') } };
  const [type, r] = results[0]!;
  return { fail: { dsn: '5.4.4', text: nameServiceError(host, type, r.kind === 'nodata' ? 'nodata' : 'nxdomain') } };
}

function limit(list: Candidate[], n: number): Candidate[] {
  return n > 0 ? list.slice(0, n) : list;
}

/** Resolve one inet destination to the ordered addresses to try. */
export async function resolveCandidates(dns: Dns, dest: { host: string; port: number; mx: boolean }, opts: ResolveOptions): Promise<Resolution> {
  const warnings: string[] = [];
  if (!dest.mx) {
    const r = await hostAddresses(dns, dest.host, dest.port, 0, opts);
    if ('fail' in r) return { kind: 'fail', failure: r.fail, warnings };
    return { kind: 'ok', candidates: limit(orderCandidates(r.ok, opts), opts.addressLimit), warnings };
  }
  const mx = await dns.mx(dest.host);
  if (mx.kind === 'tempfail') return { kind: 'fail', failure: { dsn: '4.4.3', text: nameServiceError(dest.host, 'MX', 'tempfail') }, warnings };
  if (mx.kind !== 'records') {
    // RFC 5321 §5.1: no MX records → the domain is its own mail exchanger (preference 0).
    const r = await hostAddresses(dns, dest.host, dest.port, 0, opts);
    if ('fail' in r) return { kind: 'fail', failure: r.fail, warnings };
    return { kind: 'ok', candidates: limit(orderCandidates(r.ok, opts), opts.addressLimit), warnings };
  }
  const records = mx.records;
  // RFC 7505: a single MX with an empty exchange (".") says the domain takes no mail.
  if (records.length === 1 && (records[0]!.exchange === '' || records[0]!.exchange === '.')) {
    return { kind: 'fail', nullMx: true, failure: { dsn: '5.1.10', text: `Domain ${dest.host} does not accept mail (nullMX)` }, warnings };
  }
  const hosts = records.filter((r) => r.exchange !== '' && r.exchange !== '.');
  const looked = await Promise.all(hosts.map((r) => hostAddresses(dns, r.exchange.replace(/\.$/, ''), dest.port, r.priority, opts)));
  const all: Candidate[] = [];
  let failure: LookupFailure | undefined;
  for (const r of looked) {
    if ('ok' in r) all.push(...r.ok);
    // A temporary failure outweighs a permanent one: the host may come back (Postfix keeps the soft DSN).
    else if (!failure || (r.fail.dsn.startsWith('4') && !failure.dsn.startsWith('4'))) failure = r.fail;
  }
  if (all.length === 0) {
    warnings.push(`no MX host for ${dest.host} has a valid address record`);
    return { kind: 'fail', failure: failure ?? { dsn: '5.4.4', text: nameServiceError(dest.host, 'MX', 'nodata') }, warnings };
  }
  return { kind: 'ok', candidates: limit(orderCandidates(all, opts), opts.addressLimit), warnings };
}
