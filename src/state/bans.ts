/**
 * The built-in auto-ban: seed 000's fail2ban jail (maxretry, findtime, bantime) inside
 * Postern. Failures of each kind (postern_ban_events) are counted per client address in a
 * sliding window of postern_ban_findtime; the postern_ban_maxretry-th bans the address for
 * postern_ban_bantime, doubled for each repeat ban when postern_ban_bantime_increment = yes
 * (up to postern_ban_maxtime). Bans, failure windows and totals live in the state store, so
 * they survive a restart and are shared by MX hosts on one Redis.
 *
 * A stale password is not an attack: a phone that retries the SAME user with the SAME wrong
 * password counts once per findtime. To know it is the same password, a salted hash of
 * (user, password) is kept in this process's memory for findtime — never the password, never
 * on disk; the salt is random per process. Such clients are listed apart by `postern bans`.
 *
 * Exceptions (postern_ban_exceptions, default $mynetworks) are checked by the callers, who
 * know the client's name (listener/guard.ts, cli/bans.ts).
 */

import { createHash, randomBytes } from 'node:crypto';
import type { StateStore } from './types.js';

export const BAN_EVENTS = ['auth', 'relay', 'unknown_recipient', 'protocol'] as const;
export type BanEvent = (typeof BAN_EVENTS)[number];

export interface BanSettings {
  maxretry: number;
  findtimeMs: number;
  bantimeMs: number;
  increment: boolean;
  maxtimeMs: number;
  events: ReadonlySet<BanEvent>;
}

export interface BanRecord {
  addr: string;
  /** ms since the epoch. */
  since: number;
  until: number;
  reason: string;
  /** 1 for the first ban of this address, 2 for the next … (bantime increment). */
  nth: number;
}

export interface StaleClient {
  addr: string;
  user: string;
  repeats: number;
  last: number;
}

export interface BanStatus {
  currentlyFailed: number;
  totalFailed: number;
  currentlyBanned: number;
  totalBanned: number;
  banned: BanRecord[];
  stale: StaleClient[];
}

const WHAT: Record<BanEvent, string> = {
  auth: 'failed AUTH attempts', relay: 'relay attempts', unknown_recipient: 'unknown recipients', protocol: 'protocol violations',
};

/** "10m", "1d", "1w", "90s": the largest unit that divides the duration. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  for (const [unit, n] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] as const) if (s >= n && s % n === 0) return `${s / n}${unit}`;
  return `${s}s`;
}

/** "2025-01-02 03:04:05 UTC" */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function parseBanEvents(words: readonly string[]): { events: Set<BanEvent>; unknown: string[] } {
  const events = new Set<BanEvent>();
  const unknown: string[] = [];
  for (const w of words) {
    const e = w.toLowerCase();
    if ((BAN_EVENTS as readonly string[]).includes(e)) events.add(e as BanEvent);
    else unknown.push(w);
  }
  return { events, unknown };
}

export class Bans {
  private readonly salt = randomBytes(16);
  /** addr → salted credential hash → when it was last counted. */
  private readonly seen = new Map<string, Map<string, number>>();

  constructor(private readonly store: StateStore, private readonly s: BanSettings, private readonly clock: () => number = Date.now) {}

  async lookup(addr: string): Promise<BanRecord | undefined> {
    const v = await this.store.get(`ban:${addr}`);
    if (!v) return undefined;
    const r = JSON.parse(v) as BanRecord;
    return r.until > this.clock() ? r : undefined;
  }

  /** One failure of `event`; the new ban when this failure made one. */
  async failure(addr: string, event: BanEvent): Promise<BanRecord | undefined> {
    if (!this.s.events.has(event)) return undefined;
    const now = this.clock();
    const n = await this.store.addEvent(`banfail:${event}:${addr}`, now, this.s.findtimeMs);
    await this.store.increment('banstat:failed', 1, 0);
    if (n < this.s.maxretry) return undefined;
    if (await this.lookup(addr)) return undefined; // already banned (another host, or a race)
    return this.ban(addr, undefined, `${n} ${WHAT[event]} within ${formatDuration(this.s.findtimeMs)}`);
  }

  /** A failed AUTH: counted once per findtime for a repeated (user, password). */
  async authFailure(addr: string, user: string, password: string): Promise<BanRecord | undefined> {
    if (!this.s.events.has('auth')) return undefined;
    const now = this.clock();
    const hash = createHash('sha256').update(this.salt).update(user).update('\0').update(password).digest('base64');
    let mine = this.seen.get(addr);
    if (!mine) this.seen.set(addr, (mine = new Map()));
    for (const [h, t] of mine) if (t <= now - this.s.findtimeMs) mine.delete(h);
    const last = mine.get(hash);
    if (last !== undefined) {
      // The same wrong password again: a device with a stale password, not a guesser.
      const key = `banstale:${addr}`;
      const prev = await this.store.get(key);
      const repeats = prev ? (JSON.parse(prev) as StaleClient).repeats + 1 : 2;
      await this.store.set(key, JSON.stringify({ addr, user, repeats, last: now } satisfies StaleClient), this.s.findtimeMs);
      return undefined;
    }
    if (mine.size >= 1000) mine.delete(mine.keys().next().value!); // bound memory per address
    mine.set(hash, now);
    if (this.seen.size > 100_000) this.seen.delete(this.seen.keys().next().value!);
    return this.failure(addr, 'auth');
  }

