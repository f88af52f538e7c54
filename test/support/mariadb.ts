/**
 * A private MariaDB server (Debian's mariadb-server) for SQL-table tests: a fresh data
 * directory in a temporary directory (mariadb-install-db), mariadbd on a UNIX socket in
 * that directory and on 127.0.0.1 at a free port, with the grant tables on (the tests use
 * a real user with a password). Started and stopped by PID; stop() and start() keep the
 * data, so a test can take the database away and bring it back.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { program } from './packages.js';
import { waitStopped } from './process-state.js';
import { run } from './server.js';
import { freePort, canConnect } from './ports.js';

export interface MariaDb {
  readonly dir: string;
  readonly socket: string;
  readonly port: number;
  /** Run SQL as root through the mariadb client; resolves with its tab-separated output. */
  sql(statements: string, database?: string): Promise<string>;
  start(): Promise<void>;
  /** SIGTERM by PID (the server closes client connections), wait for the exit. */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that accepts connections but never answers. */
  freeze(): void;
  thaw(): void;
  cleanup(): Promise<void>;
}


export async function startMariaDb(): Promise<MariaDb> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-mariadb-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const port = await freePort();
  const inst = await run('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--user=root', '--skip-test-db'], { timeoutMs: 60_000 });
  if (inst.code !== 0) throw new Error(`mariadb-install-db failed (${inst.code}): ${inst.stdout}${inst.stderr}`);
  let proc: ChildProcess | undefined;

  const self: MariaDb = {
    dir, socket, port,
    async sql(statements, database) {
      const r = await run('mariadb', ['--no-defaults', '-S', socket, '-uroot', '--batch', '--skip-column-names', ...(database ? [database] : [])], { input: statements, timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`mariadb: ${r.stderr}`);
      return r.stdout;
    },
    async start() {
      if (proc && proc.exitCode === null && proc.signalCode === null) return; // already running
      proc = spawn(program('mariadbd'), [
        '--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1', '--user=root',
        `--pid-file=${join(dir, 'mariadbd.pid')}`, `--log-error=${join(dir, 'error.log')}`, '--skip-log-bin', '--innodb-buffer-pool-size=16M',
        '--skip-name-resolve', '--innodb-flush-log-at-trx-commit=0',
      ], { stdio: 'ignore' });
      const deadline = Date.now() + 20_000;
      while (!(existsSync(socket) && (await canConnect(socket)))) {
        if (proc.exitCode !== null) throw new Error(`mariadbd exited with ${proc.exitCode}; see ${join(dir, 'error.log')}`);
        if (Date.now() > deadline) throw new Error('mariadbd did not open its socket within 20 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGCONT');
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
    freeze() {
      proc?.kill('SIGSTOP');
      if (proc?.pid) waitStopped(proc.pid);
    },
    thaw() {
      proc?.kill('SIGCONT');
    },
    async cleanup() {
      await self.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  return self;
}
