/**
 * DNS lists (DNSBL/RHSBL/DNSWL, RFC 5782): the "domain=filter" argument Postfix takes, the
 * query name for an address or a domain, one lookup with its reply filter, and the answers
 * that are not listings but the list refusing our resolver (Spamhaus' 127.255.255.252–255
 * and the like). Used by the restrictions (policy/checks/dnsbl.ts) and `postern check --dns`.
 *
 * Filter syntax (postconf(5) reject_rbl_client): "=d.d.d.d", each d a number or "[…]" with
 * ";"-separated numbers and "n..m" ranges. Postern also accepts a bit mask "&d.d.d.d" (or
 * "=&d.d.d.d"): the answer matches when (answer AND mask) is not zero, for lists that encode
 * several sources as bits of the last octet. Input: admin-written arguments (checked by
 * `postern check`) and untrusted client names/addresses (only placed in query names after
 * validation by the caller).
 */

import type { Dns } from './types.js';
import { ipBytes } from '../policy/networks.js';

/** One octet pattern: the numbers it accepts. */
type Octet = readonly [number, number][];

export type ReplyFilter =
  | { readonly kind: 'octets'; readonly octets: readonly Octet[] }
  | { readonly kind: 'mask'; readonly mask: readonly number[] };

export interface ListSpec {
  /** The argument as written ("zen.spamhaus.org=127.0.0.[2..11]"), Postfix's $rbl_domain. */
  readonly spec: string;
  /** The DNS zone queried ("zen.spamhaus.org"). */
  readonly domain: string;
  readonly filter?: ReplyFilter;
}

function parseOctet(text: string): Octet | undefined {
  const num = (s: string): number | undefined => (/^\d{1,3}$/.test(s) && Number(s) <= 255 ? Number(s) : undefined);
  if (!text.startsWith('[')) {
    const n = num(text);
    return n === undefined ? undefined : [[n, n]];
  }
  if (!text.endsWith(']')) return undefined;
  const out: [number, number][] = [];
  for (const item of text.slice(1, -1).split(';')) {
    const m = /^(\d+)\.\.(\d+)$/.exec(item);
    const lo = num(m ? m[1]! : item);
    const hi = num(m ? m[2]! : item);
    if (lo === undefined || hi === undefined || lo > hi) return undefined;
    out.push([lo, hi]);
  }
  return out.length ? out : undefined;
}

/** Split "d.d.d.d" where a "[…]" group may itself contain dots ("[2..11]"). */
function splitOctets(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of text) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === '.' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** Parse "domain", "domain=d.d.d.d", "domain=&d.d.d.d" or "domain&d.d.d.d"; a string is an error message. */
export function parseListSpec(arg: string): ListSpec | string {
  const m = /^([^=&]+)(?:=(&?)(.+)|&(.+))?$/.exec(arg.trim());
  if (!m) return `bad DNS list "${arg}"`;
  const domain = m[1]!.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/.test(domain)) return `bad DNS list domain "${m[1]}" in "${arg}"`;
  const maskText = m[2] === '&' ? m[3] : m[4];
  if (maskText !== undefined) {
    const mask = maskText.split('.').map((o) => (/^\d{1,3}$/.test(o) && Number(o) <= 255 ? Number(o) : NaN));
    if (mask.length !== 4 || mask.some((n) => Number.isNaN(n))) return `bad reply mask "&${maskText}" in "${arg}" (use &d.d.d.d)`;
    return { spec: arg, domain, filter: { kind: 'mask', mask } };
  }
  if (m[3] === undefined) return { spec: arg, domain };
  const parts = splitOctets(m[3]);
  const octets = parts.map(parseOctet);
  if (parts.length !== 4 || octets.some((o) => o === undefined)) return `bad reply filter "=${m[3]}" in "${arg}" (use =d.d.d.d, each d a number or [n;n..m])`;
  return { spec: arg, domain, filter: { kind: 'octets', octets: octets as Octet[] } };
}

export function matchesFilter(filter: ReplyFilter | undefined, answer: string): boolean {
  if (!filter) return true;
  const b = ipBytes(answer);
  if (!b || b.family !== 4) return false;
  if (filter.kind === 'mask') return filter.mask.some((m, i) => (m & b.bytes[i]!) !== 0);
  return filter.octets.every((o, i) => o.some(([lo, hi]) => b.bytes[i]! >= lo && b.bytes[i]! <= hi));
}

