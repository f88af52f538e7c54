/**
 * mysql: tables (MySQL and MariaDB) through the mysql2 driver, loaded at the first query.
 *
 * One small pool per host, created at the first query: up to 4 connections, idle ones
 * closed after idle_interval. Queries are server-side prepared statements (execute), so
 * the key travels as a bound value. Connecting and each query are bounded by the
 * table's timeout; a connection that timed out or broke is destroyed, never reused.
 * A connection found dead (the server restarted) is retried once on a fresh connection
 * before the host counts as failed, so a restart costs no lookup.
 * Trust: the server's answers are data; TLS and option files are refused at parse time.
 */

import type { Pool, PoolConnection, PoolOptions } from 'mysql2';
import { bounded, type SqlDriver } from './base.js';
import type { SqlConfig } from './query-file.js';
import { Failover, parseHost, type Host } from './hosts.js';

type Mysql2 = typeof import('mysql2');

/** Errors that mean "this connection is gone", worth one retry on a fresh connection. */
const STALE = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED', 'ERR_STREAM_DESTROYED']);

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { sqlMessage?: string };
  return e.sqlMessage ? `${e.code ?? 'error'}: ${e.sqlMessage}` : e.message || String(err);
}

export class MysqlDriver implements SqlDriver {
  private readonly hosts: Host[];
  private readonly failover: Failover<Host>;
  private readonly pools = new Map<Host, Pool>();
  private lib: Promise<Mysql2> | undefined;

  constructor(private readonly cfg: SqlConfig) {
    this.hosts = cfg.hosts.map((h) => parseHost(h, 'mysql'));
    this.failover = new Failover(this.hosts, cfg.retryMs);
  }

  private async pool(host: Host): Promise<Pool> {
    const existing = this.pools.get(host);
    if (existing) return existing;
    this.lib ??= import('mysql2').then((m) => ((m as { default?: Mysql2 }).default ?? m));
    const mysql = await this.lib;
    const again = this.pools.get(host);
    if (again) return again;
    const where: PoolOptions =
      host.kind === 'unix' ? { socketPath: host.path } : host.kind === 'tcp' ? { host: host.host, port: host.port ?? 3306 } : {};
    const pool = mysql.createPool({
      ...where,
      user: this.cfg.user,
      password: this.cfg.password,
      database: this.cfg.dbname,
      connectTimeout: this.cfg.timeoutMs,
      connectionLimit: 4,
      maxIdle: 1,
      idleTimeout: this.cfg.idleMs || 60_000,
      queueLimit: 100,
      multipleStatements: false,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      charset: 'UTF8MB4_GENERAL_CI',
    });
    this.pools.set(host, pool);
    return pool;
  }

  private connection(pool: Pool): Promise<PoolConnection> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new Error(`no connection within ${this.cfg.timeoutMs / 1000}s`));
      }, this.cfg.timeoutMs);
      pool.getConnection((err, conn) => {
        if (done) {
          conn?.destroy(); // arrived after we gave up: its state is unknown
          return;
        }
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(conn);
      });
    });
  }

  private execute(conn: PoolConnection, sql: string, params: readonly string[]): Promise<unknown[][]> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        conn.destroy();
        reject(new Error(`query timed out after ${this.cfg.timeoutMs / 1000}s`));
      }, this.cfg.timeoutMs);
      conn.execute({ sql, rowsAsArray: true }, params as string[], (err, rows) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          if ((err as { fatal?: boolean }).fatal || STALE.has(err.code ?? '')) conn.destroy();
          else conn.release();
          reject(err);
          return;
        }
        conn.release();
        if (!Array.isArray(rows)) reject(new Error('the query did not return a result set'));
        else resolve(rows as unknown[][]);
      });
    });
  }

  private async once(host: Host, sql: string, params: readonly string[]): Promise<unknown[][]> {
    const pool = await this.pool(host);
    return this.execute(await this.connection(pool), sql, params);
  }

  async query(sql: string, params: readonly string[]): Promise<unknown[][]> {
    return this.failover.run(async (host) => {
      try {
        return await this.once(host, sql, params);
      } catch (err) {
        if (!STALE.has((err as NodeJS.ErrnoException).code ?? '')) throw new Error(describe(err));
        try {
          return await this.once(host, sql, params);
        } catch (err2) {
          throw new Error(describe(err2));
        }
      }
    });
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((p) => bounded(new Promise<void>((r) => p.end(() => r())), 2000)));
  }
}
