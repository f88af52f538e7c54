/** Process-state helpers for tests that freeze a server with SIGSTOP. */
import { readFileSync } from 'node:fs';

/**
 * Wait (synchronously, at most 2 s) until `pid` is really stopped: kill() returns before the
 * signal takes effect, and a server still running for a moment answers the next query.
 */
export function waitStopped(pid: number): void {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    try {
      // /proc/PID/stat: "pid (comm) S …" — the state letter follows the last ")".
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^[Tt]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))) return;
    } catch {
      return; // gone
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}
