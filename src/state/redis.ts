/**
 * The shared state store: Redis, for several MX hosts of one domain (postern_state_backend =
 * redis://host:port/db, password from postern_state_backend_password_file). Client: node-redis
 * (the `redis` package, the maintained one; research/dependencies.md §6).
 *
 * Counters and event windows are Lua scripts, so two hosts updating one key never lose an
 * update; every key gets a TTL (the window, or the record's lifetime), so Redis never grows
 * without bound. Keys are prefixed "postern:". Commands fail fast (no offline queue, a
 * per-command deadline) so an unreachable Redis costs a session milliseconds, never a hang;
 * the client reconnects in the background. state/shared.ts turns failures into the
 * documented fallbacks.
 */

import { createClient } from 'redis';
import { StoreUnavailable, type StateStore } from './types.js';

const PREFIX = 'postern:';

// KEYS[1] counter; ARGV[1] n, ARGV[2] ttl ms (0: none). The TTL is set when the key is new.
const INCREMENT = `local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v == tonumber(ARGV[1]) and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;

// KEYS[1] sorted set of event times; ARGV[1] now, ARGV[2] window ms, ARGV[3] a unique member.
const ADD_EVENT = `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])`;

/** Redis URL without the password, for logs. */
export function redisLabel(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

export interface RedisOptions {
  url: string;
  password?: string;
  /** Per-command deadline. */
  timeoutMs?: number;
}

export class RedisStore implements StateStore {
  readonly name: string;
  private readonly client;
  private readonly timeoutMs: number;
  private seq = 0;
  /** The last connection error, for the "unavailable" warning. */
  lastError = '';

  constructor(opts: RedisOptions) {
    this.name = redisLabel(opts.url);
    this.timeoutMs = opts.timeoutMs ?? 500;
    this.client = createClient({
      url: opts.url,
      ...(opts.password ? { password: opts.password } : {}),
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 5), 2000) },
    });
    // Without a listener an 'error' event would end the process.
    this.client.on('error', (err: Error) => {
      this.lastError = err.message || String(err);
    });
  }

  /** Connect once at start; a failure is not fatal (the client keeps retrying). */
  async connect(): Promise<void> {
    await this.bounded(this.client.connect().then(() => undefined), 3000);
  }

  private async bounded<T>(p: Promise<T>, ms = this.timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailable(`${this.name}: no answer within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([p, deadline]);
    } catch (err) {
      if (err instanceof StoreUnavailable) throw err;
      throw new StoreUnavailable(`${this.name}: ${(err as Error).message || this.lastError || 'unavailable'}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private ready(): void {
    if (!this.client.isReady) throw new StoreUnavailable(`${this.name}: not connected${this.lastError ? ` (${this.lastError})` : ''}`);
  }

  async increment(key: string, n: number, ttlMs: number): Promise<number> {
    this.ready();
    return Number(await this.bounded(this.client.eval(INCREMENT, { keys: [PREFIX + key], arguments: [String(n), String(Math.max(0, Math.round(ttlMs)))] })));
  }

  async addEvent(key: string, now: number, windowMs: number): Promise<number> {
    this.ready();
    const member = `${now}-${process.pid}-${this.seq++}`;
    return Number(await this.bounded(this.client.eval(ADD_EVENT, { keys: [PREFIX + key], arguments: [String(now), String(Math.round(windowMs)), member] })));
  }

  async countEvents(key: string, now: number, windowMs: number): Promise<number> {
    this.ready();
    return Number(await this.bounded(this.client.zCount(PREFIX + key, `(${now - windowMs}`, '+inf')));
  }

  async get(key: string): Promise<string | undefined> {
    this.ready();
    const v = await this.bounded(this.client.get(PREFIX + key));
    return v === null || v === undefined ? undefined : String(v);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.ready();
    await this.bounded(ttlMs > 0 ? this.client.set(PREFIX + key, value, { PX: Math.max(1, Math.round(ttlMs)) }) : this.client.set(PREFIX + key, value));
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.ready();
    if (keys.length) await this.bounded(this.client.del(keys.map((k) => PREFIX + k)));
  }

  async keys(prefix: string): Promise<string[]> {
    this.ready();
    const out = new Set<string>();
    const pattern = PREFIX + prefix.replace(/[*?[\]\\]/g, (c) => '\\' + c) + '*';
    await this.bounded((async () => {
      for await (const batch of this.client.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
        for (const k of batch as unknown as string[]) out.add(String(k).slice(PREFIX.length));
      }
    })(), 10_000);
    return [...out];
  }

  async close(): Promise<void> {
    try {
      if (this.client.isOpen) await this.bounded(this.client.quit(), 1000);
    } catch {
      /* closing anyway */
    }
    try {
      this.client.destroy();
    } catch {
      /* already closed */
    }
  }
}
