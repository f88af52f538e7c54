/**
 * The connection cache (Postfix's scache, in-process): after a delivery, a still-usable
 * session is parked under its next hop for smtp_connection_cache_time_limit (default 2 s);
 * the next delivery request to the same transport and next hop takes it instead of
 * connecting, greeting and negotiating TLS again. Its first command is then RSET (see
 * session.ts). A parked connection the peer closes is dropped at once; one older than
 * smtp_connection_reuse_time_limit is closed instead of parked. close() sends QUIT to all.
 */

import type { SmtpSession } from './session.js';

interface Idle {
  readonly session: SmtpSession;
  readonly timer: NodeJS.Timeout;
}

export class ConnectionCache {
  private readonly idle = new Map<string, Idle[]>();
  /** Sessions whose close is already watched: one listener per connection, not one per reuse. */
  private readonly watched = new WeakSet<SmtpSession>();

  /** An idle, still-open session for `key`, removed from the cache; undefined when none. */
  take(key: string): SmtpSession | undefined {
    const list = this.idle.get(key);
    while (list && list.length) {
      const it = list.pop()!;
      clearTimeout(it.timer);
      if (it.session.usable) {
        if (list.length === 0) this.idle.delete(key);
        it.session.reused = true;
        return it.session;
      }
    }
    this.idle.delete(key);
    return undefined;
  }

  /** Park a session for ttlMs; closes it instead when it is too old or not usable. */
  put(key: string, session: SmtpSession, ttlMs: number, reuseLimitMs: number): void {
    if (!session.usable || ttlMs <= 0 || (reuseLimitMs > 0 && Date.now() - session.createdAt >= reuseLimitMs)) {
      session.quit();
      return;
    }
    const timer = setTimeout(() => {
      this.remove(key, session);
      session.quit();
    }, ttlMs);
    timer.unref();
    const list = this.idle.get(key) ?? [];
    list.push({ session, timer });
    this.idle.set(key, list);
    if (!this.watched.has(session)) {
      this.watched.add(session);
      session.conn.onClose(() => this.remove(key, session));
    }
  }

  private remove(key: string, session: SmtpSession): void {
    const list = this.idle.get(key);
    if (!list) return;
    const i = list.findIndex((x) => x.session === session);
    if (i >= 0) {
      clearTimeout(list[i]!.timer);
      list.splice(i, 1);
    }
    if (list.length === 0) this.idle.delete(key);
  }

  /** How many idle sessions are parked (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }

  closeAll(): void {
    for (const list of this.idle.values()) {
      for (const it of list) {
        clearTimeout(it.timer);
        it.session.quit();
      }
    }
    this.idle.clear();
  }
}