/** "1.2.3.4" → "4.3.2.1"; IPv6 → 32 reversed nibbles (RFC 5782 §2.4). */
export function reversedAddress(ip: string): string | undefined {
  const b = ipBytes(ip);
  if (!b) return undefined;
  if (b.family === 4) return [...b.bytes].reverse().join('.');
  const nibbles: string[] = [];
  for (const byte of b.bytes) nibbles.push((byte >> 4).toString(16), (byte & 15).toString(16));
  return nibbles.reverse().join('.');
}

/**
 * Answers that mean "this list refuses to answer you", per list operator. An entry applies
 * to its domain and every domain below it. Spamhaus documents 127.255.255.252 (typing error
 * in the list name), .254 (query through a public/open resolver) and .255 (excessive
 * queries); URIBL and SURBL answer 127.0.0.1 when they block a resolver.
 */
export interface BlockedCode {
  readonly zone: string;
  readonly filter: ReplyFilter;
}

const SPAMHAUS_MEANING: Record<string, string> = {
  '127.255.255.252': 'typing error in the DNS list name',
  '127.255.255.253': 'query refused',
  '127.255.255.254': 'query refused (public resolver?)',
  '127.255.255.255': 'query refused (excessive number of queries)',
};

/** Parse postern_rbl_blocked_replies items ("spamhaus.org=127.255.255.[252..255]"). */
export function parseBlockedCodes(items: readonly string[]): { codes: BlockedCode[]; problems: string[] } {
  const codes: BlockedCode[] = [];
  const problems: string[] = [];
  for (const item of items) {
    const s = parseListSpec(item);
    if (typeof s === 'string') problems.push(s);
    else if (!s.filter) problems.push(`"${item}" needs a reply filter (zone=d.d.d.d)`);
    else codes.push({ zone: s.domain, filter: s.filter });
  }
  return { codes, problems };
}

/** What a "blocked" answer means, in words for the log. */
export function blockedMeaning(answer: string): string {
  return SPAMHAUS_MEANING[answer] ?? 'query refused (blocked resolver?)';
}

function isBlocked(codes: readonly BlockedCode[], domain: string, answer: string): boolean {
  return codes.some((c) => (domain === c.zone || domain.endsWith('.' + c.zone)) && matchesFilter(c.filter, answer));
}

export type ListResult =
  /** Listed: the A records that passed the filter, and the TXT text (Postfix's $rbl_reason). */
  | { readonly kind: 'listed'; readonly answers: readonly string[]; readonly txt: string }
  | { readonly kind: 'clean' }
  /** The lookup failed (timeout, SERVFAIL, refused): never a listing. */
  | { readonly kind: 'error'; readonly reason: string }
  /** The list answered with a code that means it refuses our resolver: never a listing. */
  | { readonly kind: 'blocked'; readonly answer: string; readonly meaning: string };

/** Longest TXT text kept for a reply (Postfix truncates long reasons too). */
const MAX_TXT = 400;

/**
 * Look `name` up under the list: A records through the filter, then (only when listed)
 * the TXT records, joined with " / ". Blocked-resolver answers are taken out before the
 * filter runs, so "=127.255.255.[1..255]" can never make them a listing.
 */
export async function queryList(dns: Dns, query: string, list: ListSpec, blocked: readonly BlockedCode[], opts: { txt: boolean }): Promise<ListResult> {
  const r = await dns.a(query);
  if (r.kind === 'tempfail') return { kind: 'error', reason: r.reason };
  if (r.kind !== 'records') return { kind: 'clean' };
  const refused = r.records.filter((a) => isBlocked(blocked, list.domain, a));
  const real = r.records.filter((a) => !isBlocked(blocked, list.domain, a));
  const hits = real.filter((a) => matchesFilter(list.filter, a));
  if (hits.length === 0) {
    if (refused.length) return { kind: 'blocked', answer: refused[0]!, meaning: blockedMeaning(refused[0]!) };
    return { kind: 'clean' };
  }
  let txt = '';
  if (opts.txt) {
    const t = await dns.txt(query);
    if (t.kind === 'records') txt = t.records.join(' / ').slice(0, MAX_TXT);
  }
  return { kind: 'listed', answers: hits, txt };
}

/** Postfix's wording for a failed lookup: "Host or domain name not found. Name service error for name=… type=A: Host not found, try again". */
export function lookupErrorText(query: string, type = 'A'): string {
  return `Host or domain name not found. Name service error for name=${query} type=${type}: Host not found, try again`;
}
