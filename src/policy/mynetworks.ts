/**
 * mynetworks as Postfix reads it (postconf(5) mynetworks, mynetworks_style): a match list
 * of networks ("192.0.2.0/24", "[2001:db8::]/32", bare addresses), "!pattern" exclusions,
 * "/file/name" includes, "type:table" lookups and host/domain names (matched against the
 * verified client name). First match wins; a matching "!" item means "not trusted".
 * When mynetworks is not set, mynetworks_style decides (host: loopback and this host's
 * own addresses; subnet: the subnets of its interfaces; class: their class A/B/C networks).
 * Input: admin configuration (trusted) and the client address/name (untrusted, only compared).
 */

import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { LookupTable } from '../tables/types.js';
import { lookupClient } from '../tables/lookup-order.js';
import { splitList } from '../config/params.js';
import { inCidr, parseCidr, type Cidr } from './networks.js';

type Item =
  | { kind: 'net'; net: Cidr; negate: boolean }
  | { kind: 'table'; table: LookupTable; negate: boolean }
  | { kind: 'name'; name: string; negate: boolean };

export interface NetworkList {
  matches(client: { name: string; addr: string }): Promise<boolean>;
  /** Items that could not be used, for `postern check` (an unusable item never matches). */
  readonly problems: readonly string[];
}

export const MYNETWORKS_STYLES = ['host', 'subnet', 'class'] as const;

/** The networks mynetworks_style stands for on this host. */
export function defaultNetworks(style: string): Cidr[] {
  const out: Cidr[] = [parseCidr('127.0.0.0/8')!, parseCidr('::1/128')!];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      const addr = a.address.split('%')[0]!;
      const bits = a.family === 'IPv4' ? 32 : 128;
      let prefix = style === 'host' ? bits : Number(a.cidr?.split('/')[1] ?? bits);
      if (style === 'class' && a.family === 'IPv4') {
        const first = Number(addr.split('.')[0]);
        prefix = first < 128 ? 8 : first < 192 ? 16 : 24;
      }
      const c = parseCidr(`${addr}/${prefix}`);
      if (c) out.push(c);
    }
  }
  return out;
}

function fileItems(path: string, problems: string[]): string[] {
  try {
    return splitList(readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/#.*$/, '')).join(' '));
  } catch (err) {
    problems.push(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return [];
  }
}

export function createNetworkList(params: Params, tables: TableRegistry): NetworkList {
  const problems: string[] = [];
  const items: Item[] = [];
  const parents = params.list('parent_domain_matches_subdomains').includes('mynetworks');
  const style = params.str('mynetworks_style').toLowerCase();
  if (!(MYNETWORKS_STYLES as readonly string[]).includes(style)) problems.push(`mynetworks_style: unknown style "${params.str('mynetworks_style')}" (use host, subnet or class)`);

  let words = params.list('mynetworks');
  if (!params.isSet('mynetworks') && words.length === 0) {
    for (const net of defaultNetworks(style)) items.push({ kind: 'net', net, negate: false });
    words = [];
  }
  const add = (raw: string, depth: number): void => {
    const negate = raw.startsWith('!');
    const w = negate ? raw.slice(1) : raw;
    if (w.startsWith('/') && depth < 5) {
      for (const f of fileItems(w, problems)) add(negate ? '!' + f : f, depth + 1);
      return;
    }
    const net = parseCidr(w);
    if (net) {
      items.push({ kind: 'net', net, negate });
      return;
    }
    if (/^[a-z][a-z0-9_-]*:/i.test(w) && !w.startsWith('[')) {
      try {
        items.push({ kind: 'table', table: tables.open(w), negate });
      } catch (err) {
        problems.push(`mynetworks: ${(err as Error).message}`);
      }
      return;
    }
    if (/^\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(w) && /[a-z_-]/i.test(w)) {
      items.push({ kind: 'name', name: w.toLowerCase().replace(/\.$/, ''), negate });
      return;
    }
    problems.push(`mynetworks: "${raw}" is not a network, address, host name or table (IPv6 networks are written [2001:db8::]/32)`);
  };
  for (const w of words) add(w, 0);

  const nameMatch = (pattern: string, name: string): boolean => {
    if (!name || name === 'unknown') return false;
    const n = name.toLowerCase().replace(/\.$/, '');
    if (pattern.startsWith('.')) return n.endsWith(pattern);
    return n === pattern || (parents && n.endsWith('.' + pattern));
  };

  return {
    problems,
    async matches(client) {
      for (const it of items) {
        let hit: boolean;
        if (it.kind === 'net') hit = inCidr(client.addr, it.net);
        else if (it.kind === 'name') hit = nameMatch(it.name, client.name);
        else hit = (await lookupClient(it.table, client, { delimiter: '', parentMatches: parents })) !== undefined;
        if (hit) return !it.negate;
      }
      return false;
    },
  };
}