  /** Ban now (from failures, or `postern bans ban`); durationMs undefined: the jail's bantime with increment. */
  async ban(addr: string, durationMs: number | undefined, reason: string): Promise<BanRecord> {
    const now = this.clock();
    // Repeat bans are remembered for twice the longest ban after the last one.
    // XXX: read-then-write; two hosts banning one address at the same moment may both count it first.
    const nth = Number((await this.store.get(`banhist:${addr}`)) ?? 0) + 1;
    await this.store.set(`banhist:${addr}`, String(nth), 2 * Math.max(this.s.maxtimeMs, this.s.bantimeMs));
    let ms = durationMs ?? this.s.bantimeMs;
    if (durationMs === undefined && this.s.increment) ms = Math.min(this.s.bantimeMs * 2 ** Math.min(nth - 1, 30), Math.max(this.s.maxtimeMs, this.s.bantimeMs));
    const rec: BanRecord = { addr, since: now, until: now + ms, reason, nth };
    await this.store.set(`ban:${addr}`, JSON.stringify(rec), ms);
    await this.store.increment('banstat:banned', 1, 0);
    // The failures that led here are used up, as fail2ban forgets them once it bans.
    await this.store.delete(BAN_EVENTS.map((e) => `banfail:${e}:${addr}`));
    return rec;
  }

  /** Lift a ban (and forget the address's failures); false when it was not banned. */
  async unban(addr: string): Promise<boolean> {
    const was = await this.lookup(addr);
    await this.store.delete([`ban:${addr}`, `banstale:${addr}`, ...BAN_EVENTS.map((e) => `banfail:${e}:${addr}`)]);
    this.seen.delete(addr);
    return was !== undefined;
  }

  async status(): Promise<BanStatus> {
    const now = this.clock();
    const failing = new Set<string>();
    for (const k of await this.store.keys('banfail:')) {
      const addr = k.slice(k.indexOf(':', 'banfail:'.length) + 1);
      if ((await this.store.countEvents(k, now, this.s.findtimeMs)) > 0) failing.add(addr);
    }
    const banned: BanRecord[] = [];
    for (const k of await this.store.keys('ban:')) {
      const r = await this.lookup(k.slice('ban:'.length));
      if (r) banned.push(r);
    }
    banned.sort((a, b) => a.since - b.since);
    const stale: StaleClient[] = [];
    for (const k of await this.store.keys('banstale:')) {
      const v = await this.store.get(k);
      if (v) stale.push(JSON.parse(v) as StaleClient);
    }
    return {
      currentlyFailed: failing.size,
      totalFailed: Number((await this.store.get('banstat:failed')) ?? 0),
      currentlyBanned: banned.length,
      totalBanned: Number((await this.store.get('banstat:banned')) ?? 0),
      banned,
      stale,
    };
  }
}

/** `postern bans` output, after `fail2ban-client status postfix-sasl`. */
export function formatBanStatus(st: BanStatus, storeName: string): string {
  const lines = [
    `Status for the built-in ban jail (state: ${storeName})`,
    '|- Filter',
    `|  |- Currently failed:\t${st.currentlyFailed}`,
    `|  \`- Total failed:\t${st.totalFailed}`,
    '`- Actions',
    `   |- Currently banned:\t${st.currentlyBanned}`,
    `   |- Total banned:\t${st.totalBanned}`,
    `   \`- Banned IP list:\t${st.banned.map((b) => b.addr).join(' ')}`,
  ];
  if (st.banned.length) {
    lines.push('', 'Banned:');
    for (const b of st.banned) lines.push(`   ${b.addr}\tuntil ${formatTime(b.until)} (${b.reason}; ban ${b.nth}, since ${formatTime(b.since)})`);
  }
  if (st.stale.length) {
    lines.push('', 'Likely stale passwords (the same user and wrong password repeated; counted once, not an attack):');
    for (const s of st.stale) lines.push(`   ${s.addr}\tuser ${s.user}, repeated ${s.repeats} times, last at ${formatTime(s.last)}`);
  }
  return lines.join('\n') + '\n';
}

/** The jail's settings from main.cf. */
export function banSettings(params: { int(n: string): number; timeMs(n: string): number; bool(n: string): boolean; list(n: string): string[] }): BanSettings {
  return {
    maxretry: params.int('postern_ban_maxretry'),
    findtimeMs: params.timeMs('postern_ban_findtime'),
    bantimeMs: params.timeMs('postern_ban_bantime'),
    increment: params.bool('postern_ban_bantime_increment'),
    maxtimeMs: params.timeMs('postern_ban_maxtime'),
    events: parseBanEvents(params.list('postern_ban_events')).events,
  };
}
