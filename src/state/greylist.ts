/**
 * Greylisting with postgrey's semantics (postgrey 1.37, the one seed 004 runs), on the
 * state store so MX hosts sharing a Redis share passes (B8):
 * - the triplet is (client network, normalised sender, recipient), lowercased; the network
 *   is the client address masked to postern_greylist_network_prefix (24) or
 *   postern_greylist_ipv6_network_prefix (64);
 * - the sender is normalised as postgrey does, so VERP, BATV and sequence numbers do not
 *   make a new triplet per message: BATV "prvs=tag=user" → "user", "+extension" dropped,
 *   every number standing alone in the local part → "#";
 * - a new triplet is greylisted for postern_greylist_delay; a retry after that passes, and
 *   the triplet passes from then on while it is seen within postern_greylist_max_age;
 * - a first retry later than postern_greylist_retry_window starts the wait over;
 * - a client address that passed postern_greylist_auto_whitelist_clients times (passes
 *   closer than postern_greylist_auto_whitelist_interval count once; postgrey: one hour) is
 *   not greylisted any more (auto-whitelist).
 * Whitelists, SASL and mynetworks are the restriction's business (policy/checks/greylist.ts).
 * The store is the primary one: when Redis is down its operations throw, and the caller
 * fails open (accepts) — greylisting never costs mail.
 * XXX: read-then-write per triplet: two hosts seeing the very first attempt at the same
 * millisecond both store it; the later write wins, which only moves `first` by that much.
 */

import type { StateStore } from './types.js';
import { formatIp, networkContaining } from '../policy/networks.js';

export interface GreylistSettings {
  delayMs: number;
  maxAgeMs: number;
  retryWindowMs: number;
  v4prefix: number;
  v6prefix: number;
  awlClients: number;
  awlIntervalMs: number;
}

export type GreylistResult =
  | { kind: 'pass'; reason: 'triplet' | 'client AWL'; delayedS?: number }
  | { kind: 'greylist'; remainingS: number; reason: 'new' | 'early-retry' };

/** postgrey's do_sender_substitutions(). */
export function normaliseSender(addr: string): string {
  const at = addr.indexOf('@');
  if (at < 0) return addr;
  let user = addr.slice(0, at);
  const domain = addr.slice(at + 1);
  if (/^prvs=/i.test(user)) {
    // BATV: prvs=tag-val=loc-core, sometimes written prvs=loc-core=tag-val.
    const a = user.split('=');
    if (a.length === 3) {
      const tag = /^[0-9a-z]{10}/;
      user = tag.test(a[1]!) && !tag.test(a[2]!) ? a[2]! : tag.test(a[2]!) && !tag.test(a[1]!) ? a[1]! : a[2]!;
    }
  }
  user = user.replace(/\+.*/, '');
  // Perl's \b\d+\b: a run of digits with no word character on either side.
  user = user.replace(/(?<![A-Za-z0-9_])\d+(?![A-Za-z0-9_])/g, '#');
  return `${user}@${domain}`;
}

export function clientNetwork(addr: string, v4prefix: number, v6prefix: number): string {
  const net = networkContaining(addr, addr.includes(':') ? v6prefix : v4prefix);
  return net ? formatIp(net.family, net.bytes) : addr;
}

interface Triplet {
  first: number;
  last: number;
}

export class Greylist {
  constructor(private readonly store: StateStore, private readonly s: GreylistSettings, private readonly clock: () => number = Date.now) {}

  tripletKey(clientAddr: string, sender: string, recipient: string): string {
    return `gl:t:${`${clientNetwork(clientAddr, this.s.v4prefix, this.s.v6prefix)}/${normaliseSender(sender)}/${recipient}`.toLowerCase()}`;
  }

