/**
 * A private SpamAssassin spamd for tests: listens on 127.0.0.1:<free port>, local tests
 * only (-L: no DNS or network checks), its own home directory, one child; stopped by PID.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { program } from './packages.js';
import { freePort, canConnect } from './ports.js';

export interface Spamd {
  readonly port: number;
  stop(): Promise<void>;
}


export async function startSpamd(): Promise<Spamd> {
  const port = await freePort();
  const home = mkdtempSync(join(tmpdir(), 'postern-spamd-'));
  const args = ['--listen', `127.0.0.1:${port}`, '-L', '-x', '--max-children', '1', '--min-children', '1', '--syslog', 'stderr', '--helper-home-dir', home];
  if (process.getuid?.() === 0) args.push('-u', 'nobody');
  const proc: ChildProcess = spawn(program('spamd'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!(await canConnect(port))) {
    if (proc.exitCode !== null) throw new Error(`spamd exited with ${proc.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`spamd did not listen on ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}
