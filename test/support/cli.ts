/**
 * Run our own command line (`node bin/postern.js -c DIR …`, or bin/sendmail.js) as a real
 * child process, with optional stdin, environment and user; resolves with the exit code
 * and output (bounded by timeoutMs).
 */

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, BIN } from './server.js';

export const SENDMAIL_BIN = join(ROOT, 'bin', 'sendmail.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runNode(script: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; uid?: number; gid?: number; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...opts.env },
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(opts.input ?? '');
  });
}

/** `postern -c configDir ARGS…` */
export function postern(configDir: string, args: string[], opts: Parameters<typeof runNode>[2] = {}): Promise<CliResult> {
  return runNode(BIN, ['-c', configDir, ...args], opts);
}
