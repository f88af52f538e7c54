/**
 * The in-memory state store: used by unit tests and, per process, as the fallback for bans
 * and rate limits while a shared Redis cannot be reached (state/shared.ts). Expired entries
 * are dropped when read and by a sweep every minute, so memory stays bounded by what is live.
 */

import type { StateStore } from './types.js';

interface Entry {
  value: string;
  /** ms since the epoch; 0 = never. */
  expires: number;
}

export class MemoryStore implements StateStore {
  readonly name: string = 'memory';
  private readonly kv = new Map<string, Entry>();
  private readonly events = new Map<string, number[]>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  private live(key: string): Entry | undefined {
    const e = this.kv.get(key);
    if (e && e.expires !== 0 && e.expires <= this.clock()) {
      this.kv.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [k, e] of this.kv) if (e.expires !== 0 && e.expires <= now) this.kv.delete(k);
    // Event logs are trimmed when used; drop the ones nobody used for a day.
    for (const [k, list] of this.events) if ((list[list.length - 1] ?? 0) < now - 86_400_000 * 30) this.events.delete(k);
  }

  async increment(key: string, n: number, ttlMs: number): Promise<number> {
    const e = this.live(key);
    if (e) {
      e.value = String(Number(e.value) + n);
      return Number(e.value);
    }
    this.kv.set(key, { value: String(n), expires: ttlMs > 0 ? this.clock() + ttlMs : 0 });
    return n;
  }

  private trimmed(key: string, now: number, windowMs: number): number[] {
    const list = (this.events.get(key) ?? []).filter((t) => t > now - windowMs);
    if (list.length) this.events.set(key, list);
    else this.events.delete(key);
    return list;
  }

  async addEvent(key: string, now: number, windowMs: number): Promise<number> {
    const list = this.trimmed(key, now, windowMs);
    list.push(now);
    this.events.set(key, list);
    return list.length;
  }

  async countEvents(key: string, now: number, windowMs: number): Promise<number> {
    return this.trimmed(key, now, windowMs).length;
  }

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.kv.set(key, { value, expires: ttlMs > 0 ? this.clock() + ttlMs : 0 });
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) {
      this.kv.delete(k);
      this.events.delete(k);
    }
  }

  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for (const k of [...this.kv.keys()]) if (k.startsWith(prefix) && this.live(k)) out.push(k);
    for (const k of this.events.keys()) if (k.startsWith(prefix)) out.push(k);
    return out;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
