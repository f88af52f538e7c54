/**
 * Start the real Postern (`node bin/postern.js -c DIR start-fg`, from dist/) with a config
 * directory written by the test, wait until its listeners accept connections, and stop it
 * by PID. Everything lives in a fresh temporary directory.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, mkdirSync, rmSync, openSync, closeSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';

import { ROOT } from './root.js';
import { program } from './packages.js';
import { canConnect } from './ports.js';

export { ROOT };
export const BIN = join(ROOT, 'bin', 'postern.js');

export interface Postern {
  readonly dir: string;
  readonly configDir: string;
  readonly logFile: string;
  proc: ChildProcess;
  readonly pid: number;
  log(): string;
  waitForLog(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
  restart(): Promise<void>;
  cleanup(): void;
}

export interface StartOptions {
  mainCf: string;
  /** master.cf text; use `smtpService(port)` for one listener. */
  masterCf: string;
  /** Extra files, relative to the config directory. */
  files?: Record<string, string>;
  env?: Record<string, string>;
  /** Ports to wait for (default: every host:port service in masterCf). */
  ports?: number[];
  dir?: string;
}

export function smtpService(port: number, extra = ''): string {
  return `127.0.0.1:${port} inet n - n - - smtpd${extra ? '\n' + extra : ''}\n`;
}

/** A sane main.cf for tests: everything under `dir`, no DNS unless a server is given. */
export function baseMainCf(dir: string, overrides: Record<string, string> = {}, dnsPort?: number): string {
  const base: Record<string, string> = {
    myhostname: 'mx.test',
    mydomain: 'test',
    mydestination: 'mx.test, localhost',
    mynetworks: '127.0.0.0/8',
    queue_directory: join(dir, 'queue'),
    data_directory: join(dir, 'lib'),
    maillog_file: join(dir, 'maillog'),
    smtpd_peername_lookup: dnsPort ? 'yes' : 'no',
    // Tests drive many refusals from loopback on purpose: the auto-ban (on by default) would
    // end them. Ban tests set postern_ban_exceptions themselves.
    postern_ban_exceptions: '127.0.0.0/8, [::1]/128',
    // Never the system resolver (not on loopback here): the test's DNS server, or none.
    ...(dnsPort ? { dns_servers: `127.0.0.1:${dnsPort}` } : { postern_dns_lookups: 'no' }),
    ...overrides,
  };
  return Object.entries(base).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
}

function portsOf(masterCf: string): number[] {
  return [...masterCf.matchAll(/^\S*?:(\d+)\s+inet\b/gm)].map((m) => Number(m[1]));
}


export async function startPostern(opts: StartOptions): Promise<Postern> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'postern-test-'));
  const configDir = join(dir, 'config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'main.cf'), opts.mainCf);
  writeFileSync(join(configDir, 'master.cf'), opts.masterCf);
  for (const [name, text] of Object.entries(opts.files ?? {})) {
    mkdirSync(dirname(join(configDir, name)), { recursive: true });
    writeFileSync(join(configDir, name), text);
  }
  const logFile = join(dir, 'maillog');
  const ports = opts.ports ?? portsOf(opts.masterCf);
  let proc!: ChildProcess;

  const launch = async (): Promise<void> => {
    const out = openSync(join(dir, 'stdout.txt'), 'a');
    const err = openSync(join(dir, 'stderr.txt'), 'a');
    proc = spawn(process.execPath, [BIN, '-c', configDir, 'start-fg'], { stdio: ['ignore', out, err], env: { ...process.env, ...opts.env } });
    closeSync(out);
    closeSync(err);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`postern exited with ${proc.exitCode}: ${readFileSync(join(dir, 'stderr.txt'), 'utf8')}`);
      const up = await Promise.all(ports.map((p) => canConnect(p)));
      if (up.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`postern did not start listening on ${ports.join(', ')}: ${readFileSync(join(dir, 'stderr.txt'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await launch();

  const exited = (): Promise<number | null> =>
    proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve(proc.exitCode) : new Promise((r) => proc.once('exit', (code) => r(code)));

  const self: Postern = {
    dir, configDir, logFile,
    get proc() {
      return proc;
    },
    get pid() {
      return proc.pid ?? 0;
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async waitForLog(re, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = self.log().match(re);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`log never matched ${re}; log:\n${self.log()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await exited();
      clearTimeout(t);
      return code;
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited();
    },
    async restart() {
      await launch();
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** The message files in a Maildir's new/ directory, with contents. */
export function maildirMessages(maildir: string): { name: string; text: string }[] {
  const newDir = join(maildir, 'new');
  if (!existsSync(newDir)) return [];
  return readdirSorted(newDir).map((name) => ({ name, text: readFileSync(join(newDir, name), 'utf8') }));
}

function readdirSorted(d: string): string[] {
  return readdirSync(d).sort();
}

/**
 * Run an external program (checked against test/debian-packages.txt; node itself needs no
 * package), optionally as another user, collecting output; resolves with the exit code
 * (bounded by timeoutMs).
 */
export function run(cmd: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string>; uid?: number; gid?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const path = cmd === process.execPath ? cmd : program(cmd);
  return new Promise((resolve) => {
    const p = spawn(path, args, { env: { ...process.env, ...opts.env }, ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    p.stdin.on('error', () => undefined); // a child that exits without reading its input
    p.stdin.end(opts.input ?? '');
  });
}
