/**
 * The one place where queue writes become durable: a SQLite transaction in WAL mode with
 * synchronous=FULL, so commit returns only after the WAL is fsync'd. Tests can make it fail:
 * with POSTERN_TEST_FAULTS=1, a file "<queue_directory>/fault" containing "eio" or "enospc"
 * makes every commit fail that way (checked at most every 100 ms).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { QueueWriteError } from './types.js';

export class DurableWriter {
  private faultCheckedAt = 0;
  private fault: 'eio' | 'enospc' | undefined;
  private readonly faultsEnabled = process.env.POSTERN_TEST_FAULTS === '1';

  constructor(private readonly db: Database.Database, private readonly dir: string) {}

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

  /** Run `work` in one transaction and make it durable; throws QueueWriteError. */
  commit(work: () => void): void {
    const fault = this.injectedFault();
    if (fault === 'eio') throw new QueueWriteError('injected fault: I/O error', 'io');
    if (fault === 'enospc') throw new QueueWriteError('injected fault: no space left on device', 'nospace');
    try {
      this.db.transaction(work)();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'SQLITE_FULL' || code === 'ENOSPC') throw new QueueWriteError((err as Error).message, 'nospace');
      throw new QueueWriteError((err as Error).message, 'io');
    }
  }
}
