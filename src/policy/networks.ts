/**
 * IP networks: parsing "192.0.2.0/24", "[2001:db8::]/32", bare addresses, and matching a
 * client address against them (mynetworks, cidr: tables). IPv4-mapped IPv6 addresses
 * ("::ffff:192.0.2.1") match IPv4 networks.
 */

import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

export function ipBytes(addr: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  let a = addr.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  if (isIPv4(a)) return { family: 4, bytes: Uint8Array.from(a.split('.').map(Number)) };
  if (!isIPv6(a)) return undefined;
  // Expand "::" and an embedded IPv4 tail into 16 bytes.
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    tail = v4[1]!.split('.').map(Number);
    a = a.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g || '0', 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  if (tail.length) bytes.set(tail, 12);
  return { family: 6, bytes };
}

/** "192.0.2.0/24", "2001:db8::/32", "[::1]/128", "192.0.2.7" → Cidr; undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const t = text.trim().replace(/^\[([^\]]*)\]/, '$1');
  const [addr, pfx] = t.split('/') as [string, string | undefined];
  const ip = ipBytes(addr);
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  const prefix = pfx === undefined ? max : Number(pfx);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (pfx !== undefined && !/^\d+$/.test(pfx))) return undefined;
  return { family: ip.family, bytes: ip.bytes, prefix };
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

/** Normalise a socket address: "::ffff:1.2.3.4" → "1.2.3.4". */
export function normalizeAddr(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1]! : addr;
}
