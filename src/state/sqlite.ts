/**
 * The embedded state store (the default): one SQLite file, `state.db` under data_directory,
 * through better-sqlite3 (the binding the queue uses). WAL mode, so `postern bans` and
 * `postern greylist` read and change it while the daemon runs; synchronous = NORMAL, since
 * a lost last second of counters after a power cut costs nothing (bans and triplets written
 * earlier survive; mail is never at stake here). Expired rows are ignored when read and
 * purged every minute. Each operation is one statement or one transaction: atomic between
 * the daemon and the command line.
 */

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StateStore } from './types.js';

export class SqliteStore implements StateStore {
  readonly name: string;
  private readonly db: Database.Database;
  private readonly sweeper: NodeJS.Timeout;
  private readonly st: {
    get: Database.Statement<[string, number], { value: string }>;
    set: Database.Statement<[string, string, number]>;
    incrExisting: Database.Statement<[number, string, number], { value: string }>;
    insertCounter: Database.Statement<[string, string, number]>;
    delKv: Database.Statement<[string]>;
    delEvents: Database.Statement<[string]>;
    addEvent: Database.Statement<[string, number]>;
    trim: Database.Statement<[string, number]>;
    count: Database.Statement<[string, number], { n: number }>;
    kvKeys: Database.Statement<[string, string, number], { key: string }>;
    eventKeys: Database.Statement<[string, string, number], { key: string }>;
  };
  private readonly incrementTx: (key: string, n: number, ttlMs: number, now: number) => number;
  private readonly addEventTx: (key: string, now: number, windowMs: number) => number;

  constructor(readonly file: string, private readonly clock: () => number = Date.now) {
    this.name = `embedded (${file})`;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS events (key TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS events_key ON events (key, at);`);
    // expires = 0: kept forever. A live row: expires = 0 OR expires > now.
    this.st = {
      get: this.db.prepare('SELECT value FROM kv WHERE key = ? AND (expires = 0 OR expires > ?)'),
      set: this.db.prepare('INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires'),
      incrExisting: this.db.prepare("UPDATE kv SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT) WHERE key = ? AND (expires = 0 OR expires > ?) RETURNING value"),
      insertCounter: this.db.prepare('INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires'),
      delKv: this.db.prepare('DELETE FROM kv WHERE key = ?'),
      delEvents: this.db.prepare('DELETE FROM events WHERE key = ?'),
      addEvent: this.db.prepare('INSERT INTO events (key, at) VALUES (?, ?)'),
      trim: this.db.prepare('DELETE FROM events WHERE key = ? AND at <= ?'),
      count: this.db.prepare('SELECT count(*) AS n FROM events WHERE key = ? AND at > ?'),
      kvKeys: this.db.prepare("SELECT key FROM kv WHERE key >= ? AND key < ? AND (expires = 0 OR expires > ?)"),
      eventKeys: this.db.prepare("SELECT DISTINCT key FROM events WHERE key >= ? AND key < ? AND at > ?"),
    };
    this.incrementTx = this.db.transaction((key: string, n: number, ttlMs: number, now: number): number => {
      const row = this.st.incrExisting.get(n, key, now);
      if (row) return Number(row.value);
      this.st.insertCounter.run(key, String(n), ttlMs > 0 ? now + ttlMs : 0);
      return n;
    });
    this.addEventTx = this.db.transaction((key: string, now: number, windowMs: number): number => {
      this.st.trim.run(key, now - windowMs);
      this.st.addEvent.run(key, now);
      return this.st.count.get(key, now - windowMs)!.n;
    });
    this.sweeper = setInterval(() => this.purge(), 60_000);
    this.sweeper.unref();
    this.purge();
  }

  /** Forget expired values and events older than 30 days (no feature looks further back). */
  private purge(): void {
    const now = this.clock();
    this.db.prepare('DELETE FROM kv WHERE expires != 0 AND expires <= ?').run(now);
    this.db.prepare('DELETE FROM events WHERE at <= ?').run(now - 30 * 86_400_000);
  }

  async increment(key: string, n: number, ttlMs: number): Promise<number> {
    return this.incrementTx(key, n, ttlMs, this.clock());
  }

  async addEvent(key: string, now: number, windowMs: number): Promise<number> {
    return this.addEventTx(key, now, windowMs);
  }

  async countEvents(key: string, now: number, windowMs: number): Promise<number> {
    return this.st.count.get(key, now - windowMs)!.n;
  }

  async get(key: string): Promise<string | undefined> {
    return this.st.get.get(key, this.clock())?.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.st.set.run(key, value, ttlMs > 0 ? this.clock() + ttlMs : 0);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) {
      this.st.delKv.run(k);
      this.st.delEvents.run(k);
    }
  }

  async keys(prefix: string): Promise<string[]> {
    // Range scan on the primary key: [prefix, prefix + U+FFFF).
    const end = prefix + '\uffff';
    const now = this.clock();
    const kv = this.st.kvKeys.all(prefix, end, now).map((r) => r.key);
    const ev = this.st.eventKeys.all(prefix, end, now - 30 * 86_400_000).map((r) => r.key);
    return [...new Set([...kv, ...ev])];
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    if (this.db.open) this.db.close();
  }
}
