/**
 * A private redis-server for tests: loopback, a free port, a temporary directory, no
 * persistence, started as a child and stopped by its PID.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { program } from './packages.js';
import { freePort } from './ports.js';

export interface Redis {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** Stop and delete the temporary directory. */
  remove(): Promise<void>;
  /** Start again on the same port (after stop). */
  start(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let buf = '';
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
    s.once('error', () => resolve(false));
  });
}

export async function startRedis(opts: { password?: string } = {}): Promise<Redis> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    proc = spawn(program('redis-server'), [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning',
      ...(opts.password ? ['--requirepass', opts.password] : []),
    ], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      // With a password PING answers -NOAUTH: a reply of any kind means it is up.
      if (opts.password ? await new Promise<boolean>((r) => {
        const s = connect({ port, host: '127.0.0.1' }, () => {
          s.destroy();
          r(true);
        });
        s.once('error', () => r(false));
      }) : await ping(port)) return;
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await launch();
  const stopProc = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 3000).unref();
    });
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get pid() {
      return proc?.pid ?? 0;
    },
    async stop() {
      await stopProc();
    },
    async remove() {
      await stopProc();
      rmSync(dir, { recursive: true, force: true });
    },
    async start() {
      await launch();
    },
  };
}
