/**
 * Real milters from Debian for tests, each a private instance in a temporary directory,
 * listening on 127.0.0.1:<free port>, in the foreground, stopped by PID:
 * - opendkim (Mode sv) with a key made by opendkim-genkey, a KeyTable and a SigningTable;
 * - rspamd with only its proxy worker in milter mode (self_scan), the modules that need
 *   Redis or the network switched off, so GTUBE is its reject and clean mail gets headers.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { program } from './packages.js';
import { freePort, canConnect } from './ports.js';
import { run } from './server.js';

export interface Daemon {
  readonly port: number;
  readonly dir: string;
  output(): string;
  stop(): Promise<void>;
}


async function launch(name: string, cmd: string, args: string[], port: number, dir: string): Promise<Daemon> {
  const proc: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!(await canConnect(port))) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}: ${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name} did not listen on ${port}: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port, dir,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OpenDkim extends Daemon {
  /** The public key record to serve at <selector>._domainkey.<domain> (TXT). */
  readonly txt: string;
}

/** opendkim signing mail from `domain` (clients in its default InternalHosts, 127.0.0.1). */
export async function startOpenDkim(domain: string, selector: string): Promise<OpenDkim> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-opendkim-'));
  const port = await freePort();
  const g = await run('opendkim-genkey', ['-D', dir, '-d', domain, '-s', selector]);
  if (g.code !== 0) throw new Error(`opendkim-genkey failed: ${g.stderr}`);
  const txt = [...readFileSync(join(dir, `${selector}.txt`), 'utf8').matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
  writeFileSync(join(dir, 'KeyTable'), `${selector}._domainkey.${domain} ${domain}:${selector}:${join(dir, `${selector}.private`)}\n`);
  writeFileSync(join(dir, 'SigningTable'), `*@${domain} ${selector}._domainkey.${domain}\n`);
  const conf = join(dir, 'opendkim.conf');
  writeFileSync(conf, [
    'Syslog no', `Socket inet:${port}@127.0.0.1`, 'Mode sv', 'Background no', `PidFile ${join(dir, 'opendkim.pid')}`,
    `KeyTable file:${join(dir, 'KeyTable')}`, `SigningTable refile:${join(dir, 'SigningTable')}`,
    // The key lives under /tmp, which is world-writable: opendkim would call it unsafe and tempfail.
    'RequireSafeKeys false',
    // The default (simple/simple) on purpose: a signature that verifies proves Postern sent
    // the header and body byte for byte as it queued them.
  ].join('\n') + '\n');
  const d = await launch('opendkim', program('opendkim'), ['-f', '-x', conf], port, dir);
  return { ...d, txt };
}

/**
 * rspamd with its proxy worker as a milter (self_scan). Redis-backed and network modules
 * are disabled; everything else (GTUBE, header checks) runs as shipped.
 */
export async function startRspamd(): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-rspamd-'));
  const port = await freePort();
  const ctl = await freePort();
  for (const sub of ['local.d', 'override.d', 'db', 'run']) mkdirSync(join(dir, sub), { recursive: true });
  const disabled = ['redis', 'greylist', 'ratelimit', 'replies', 'neural', 'fuzzy_check', 'rbl', 'surbl', 'dkim_signing', 'arc', 'url_redirector',
    'history_redis', 'dmarc', 'reputation', 'bayes_expiry', 'metadata_exporter', 'clickhouse', 'elastic', 'mx_check', 'asn', 'emails', 'phishing', 'multimap', 'spamtrap', 'ip_score'];
  for (const m of disabled) writeFileSync(join(dir, 'local.d', `${m}.conf`), 'enabled = false;\n');
  writeFileSync(join(dir, 'local.d', 'options.inc'), `dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 0; }\nfilters = "";\n`);
  // Tag every message, also from loopback (rspamd skips local and authenticated clients by default).
  writeFileSync(join(dir, 'local.d', 'milter_headers.conf'), 'use = ["x-spamd-result", "x-spam-status"];\nskip_local = false;\nskip_authenticated = false;\n');
  // The proxy worker scans itself (self_scan); no normal or fuzzy worker; the controller on a free port.
  writeFileSync(join(dir, 'rspamd.conf'), [
    '.include "/etc/rspamd/rspamd.conf"',
  ].join('\n') + '\n');
  writeFileSync(join(dir, 'override.d', 'worker-proxy.inc'), `milter = yes;\ntimeout = 120s;\nbind_socket = "127.0.0.1:${port}";\nupstream "local" { default = yes; self_scan = yes; }\ncount = 1;\n`);
  writeFileSync(join(dir, 'override.d', 'worker-normal.inc'), 'enabled = false;\n');
  writeFileSync(join(dir, 'override.d', 'worker-fuzzy.inc'), 'enabled = false;\n');
  writeFileSync(join(dir, 'override.d', 'worker-controller.inc'), `bind_socket = "127.0.0.1:${ctl}";\n`);
  const args = ['-f', '-c', join(dir, 'rspamd.conf'), '-u', 'root', '-g', 'root', '--insecure',
    `--var=LOCAL_CONFDIR=${dir}`, `--var=DBDIR=${join(dir, 'db')}`, `--var=RUNDIR=${join(dir, 'run')}`, `--var=LOGDIR=${dir}`];
  return launch('rspamd', program('rspamd'), args, port, dir);
}
