/**
 * The one place where queue writes become durable. Each write is a SQLite transaction in
 * WAL mode; a transaction counts as durable only after the WAL file has been fdatasync'd.
 *
 * Group commit: SQLite runs with synchronous = OFF (it never blocks the event loop on an
 * fsync); instead we fdatasync the WAL file ourselves on libuv's thread pool, one sync at
 * a time. Every transaction committed while a sync is running waits for the next one, so
 * under load one fsync covers many messages, and the SMTP sessions keep being served
 * meanwhile. Checkpoints (copying the WAL into the database) are ours too and run with
 * synchronous = FULL, so the WAL is never reused before the database file is on disk.
 *
 * Tests can make writes fail: with POSTERN_TEST_FAULTS=1, a file "<queue_directory>/fault"
 * containing "eio" or "enospc" makes every commit fail that way (checked every 100 ms).
 */

import { readFileSync, openSync, fdatasync, fdatasyncSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { QueueWriteError } from './types.js';

/** Checkpoint once the WAL is this large (bytes) and no sync is running. */
const CHECKPOINT_BYTES = 64 * 1024 * 1024;

export class DurableWriter {
  private faultCheckedAt = 0;
  private fault: 'eio' | 'enospc' | undefined;
  private readonly faultsEnabled = process.env.POSTERN_TEST_FAULTS === '1';
  private walFd: number;
  private syncing = false;
  private waiting: { resolve: () => void; reject: (e: Error) => void; lazy?: boolean }[] = [];
  private commitsSinceCheck = 0;
  private closed = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  /** A lazy waiter's time is up: the next kick syncs even if every waiter is lazy. */
  private lazyDue = false;

  constructor(private readonly db: Database.Database, private readonly dir: string, private readonly dbFile: string) {
    db.pragma('synchronous = OFF');
    db.pragma('wal_autocheckpoint = 0');
    this.walFd = openSync(`${dbFile}-wal`, 'r+');
  }

  private injectedFault(): 'eio' | 'enospc' | undefined {
    if (!this.faultsEnabled) return undefined;
    const now = Date.now();
    if (now - this.faultCheckedAt >= 100) {
      this.faultCheckedAt = now;
      try {
        const f = readFileSync(join(this.dir, 'fault'), 'utf8').trim().toLowerCase();
        this.fault = f === 'eio' || f === 'enospc' ? f : undefined;
      } catch {
        this.fault = undefined;
      }
    }
    return this.fault;
  }

  /** Run `work` in one transaction (not yet durable); throws QueueWriteError. */
  write(work: () => void): void {
    const fault = this.injectedFault();
    if (fault === 'eio') throw new QueueWriteError('injected fault: I/O error', 'io');
    if (fault === 'enospc') throw new QueueWriteError('injected fault: no space left on device', 'nospace');
    try {
      this.db.transaction(work)();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'SQLITE_FULL' || code === 'ENOSPC') throw new QueueWriteError((err as Error).message, 'nospace');
      // Only local submission can meet an ID already taken (queue-id.ts); it retries.
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new QueueWriteError((err as Error).message, 'exists');
      throw new QueueWriteError((err as Error).message, 'io');
    }
  }

  /** Resolves once everything written so far is on stable storage. */
  durable(): Promise<void> {
    if (this.closed) return Promise.reject(new QueueWriteError('the queue is closed', 'io'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  /**
   * Like durable(), but does not start a sync of its own for `lazyMs`: it rides on the next
   * sync someone else starts (a new message's commit), so a delivered message's removal and
   * the next message share one fdatasync. Still resolves only once the write is on disk.
   */
  durableLazily(lazyMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new QueueWriteError('the queue is closed', 'io'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject, lazy: true });
      if (!this.lazyTimer) {
        this.lazyTimer = setTimeout(() => {
          this.lazyTimer = undefined;
          this.lazyDue = true;
          this.kick();
        }, lazyMs);
      }
    });
  }

  /** Write and wait until it is durable. */
  async commit(work: () => void): Promise<void> {
    this.write(work);
    await this.durable();
  }

  /** Start a sync for everything waiting; lazy waiters alone wait until their time is up. */
  private kick(): void {
    if (this.syncing || this.waiting.length === 0) return;
    if (!this.lazyDue && this.waiting.every((w) => w.lazy)) return;
    this.lazyDue = false;
    if (this.lazyTimer) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
    }
    const batch = this.waiting;
    this.waiting = [];
    this.syncing = true;
    fdatasync(this.walFd, (err) => {
      this.syncing = false;
      if (this.closed) {
        // close() synced everything synchronously meanwhile.
        this.closeFd();
        for (const w of batch) w.resolve();
        return;
      }
      if (err) {
        const e = new QueueWriteError(`fdatasync of the queue log failed: ${err.message}`, err.code === 'ENOSPC' ? 'nospace' : 'io');
        for (const w of batch) w.reject(e);
      } else {
        for (const w of batch) w.resolve();
      }
      this.maybeCheckpoint();
      this.kick();
    });
  }

  /** Copy the WAL into the database (with fsyncs) when it has grown, between syncs. */
  private maybeCheckpoint(): void {
    if (++this.commitsSinceCheck < 64 && this.waiting.length > 0) return;
    this.commitsSinceCheck = 0;
    let size = 0;
    try {
      size = statSync(`${this.dbFile}-wal`).size;
    } catch {
      return;
    }
    if (size < CHECKPOINT_BYTES) return;
    this.checkpoint();
  }

  checkpoint(): void {
    if (this.db.readonly || !this.db.open) return;
    try {
      this.db.pragma('synchronous = FULL');
      this.db.pragma('wal_checkpoint(RESTART)');
    } catch {
      // XXX: a failed checkpoint only leaves the WAL longer; the next one retries.
    } finally {
      this.db.pragma('synchronous = OFF');
    }
  }

  /**
   * Make everything written durable (one synchronous fdatasync, then a checkpoint), settle
   * every waiting promise and close the log descriptor (after an in-flight sync returns).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    let err: QueueWriteError | undefined;
    try {
      fdatasyncSync(this.walFd);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      err = new QueueWriteError(`fdatasync of the queue log failed: ${(e as Error).message}`, code === 'ENOSPC' ? 'nospace' : 'io');
    }
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) (err ? w.reject(err) : w.resolve());
    this.checkpoint();
    // SQLite's own checkpoint when the connection closes must sync too.
    this.db.pragma('synchronous = FULL');
    if (!this.syncing) this.closeFd();
  }

  private closeFd(): void {
    try {
      closeSync(this.walFd);
    } catch {
      /* already closed */
    }
  }
}
