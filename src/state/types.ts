/**
 * The state store: what outlives one SMTP session and may be shared by several MX hosts —
 * greylist triplets, bans and their failure counters, rate windows. One small interface
 * with three implementations: memory (tests, and the fallback while Redis is down), SQLite
 * (the embedded default, a file under data_directory) and Redis (several hosts).
 *
 * Keys are plain strings chosen by the features ("ban:192.0.2.1", "gl:t:…"); values are
 * strings (JSON where a feature needs structure). Every operation that must not race
 * between hosts is one atomic store operation (a Lua script in Redis, one statement in
 * SQLite); read-modify-write sequences that may race are marked XXX where they are used.
 */

export interface StateStore {
  /** For log lines and `postern bans`: "embedded (/var/lib/postern/state.db)", "redis://…". */
  readonly name: string;
  /**
   * Adds n to a counter and returns the new value. The TTL is set when the counter is
   * created and not refreshed, so the counter is a fixed window that opens with the first
   * event (anvil's rate window); ttlMs 0 keeps it forever (totals).
   */
  increment(key: string, n: number, ttlMs: number): Promise<number>;
  /**
   * Records one event at `now` in a sliding window (fail2ban's findtime): events older than
   * windowMs are forgotten. Returns how many remain, this one included.
   */
  addEvent(key: string, now: number, windowMs: number): Promise<number>;
  /** Events of `key` within the last windowMs. */
  countEvents(key: string, now: number, windowMs: number): Promise<number>;
  get(key: string): Promise<string | undefined>;
  /** ttlMs 0: no expiry. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  /** Live keys (counters, values and event logs) that begin with prefix. */
  keys(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/** A store that cannot be reached: features decide what that means (docs/abuse.md). */
export class StoreUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailable';
  }
}
