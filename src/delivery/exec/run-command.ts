/**
 * Run one delivery command (Postfix's pipe_command()): as the given uid/gid in its own
 * session (so a time limit kills the whole process group), with a clean environment, the
 * message on standard input, and the first 4096 bytes of its standard output and error
 * kept for the delivery status. The command and its output are untrusted; nothing here
 * throws for what the command does — every end is a RunResult.
 *
 * argv runs the program directly (pipe(8): no shell); shellCommand runs `/bin/sh -c`
 * (local(8) "|command" entries). A command that stops reading its input early is not an
 * error (EPIPE is ignored, as in Postfix).
 */

import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export type RunResult =
  | { readonly kind: 'exit'; readonly code: number; readonly output: string }
  | { readonly kind: 'signal'; readonly signal: number; readonly output: string }
  | { readonly kind: 'timeout'; readonly output: string }
  /** The command could not be started (no such program, not executable, no right to switch user). */
  | { readonly kind: 'spawn-error'; readonly error: NodeJS.ErrnoException; readonly output: string };

export interface RunOptions {
  readonly argv?: readonly string[];
  readonly shellCommand?: string;
  /** Omitted: run as Postern's own user. */
  readonly uid?: number;
  readonly gid?: number;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly input: Buffer;
  readonly timeLimitMs: number;
}

/** Postfix reads one VSTREAM buffer of command output. */
const OUTPUT_LIMIT = 4096;

/**
 * Command output as Postfix shows it in a status text: tabs and newlines become spaces,
 * other control characters and bytes that are not UTF-8 become "_".
 */
export function printableOutput(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i < buf.length) {
    const c = buf[i]!;
    if (c === 0x09 || c === 0x0a) { out += ' '; i++; continue; }
    if (c < 0x80) { out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '_'; i++; continue; }
    const len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    const seq = len ? buf.subarray(i, i + len) : undefined;
    if (seq && seq.length === len && seq.subarray(1).every((b) => (b & 0xc0) === 0x80)) {
      const s = seq.toString('utf8');
      if (!s.includes('\ufffd')) { out += s; i += len; continue; }
    }
    out += '_';
    i++;
  }
  return out;
}

export function runCommand(opts: RunOptions): Promise<RunResult> {
  const file = opts.shellCommand !== undefined ? '/bin/sh' : opts.argv?.[0];
  const args = opts.shellCommand !== undefined ? ['-c', opts.shellCommand] : (opts.argv ?? []).slice(1);
  return new Promise<RunResult>((resolve) => {
    if (!file) {
      resolve({ kind: 'spawn-error', error: Object.assign(new Error('empty command'), { code: 'ENOENT' }), output: '' });
      return;
    }
    const chunks: Buffer[] = [];
    let kept = 0;
    let timedOut = false;
    let done = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let straggler: NodeJS.Timeout | undefined;
    const child = spawn(file, args, {
      env: { ...opts.env },
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.gid,
      detached: true, // setsid(): the time limit kills the command and everything it started
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const finish = (r: RunResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(straggler);
      resolve(r);
    };
    const output = (): string => printableOutput(Buffer.concat(chunks));
    const collect = (b: Buffer): void => {
      if (kept >= OUTPUT_LIMIT) return; // keep draining so the command never blocks on a full pipe
      const take = b.subarray(0, OUTPUT_LIMIT - kept);
      chunks.push(take);
      kept += take.length;
    };
    const killGroup = (): void => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
      // A descendant that left the session may hold the pipes open: do not wait for it.
      straggler = setTimeout(() => finish({ kind: 'timeout', output: output() }), 2000);
    }, opts.timeLimitMs);
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.stdin.on('error', () => { /* EPIPE: the command stopped reading; its exit status decides */ });
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish({ kind: 'spawn-error', error, output: '' });
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      const e = exit ?? { code, signal };
      if (timedOut) finish({ kind: 'timeout', output: output() });
      else if (e.signal) finish({ kind: 'signal', signal: constants.signals[e.signal] ?? 0, output: output() });
      else finish({ kind: 'exit', code: e.code ?? 0, output: output() });
    });
    if (child.pid !== undefined) child.stdin.end(opts.input);
  });
}
