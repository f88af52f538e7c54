/**
 * A private PostgreSQL 15 server (Debian's postgresql) for SQL-table tests: initdb in a
 * temporary directory, postgres with its UNIX socket in that directory and TCP on
 * 127.0.0.1 at a free port. PostgreSQL refuses to run as root, so initdb and postgres run
 * as the `postgres` system account (or `nobody`) on a directory handed to it. Local
 * (socket) connections are trusted; TCP needs a password (scram-sha-256). Started and
 * stopped by PID; stop() and start() keep the data.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { program } from './packages.js';
import { run } from './server.js';
import { freePort } from './ports.js';

const BIN = '/usr/lib/postgresql/15/bin';

export interface Postgres {
  readonly dir: string;
  /** The socket directory (libpq's host for UNIX sockets). */
  readonly socketDir: string;
  readonly port: number;
  /** Run SQL as the superuser through psql; resolves with its unaligned output. */
  sql(statements: string, database?: string): Promise<string>;
  start(): Promise<void>;
  stop(): Promise<void>;
  freeze(): void;
  thaw(): void;
  cleanup(): Promise<void>;
}

/** SIGINT the postmaster named in its pid file (ours: this test's data directory), wait until it is gone. */
async function stopByPidFile(file: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  // Only a postgres running on this data directory (a stale pid file may name a reused PID).
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dirname(file))) return;
  } catch {
    return;
  }
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGCONT');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(pid, 'SIGKILL');
}

function account(): { uid: number; gid: number } {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
  for (const name of ['postgres', 'nobody']) {
    const f = passwd.find((x) => x[0] === name);
    if (f) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error('neither a postgres nor a nobody account exists to run PostgreSQL as');
}

export async function startPostgres(): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-postgres-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const who = process.getuid?.() === 0 ? account() : undefined;
  if (who) chownSync(dir, who.uid, who.gid);
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, 'superpw\n');
  if (who) chownSync(pwfile, who.uid, who.gid);
  const init = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(program(`${BIN}/initdb`), ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '--no-sync', '-E', 'UTF8', '--locale=C'], { ...who, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => resolve({ code, out }));
  });
  if (init.code !== 0) throw new Error(`initdb failed (${init.code}): ${init.out}`);
  let proc: ChildProcess | undefined;
  /** The postmaster and its children (backends call setsid(), so a process group would miss them). */
  const family = (): number[] => {
    if (!proc?.pid) return [];
    const kids = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
      try {
        // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after ")".
        const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === proc!.pid;
      } catch {
        return false;
      }
    });
    return [proc.pid, ...kids.map(Number)];
  };

  const psql = (statements: string, database = 'postgres'): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(port), '-U', 'postgres', '-d', database], { input: statements, timeoutMs: 30_000 });

  const self: Postgres = {
    dir, socketDir: dir, port,
    async sql(statements, database) {
      const r = await psql(statements, database);
      if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
      return r.stdout;
    },
    async start() {
      if (proc && proc.exitCode === null && proc.signalCode === null) return; // already running
      proc = spawn(program(`${BIN}/postgres`), ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'logging_collector=off'], {
        ...who, stdio: ['ignore', 'ignore', 'ignore'],
      });
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`postgres exited with ${proc.exitCode}`);
        if (existsSync(join(dir, `.s.PGSQL.${port}`)) && (await psql('SELECT 1')).code === 0) return;
        if (Date.now() > deadline) throw new Error('postgres did not accept connections within 20 s');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      const p = proc;
      if (p && p.exitCode === null && p.signalCode === null) {
        const exited = new Promise<void>((r) => p.once('exit', () => r()));
        self.thaw();
        p.kill('SIGINT'); // "fast" shutdown: disconnect clients, then exit
        const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      // A postmaster this helper started but no longer holds (a start that raced a stop) is
      // still ours: its PID is in postmaster.pid. Stop it by that PID too.
      await stopByPidFile(join(data, 'postmaster.pid'));
    },
    freeze() {
      for (const pid of family()) process.kill(pid, 'SIGSTOP');
    },
    thaw() {
      for (const pid of family()) process.kill(pid, 'SIGCONT');
    },
    async cleanup() {
      await self.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  return self;
}
