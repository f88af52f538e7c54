/**
 * pgsql: tables (PostgreSQL) through the pg driver, loaded at the first query.
 *
 * One small pool per host, created at the first query (up to 4 connections, idle ones
 * closed after idle_interval). Queries use the extended protocol with $n parameters, so
 * the key travels as a bound value; every column comes back as the server's text (no
 * JavaScript conversion: a boolean is "t", as Postfix sees it). Connecting and each query
 * are bounded by the table's timeout; a client that failed is discarded by the pool.
 * A connection found dead (the server restarted) is retried once on a fresh one.
 * Trust: the server's answers are data.
 */

import type { Pool, PoolConfig } from 'pg';
import { basename, dirname } from 'node:path';
import { bounded, type SqlDriver } from './base.js';
import type { SqlConfig } from './query-file.js';
import { Failover, parseHost, type Host } from './hosts.js';

type Pg = typeof import('pg');

/** Errors that mean "this connection is gone", worth one retry on a fresh connection. */
function stale(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return ['57P01', '57P02', 'ECONNRESET', 'EPIPE'].includes(e.code ?? '') || /Connection terminated/i.test(e.message ?? '');
}

function where(host: Host): PoolConfig {
  switch (host.kind) {
    case 'uri':
      return { connectionString: host.uri };
    case 'unix': {
      // libpq wants the socket directory; accept the socket file too (.s.PGSQL.5432).
      const m = /^\.s\.PGSQL\.(\d+)$/.exec(basename(host.path));
      return m ? { host: dirname(host.path), port: Number(m[1]) } : { host: host.path, port: 5432 };
    }
    case 'tcp':
      return { host: host.host, port: host.port ?? 5432 };
  }
}

export class PgsqlDriver implements SqlDriver {
  private readonly hosts: Host[];
  private readonly failover: Failover<Host>;
  private readonly pools = new Map<Host, Pool>();
  private lib: Promise<Pg> | undefined;
  /** Set once the server could not type a bare $n: from then on the text-cast form is used. */
  private useText = false;

  constructor(private readonly cfg: SqlConfig) {
    this.hosts = cfg.hosts.map((h) => parseHost(h, 'pgsql'));
    this.failover = new Failover(this.hosts, cfg.retryMs);
  }

  private async pool(host: Host): Promise<Pool> {
    const existing = this.pools.get(host);
    if (existing) return existing;
    this.lib ??= import('pg').then((m) => ((m as unknown as { default?: Pg }).default ?? m));
    const pg = await this.lib;
    const again = this.pools.get(host);
    if (again) return again;
    const pool = new pg.Pool({
      ...where(host),
      ...(this.cfg.user ? { user: this.cfg.user } : {}),
      ...(this.cfg.password ? { password: this.cfg.password } : {}),
      database: this.cfg.dbname,
      max: 4,
      idleTimeoutMillis: this.cfg.idleMs || 60_000,
      connectionTimeoutMillis: this.cfg.timeoutMs,
      query_timeout: this.cfg.timeoutMs,
      allowExitOnIdle: true,
      // Every value as the server's text, as libpq gives it to Postfix.
      types: { getTypeParser: () => (v: string) => v } as unknown as PoolConfig['types'],
    });
    // An idle client that loses its server emits 'error' on the pool; the pool drops it.
    pool.on('error', () => undefined);
    this.pools.set(host, pool);
    return pool;
  }

  private async once(host: Host, sql: string, params: readonly string[]): Promise<unknown[][]> {
    const pool = await this.pool(host);
    const res = await pool.query({ text: sql, values: params as string[], rowMode: 'array' });
    if (!res.fields?.length && res.command !== 'SELECT') throw new Error('the query did not return a result set');
    return res.rows as unknown[][];
  }

  async query(sql: string, params: readonly string[], textSql?: string): Promise<unknown[][]> {
    return this.failover.run(async (host) => {
      const run = async (): Promise<unknown[][]> => {
        try {
          return await this.once(host, this.useText && textSql ? textSql : sql, params);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== '42P18' || !textSql || this.useText) throw err;
          this.useText = true; // "could not determine data type of parameter $n"
          return this.once(host, textSql, params);
        }
      };
      try {
        return await run();
      } catch (err) {
        if (!stale(err)) throw new Error((err as Error).message || String(err));
        try {
          return await run();
        } catch (err2) {
          throw new Error((err2 as Error).message || String(err2));
        }
      }
    });
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((p) => bounded(p.end(), 2000)));
  }
}
