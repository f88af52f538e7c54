/**
 * Opens the state store main.cf selects and says what happens when it fails:
 * - postern_state_backend = embedded (default): SQLite in data_directory (state/sqlite.ts).
 * - postern_state_backend = redis://host:port/db: Redis shared by several MX hosts
 *   (state/redis.ts), password from postern_state_backend_password_file.
 *
 * Redis down is never a crash, a 5xx or lost mail (docs/abuse.md): `resilient` (bans, rate
 * limits) carries on in this process's memory and `primary` callers (greylisting) fail open.
 * Either way one warning per minute says so, and one line says when Redis is back.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Params } from '../config/types.js';
import { MemoryStore } from './memory.js';
import { SqliteStore } from './sqlite.js';
import { StoreUnavailable, type StateStore } from './types.js';

export interface StateLog {
  warning(message: string): void;
  info(message: string): void;
}

export interface SharedState {
  /** The configured store; its operations throw StoreUnavailable when it cannot be reached. */
  readonly primary: StateStore;
  /** The configured store, or this process's memory while the configured one is down. */
  readonly resilient: StateStore;
  /** Report a failure of `primary` (rate-limited warning); `effect` says what the feature does instead. */
  unavailable(err: unknown, effect: string): void;
  close(): Promise<void>;
}

/** The store's location as configured: "embedded" or a redis:// URL. */
export function stateBackend(params: Params): { kind: 'embedded'; file: string } | { kind: 'redis'; url: string } {
  const v = params.str('postern_state_backend');
  if (/^rediss?:\/\//i.test(v)) return { kind: 'redis', url: v };
  return { kind: 'embedded', file: join(params.str('data_directory'), 'state.db') };
}

/** Problems `postern check` reports for the backend settings. */
export function stateProblems(params: Params): string[] {
  const v = params.str('postern_state_backend');
  if (v === '' || v.toLowerCase() === 'embedded') return [];
  if (!/^rediss?:\/\/[^/\s]+(\/\d+)?\/?$/i.test(v)) return [`postern_state_backend: "${v}" is neither "embedded" nor redis://host:port/db`];
  const pw = params.str('postern_state_backend_password_file');
  if (pw) {
    try {
      readFileSync(pw, 'utf8');
    } catch (err) {
      return [`postern_state_backend_password_file: cannot read ${pw}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`];
    }
  }
  return [];
}

/** Open the store; Redis that cannot be reached yet is not an error (it is retried). */
export async function openState(params: Params, log: StateLog): Promise<SharedState> {
  const b = stateBackend(params);
  let primary: StateStore;
  if (b.kind === 'redis') {
    const pwFile = params.str('postern_state_backend_password_file');
    const password = pwFile ? readFileSync(pwFile, 'utf8').trim() : undefined;
    // Loaded only for the Redis backend: the client library costs about 24 MB of memory.
    const { RedisStore } = await import('./redis.js');
    const redis = new RedisStore({ url: b.url, ...(password ? { password } : {}) });
    try {
      await redis.connect();
    } catch (err) {
      log.warning(`state store ${redis.name} unavailable at start: ${(err as Error).message}; retrying in the background`);
    }
    primary = redis;
  } else {
    primary = new SqliteStore(b.file);
  }
  return withFallback(primary, log);
}

/** The fallback policy around any store (exported for tests). */
export function withFallback(primary: StateStore, log: StateLog, memory: StateStore = new MemoryStore()): SharedState {
  let lastWarning = 0;
  let down = false;
  const unavailable = (err: unknown, effect: string): void => {
    down = true;
    const now = Date.now();
    if (now - lastWarning < 60_000) return;
    lastWarning = now;
    log.warning(`state store ${primary.name} unavailable (${(err as Error).message}): ${effect}`);
  };
  const back = (): void => {
    if (!down) return;
    down = false;
    lastWarning = 0;
    log.info(`state store ${primary.name} is available again`);
  };
  const FALLBACK = 'bans and rate limits use this host\'s memory, greylisting accepts mail';
  const run = async <T>(op: (s: StateStore) => Promise<T>): Promise<T> => {
    try {
      const r = await op(primary);
      back();
      return r;
    } catch (err) {
      if (!(err instanceof StoreUnavailable)) throw err;
      unavailable(err, FALLBACK);
      return op(memory);
    }
  };
  const resilient: StateStore = {
    name: primary.name,
    increment: (k, n, t) => run((s) => s.increment(k, n, t)),
    addEvent: (k, now, w) => run((s) => s.addEvent(k, now, w)),
    countEvents: (k, now, w) => run((s) => s.countEvents(k, now, w)),
    get: (k) => run((s) => s.get(k)),
    set: (k, v, t) => run((s) => s.set(k, v, t)),
    delete: (k) => run((s) => s.delete(k)),
    keys: (p) => run((s) => s.keys(p)),
    close: async () => undefined,
  };
  const watchedPrimary: StateStore = {
    name: primary.name,
    increment: (k, n, t) => primary.increment(k, n, t).then((r) => (back(), r)),
    addEvent: (k, now, w) => primary.addEvent(k, now, w).then((r) => (back(), r)),
    countEvents: (k, now, w) => primary.countEvents(k, now, w).then((r) => (back(), r)),
    get: (k) => primary.get(k).then((r) => (back(), r)),
    set: (k, v, t) => primary.set(k, v, t).then(() => back()),
    delete: (k) => primary.delete(k).then(() => back()),
    keys: (p) => primary.keys(p).then((r) => (back(), r)),
    close: async () => undefined,
  };
  return {
    primary: watchedPrimary,
    resilient,
    unavailable: (err, effect) => unavailable(err, effect),
    close: async () => {
      await primary.close();
      await memory.close();
    },
  };
}
