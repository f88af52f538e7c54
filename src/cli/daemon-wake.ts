/**
 * Telling the running daemon to look at the queue again, after a queue tool or `postern
 * sendmail` changed it: SIGUSR1 to the pid in data_directory/postern.pid (main.ts answers
 * with scheduler.wake()). A signal needs no socket, no protocol and no daemon-side state;
 * the queue database itself carries the change (SQLite WAL, safe for concurrent writers).
 * If the signal cannot be sent, nothing is lost: the daemon scans the queue every
 * queue_run_delay (at most a minute) and at start.
 *
 * A stale pid file could name an unrelated process by now; on Linux its command line is
 * checked first, so a reused PID never gets our signal.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type WakeResult = 'woken' | 'not-running' | 'no-permission';

function looksLikePostern(pid: number): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true; // not Linux: trust the pid file
  try {
    return readFileSync(cmdline, 'latin1').includes('start-fg');
  } catch {
    return false;
  }
}

/** The pid of the daemon using `dataDirectory`, when one runs. */
export function runningDaemonPid(dataDirectory: string): number | undefined {
  const file = join(dataDirectory, 'postern.pid');
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return looksLikePostern(pid) ? pid : undefined;
}

/** SIGUSR1: look at the queue again; SIGUSR2 (a flush, like `postqueue -f`): also retry suspended destinations and defer_transports. */
export function wakeDaemon(dataDirectory: string, how: 'wake' | 'flush' = 'wake'): WakeResult {
  const pid = runningDaemonPid(dataDirectory);
  if (!pid) return 'not-running';
  try {
    process.kill(pid, how === 'flush' ? 'SIGUSR2' : 'SIGUSR1');
    return 'woken';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'no-permission' : 'not-running';
  }
}
