/**
 * IP addresses and networks as Postfix writes them (cidr_table(5), postconf(5) mynetworks),
 * and matching a client address against them. Used by mynetworks and other network lists,
 * cidr: tables, client lookup keys and reverse DNS names.
 *
 * Accepted forms: "192.0.2.0/24", "[192.0.2.0]/24", "192.0.2.7", "[192.0.2.7]",
 * "2001:db8::/32", "[2001:db8::]/32", "[2001:db8::/32]", "[::1]", and IPv4-mapped IPv6
 * ("[::ffff:127.0.0.0]/104", "[::ffff:7f00:0]/104"). Errors use Postfix's wording
 * ("bad mask length in …", "non-null host address bits in …, perhaps you should use …").
 *
 * IPv4-mapped addresses are normalised once, on both sides: a client "::ffff:192.0.2.1"
 * (what a dual-stack socket reports for an IPv4 client) is the IPv4 address 192.0.2.1, and a
 * network that lies wholly inside ::ffff:0:0/96 (prefix 96 or longer) is the IPv4 network it
 * maps, so "[::ffff:127.0.0.0]/104" is 127.0.0.0/8. Postfix compares the two families apart
 * (its smtpd turns mapped clients into IPv4 before any lookup, so a mapped network there can
 * only match on systems that report mapped clients); Postern lets both forms mean the same
 * clients. A wider IPv6 network such as ::/0 stays IPv6 and never matches an IPv4 client.
 * Input: admin configuration (trusted) and client addresses (untrusted, only parsed).
 */

import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** A parsed network, or Postfix's complaint about it; `hostBits` marks "non-null host address bits". */
export type NetworkParse = { net: Cidr; error?: undefined } | { net?: undefined; error: string; hostBits?: boolean };

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function isMapped(bytes: Uint8Array): boolean {
  return bytes.length === 16 && MAPPED_PREFIX.every((b, i) => bytes[i] === b);
}

/** The 16 bytes of an IPv6 address (Node has checked its syntax; no zone index). */
function ipv6Bytes(text: string): Uint8Array {
  let a = text;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    tail = v4[1]!.split('.').map(Number);
    a = a.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g || '0', 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  if (tail.length) bytes.set(tail, 12);
  return bytes;
}

/** Address text → family and bytes, without normalising mapped addresses; undefined when not an address. */
function rawBytes(text: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  if (isIPv4(text)) return { family: 4, bytes: Uint8Array.from(text.split('.').map(Number)) };
  // Node accepts a zone index ("fe80::1%eth0"); Postfix does not, and neither do we.
  if (!text.includes('%') && isIPv6(text)) return { family: 6, bytes: ipv6Bytes(text) };
  return undefined;
}

/**
 * A client address → family and bytes, IPv4-mapped IPv6 ("::ffff:192.0.2.1", also in hex
 * "::ffff:c000:201") as IPv4. Undefined when it is not an address.
 */
export function ipBytes(addr: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  const ip = rawBytes(addr.trim());
  if (ip && ip.family === 6 && isMapped(ip.bytes)) return { family: 4, bytes: ip.bytes.slice(12) };
  return ip;
}

/** Normalise a socket address: "::ffff:1.2.3.4" (or "::ffff:102:304") → "1.2.3.4"; anything else unchanged. */
export function normalizeAddr(addr: string): string {
  if (!/^::ffff:/i.test(addr)) return addr;
  const ip = ipBytes(addr);
  return ip && ip.family === 4 ? [...ip.bytes].join('.') : addr;
}

/** Address bytes as text the way inet_ntop(3) writes them (used in Postfix's host-bits hint). */
export function formatIp(family: 4 | 6, bytes: Uint8Array): string {
  if (family === 4) return [...bytes].join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of two or more zero words becomes "::" (the first such run on a tie).
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { base: i, len: j - i };
    i = j;
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  const dotted = [...bytes.slice(12)].join('.');
  // glibc writes IPv4-mapped and IPv4-compatible addresses with a dotted tail.
  if (best.base === 0 && (best.len === 6 || (best.len === 7 && words[7] !== 1) || (best.len === 5 && words[5] === 0xffff))) {
    return best.len === 5 ? `::ffff:${dotted}` : `::${dotted}`;
  }
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (i === best.base) {
      parts.push(i === 0 ? ':' : '');
      i += best.len - 1;
      if (i === 7) parts.push('');
      continue;
    }
    parts.push(words[i]!.toString(16));
  }
  return parts.join(':');
}

/** Clear the bits after `prefix`. */
function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/**
 * Parse one network pattern ("192.0.2.0/24", "[2001:db8::]/32", "[::ffff:127.0.0.0]/104",
 * "192.0.2.7", "[::1]"). The error texts are Postfix's (cidr_match_parse), naming the pattern
 * without its brackets as Postfix does.
 */
export function parseNetwork(text: string): NetworkParse {
  let t = text.trim();
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0) return { error: `missing ']' character after "${t}"` };
    const after = t.slice(close + 1);
    if (after !== '' && !after.startsWith('/')) return { error: `garbage after "${t.slice(0, close + 1)}"` };
    t = t.slice(1, close) + after;
  }
  const slash = t.indexOf('/');
  if (slash < 0) {
    const ip = rawBytes(t);
    if (!ip) return { error: `bad address pattern: "${t}"` };
    return { net: normalised(ip.family, ip.bytes, ip.family === 4 ? 32 : 128) };
  }
  const addr = t.slice(0, slash);
  const mask = t.slice(slash + 1);
  if (!/^\d+$/.test(mask)) return { error: `bad mask value in "${t}"` };
  const ip = rawBytes(addr);
  if (!ip) return { error: `bad network value in "${t}"` };
  const prefix = Number(mask);
  if (prefix > (ip.family === 4 ? 32 : 128)) return { error: `bad mask length in "${t}"` };
  const net = masked(ip.bytes, prefix);
  if (net.some((b, i) => b !== ip.bytes[i])) {
    return { error: `non-null host address bits in "${t}", perhaps you should use "${formatIp(ip.family, net)}/${prefix}" instead`, hostBits: true };
  }
  return { net: normalised(ip.family, net, prefix) };
}

/** A network wholly inside ::ffff:0:0/96 is the IPv4 network it maps. */
function normalised(family: 4 | 6, bytes: Uint8Array, prefix: number): Cidr {
  if (family === 6 && prefix >= 96 && isMapped(bytes)) return { family: 4, bytes: bytes.slice(12), prefix: prefix - 96 };
  return { family, bytes, prefix };
}

/** parseNetwork() for callers that only need the network: undefined when it is not one. */
export function parseCidr(text: string): Cidr | undefined {
  return parseNetwork(text).net;
}

/** The network of `prefix` bits that holds `addr` (host bits cleared): for interface subnets. */
export function networkContaining(addr: string, prefix: number): Cidr | undefined {
  const ip = rawBytes(addr.trim());
  if (!ip || prefix < 0 || prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  return normalised(ip.family, masked(ip.bytes, prefix), prefix);
}

export function inCidr(addr: string, net: Cidr): boolean {
  const ip = ipBytes(addr);
  if (!ip || ip.family !== net.family) return false;
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip.bytes[i]! & mask) !== (net.bytes[i]! & mask)) return false;
  }
  return true;
}
