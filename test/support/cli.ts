/**
 * Run our own command line (`node bin/postern.js -c DIR …`, or bin/sendmail.js) as a real
 * child process, with optional stdin, environment and user; resolves with the exit code
 * and output (bounded by timeoutMs).
 */

import { join } from 'node:path';
import { ROOT, BIN, run } from './server.js';

export const SENDMAIL_BIN = join(ROOT, 'bin', 'sendmail.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runNode(script: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<CliResult> {
  return run(process.execPath, [script, ...args], opts);
}

/** `postern -c configDir ARGS…` */
export function postern(configDir: string, args: string[], opts: Parameters<typeof runNode>[2] = {}): Promise<CliResult> {
  return runNode(BIN, ['-c', configDir, ...args], opts);
}
