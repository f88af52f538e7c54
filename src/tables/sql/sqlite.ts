/**
 * sqlite: tables through better-sqlite3 (the queue's engine), opened READ-ONLY at the
 * first query and kept open; statements are prepared once and the key is a bound
 * parameter. SQLite runs in-process and synchronously, so a lookup takes the event loop
 * for the length of one indexed query; a locked database waits at most the table's
 * timeout (busy timeout). A missing or unreadable file is an error (temporary failure),
 * never a miss. The file is stat()ed at each query: one that was replaced (a new inode)
 * is reopened, one that disappeared fails; after any error the next query reopens.
 */

import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { SqlDriver } from './base.js';
import type { SqlConfig } from './query-file.js';

export class SqliteDriver implements SqlDriver {
  private db: Database.Database | undefined;
  private inode = '';
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly cfg: SqlConfig, private readonly path: string) {}

  private open(): Database.Database {
    const st = statSync(this.path); // throws ENOENT when the file went away
    const inode = `${st.dev}:${st.ino}`;
    if (this.db && inode !== this.inode) this.reset();
    this.inode = inode;
    if (!this.db) {
      this.db = new Database(this.path, { readonly: true, fileMustExist: true, timeout: this.cfg.timeoutMs });
      this.statements.clear();
    }
    return this.db;
  }

  async query(sql: string, params: readonly string[]): Promise<unknown[][]> {
    try {
      const db = this.open();
      let st = this.statements.get(sql);
      if (!st) {
        st = db.prepare(sql);
        if (!st.reader) throw new Error('the query does not return rows (not a SELECT)');
        st.raw(true);
        this.statements.set(sql, st);
      }
      return st.all(...params) as unknown[][];
    } catch (err) {
      this.reset();
      throw new Error(`${this.path}: ${(err as Error).message}`);
    }
  }

  private reset(): void {
    try {
      this.db?.close();
    } catch {
      /* already unusable */
    }
    this.db = undefined;
    this.statements.clear();
  }

  async close(): Promise<void> {
    this.reset();
  }
}
