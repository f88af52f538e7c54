/**
 * mynetworks as Postfix reads it (postconf(5) mynetworks, mynetworks_style): a match list
 * of networks in every form policy/networks.ts accepts ("192.0.2.0/24", "[192.0.2.0]/24",
 * "[2001:db8::]/32", "[::ffff:127.0.0.0]/104", bare addresses), "!pattern" exclusions,
 * "/file/name" includes, "type:table" lookups and host/domain names (matched against the
 * verified client name). First match wins; a matching "!" item means "not trusted".
 * When mynetworks is not set, mynetworks_style decides (host: loopback and this host's
 * own addresses; subnet: the subnets of its interfaces; class: their class A/B/C networks).
 * The same parser serves any other parameter that holds such a list (createNetworkList's
 * `param`).
 *
 * A broken item (a network with host bits set, a bad mask, a table that cannot be opened) is
 * an error in `postern check`, and at run time a lookup error once matching reaches it, as in
 * Postfix 3.x ("mynetworks lookup error" → 451 4.3.0): never silently skipped, because a
 * skipped "!exclusion" would trust the very clients the admin meant to exclude.
 * IPv6 written without [] is accepted with a warning: Postfix reads it as a "type:table".
 * Input: admin configuration (trusted) and the client address/name (untrusted, only compared).
 */

import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { LookupTable } from '../tables/types.js';
import { lookupClient } from '../tables/lookup-order.js';
import { splitList } from '../config/params.js';
import { inCidr, networkContaining, parseNetwork, type Cidr } from './networks.js';

type Item =
  | { kind: 'net'; net: Cidr; negate: boolean }
  | { kind: 'table'; table: LookupTable; negate: boolean }
  | { kind: 'name'; name: string; negate: boolean }
  | { kind: 'broken'; why: string };

export interface NetworkList {
  /** First match wins; throws NetworkListError when matching reaches a broken item. */
  matches(client: { name: string; addr: string }): Promise<boolean>;
  /** Items that cannot be used, for `postern check` as errors ("mynetworks: …"). */
  readonly problems: readonly string[];
  /** Items that work in Postern but not in Postfix, or lines of its tables that look like mistakes (file and line when known). */
  readonly warnings: readonly { message: string; file?: string; line?: number }[];
}

/** Matching reached an item that cannot be evaluated: Postfix's "mynetworks lookup error". */
export class NetworkListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkListError';
  }
}

export const MYNETWORKS_STYLES = ['host', 'subnet', 'class'] as const;

/** The networks mynetworks_style stands for on this host. */
export function defaultNetworks(style: string): Cidr[] {
  const out: Cidr[] = [networkContaining('127.0.0.0', 8)!, networkContaining('::1', 128)!];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      const addr = a.address.split('%')[0]!;
      const bits = a.family === 'IPv4' ? 32 : 128;
      let prefix = style === 'host' ? bits : Number(a.cidr?.split('/')[1] ?? bits);
      if (style === 'class' && a.family === 'IPv4') {
        const first = Number(addr.split('.')[0]);
        prefix = first < 128 ? 8 : first < 192 ? 16 : 24;
      }
      const c = networkContaining(addr, prefix);
      if (c) out.push(c);
    }
  }
  return out;
}

function fileItems(path: string): { items: string[]; error?: string } {
  try {
    return { items: splitList(readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/#.*$/, '')).join(' ')) };
  } catch (err) {
    return { items: [], error: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}

export function createNetworkList(params: Params, tables: TableRegistry, param = 'mynetworks'): NetworkList {
  const problems: string[] = [];
  const warnings: { message: string; file?: string; line?: number }[] = [];
  const items: Item[] = [];
  const parents = params.list('parent_domain_matches_subdomains').includes(param);
  const style = params.str('mynetworks_style').toLowerCase();
  if (param === 'mynetworks' && !(MYNETWORKS_STYLES as readonly string[]).includes(style)) {
    problems.push(`mynetworks_style: unknown style "${params.str('mynetworks_style')}" (use host, subnet or class)`);
  }

  let words = params.list(param);
  if (param === 'mynetworks' && !params.isSet('mynetworks') && words.length === 0) {
    for (const net of defaultNetworks(style)) items.push({ kind: 'net', net, negate: false });
    words = [];
  }
  const broken = (why: string): void => {
    problems.push(`${param}: ${why}`);
    items.push({ kind: 'broken', why: `${param}: ${why}` });
  };
  const add = (raw: string, depth: number, from: string): void => {
    const negate = raw.startsWith('!');
    const w = negate ? raw.slice(1) : raw;
    if (w.startsWith('/')) {
      if (depth >= 5) return broken(`${w}: files nested too deeply`);
      const f = fileItems(w);
      if (f.error) return broken(f.error);
      for (const item of f.items) add(negate ? '!' + item : item, depth + 1, ` (in ${w})`);
      return;
    }
    const parsed = parseNetwork(w);
    if (parsed.net) {
      if (!w.startsWith('[') && w.includes(':')) {
        const [addr, mask] = w.split('/');
        warnings.push({ message: `${param}: "${w}"${from}: write IPv6 networks inside [], as "[${addr}]${mask !== undefined ? '/' + mask : ''}": Postern accepts this form, but Postfix would read it as a type:table` });
      }
      items.push({ kind: 'net', net: parsed.net, negate });
      return;
    }
    if (/^[a-z][a-z0-9_-]*:/i.test(w)) {
      try {
        const table = tables.open(w);
        items.push({ kind: 'table', table, negate });
        const lint = (table as { lint?: () => { line: number; message: string }[] }).lint;
        const file = w.replace(/^([a-z][a-z0-9_-]*:)+/i, '');
        if (lint) for (const l of lint.call(table)) warnings.push({ message: l.message, file, line: l.line });
      } catch (err) {
        broken((err as Error).message);
      }
      return;
    }
    if (/^\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(w) && /[a-z_-]/i.test(w)) {
      items.push({ kind: 'name', name: w.toLowerCase().replace(/\.$/, ''), negate });
      return;
    }
    broken(`${parsed.error}${from}`);
  };
  for (const w of words) add(w, 0, '');

  const nameMatch = (pattern: string, name: string): boolean => {
    if (!name || name === 'unknown') return false;
    const n = name.toLowerCase().replace(/\.$/, '');
    if (pattern.startsWith('.')) return n.endsWith(pattern);
    return n === pattern || (parents && n.endsWith('.' + pattern));
  };

  return {
    problems,
    warnings,
    async matches(client) {
      for (const it of items) {
        let hit: boolean;
        if (it.kind === 'broken') throw new NetworkListError(it.why);
        if (it.kind === 'net') hit = inCidr(client.addr, it.net);
        else if (it.kind === 'name') hit = nameMatch(it.name, client.name);
        else hit = (await lookupClient(it.table, client, { delimiter: '', parentMatches: parents })) !== undefined;
        if (hit) return !it.negate;
      }
      return false;
    },
  };
}