  async check(clientAddr: string, sender: string, recipient: string): Promise<GreylistResult> {
    const now = this.clock();
    const awlKey = `gl:awl:${clientAddr}`;
    let awl: { count: number; last: number } | undefined;
    if (this.s.awlClients > 0) {
      const v = await this.store.get(awlKey);
      awl = v ? (JSON.parse(v) as { count: number; last: number }) : undefined;
      if (awl && awl.count >= this.s.awlClients) {
        if (now >= awl.last + this.s.awlIntervalMs || awl.last > now) await this.store.set(awlKey, JSON.stringify({ count: awl.count + 1, last: now }), this.s.maxAgeMs);
        return { kind: 'pass', reason: 'client AWL' };
      }
    }
    const key = this.tripletKey(clientAddr, sender, recipient);
    const v = await this.store.get(key);
    let first = now;
    let lastWasSuccessful = false;
    if (v) {
      const t = JSON.parse(v) as Triplet;
      first = t.first;
      if (t.last - t.first >= this.s.delayMs) lastWasSuccessful = true;
      else if (now - first > this.s.retryWindowMs) first = now;
      if (first > now) first = now;
    }
    const waited = now - first;
    const passed = waited >= this.s.delayMs;
    // A triplet that never passed is forgotten after the retry window, one that passed after max-age.
    await this.store.set(key, JSON.stringify({ first, last: now } satisfies Triplet), passed ? this.s.maxAgeMs : this.s.retryWindowMs);
    if (this.s.awlClients > 0 && passed && !lastWasSuccessful && (!awl || now >= awl.last + this.s.awlIntervalMs)) {
      await this.store.set(awlKey, JSON.stringify({ count: (awl?.count ?? 0) + 1, last: now }), this.s.maxAgeMs);
    }
    if (!passed) return { kind: 'greylist', remainingS: Math.max(1, Math.ceil((this.s.delayMs - waited) / 1000)), reason: v ? 'early-retry' : 'new' };
    return lastWasSuccessful ? { kind: 'pass', reason: 'triplet' } : { kind: 'pass', reason: 'triplet', delayedS: Math.round(waited / 1000) };
  }

  /** `postern greylist`: triplets still waiting, triplets that passed, auto-whitelisted clients. */
  async counts(): Promise<{ pending: number; passed: number; autoWhitelisted: number; awlCandidates: number }> {
    let pending = 0;
    let passed = 0;
    for (const k of await this.store.keys('gl:t:')) {
      const v = await this.store.get(k);
      if (!v) continue;
      const t = JSON.parse(v) as Triplet;
      if (t.last - t.first >= this.s.delayMs) passed++;
      else pending++;
    }
    let autoWhitelisted = 0;
    let awlCandidates = 0;
    for (const k of await this.store.keys('gl:awl:')) {
      const v = await this.store.get(k);
      if (!v) continue;
      if (this.s.awlClients > 0 && (JSON.parse(v) as { count: number }).count >= this.s.awlClients) autoWhitelisted++;
      else awlCandidates++;
    }
    return { pending, passed, autoWhitelisted, awlCandidates };
  }

  /** `postern greylist clear`: forget every triplet and auto-whitelist entry. */
  async clear(): Promise<number> {
    const keys = [...(await this.store.keys('gl:t:')), ...(await this.store.keys('gl:awl:'))];
    for (let i = 0; i < keys.length; i += 500) await this.store.delete(keys.slice(i, i + 500));
    return keys.length;
  }
}

export function greylistSettings(params: { int(n: string): number; timeMs(n: string): number }): GreylistSettings {
  return {
    delayMs: params.timeMs('postern_greylist_delay'),
    maxAgeMs: params.timeMs('postern_greylist_max_age'),
    retryWindowMs: params.timeMs('postern_greylist_retry_window'),
    v4prefix: params.int('postern_greylist_network_prefix'),
    v6prefix: params.int('postern_greylist_ipv6_network_prefix'),
    awlClients: params.int('postern_greylist_auto_whitelist_clients'),
    awlIntervalMs: params.timeMs('postern_greylist_auto_whitelist_interval'),
  };
}
