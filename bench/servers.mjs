// The three servers under test (and smtp-sink, the protocol floor), each configured
// equivalently on 127.0.0.1 with private state directories: two domains with recipient
// validation at RCPT, permit_mynetworks/reject_unauth_destination relay control, fsync'd
// queueing before 250, final delivery to Maildir (Haraka: acceptance only).
// opts.extra adds main.cf lines (a later name replaces an earlier one), opts.label names the
// instance's directory, so the outbound, DNS-list and abuse runs of bench.mjs get their own
// instances; Postfix's resolver can be pointed at a local DNS server (opts.resolvConf: a
// private mount namespace with that file over /etc/resolv.conf; the system's is untouched).
// Two scenarios (SCENARIOS), each as a Postfix admin would write it:
//  - 'virtual': virtual_mailbox_domains + virtual_mailbox_maps (texthash), one Maildir per user;
//  - 'alias': the domains in mydestination, local_recipient_maps = regexp: (full address,
//    as smtpd looks a regexp table up) and alias_maps = regexp: sending every local part to
//    one Maildir path (local(8) looks aliases up by local part).
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readdirSync, existsSync, readFileSync, chownSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DOMAINS = ['bench1.test', 'bench2.test'];
export const USERS = ['u1', 'u2', 'u3', 'u4'];
const ROOT = resolve(new URL('..', import.meta.url).pathname);

export const SCENARIOS = {
  virtual: 'virtual mailboxes (texthash)',
  alias: 'local aliases (regexp)',
};

const vmailbox = () => DOMAINS.flatMap((d) => USERS.map((u) => `${u}@${d} ${d}/${u}/`)).join('\n') + '\n';

/** Count files in <base>/<domain>/<user>/new for all users. */
export function countMaildir(base) {
  let n = 0;
  for (const d of DOMAINS) for (const u of USERS) n += countNew(join(base, d, u));
  return n;
}

/** Files in one Maildir's new/. */
function countNew(box) {
  const p = join(box, 'new');
  return existsSync(p) ? readdirSync(p).length : 0;
}

/** The regexp tables of the 'alias' scenario: recipients checked at RCPT, aliases to one Maildir. */
const recipientsRegexp = () => `/^(u[0-9]+|postmaster)@(${DOMAINS.map((d) => d.replace(/\./g, '\\.')).join('|')})$/ OK\n`;
const aliasesRegexp = (box) => `/^(u[0-9]+|postmaster)$/ ${box}/\n`;

/** main.cf lines and table files that differ between the scenarios (same for Postern and Postfix). */
function routing(scenario, conf, mail) {
  if (scenario === 'alias') {
    return {
      lines: [`mydestination = localhost, ${DOMAINS.join(', ')}`, `local_recipient_maps = regexp:${join(conf, 'local_recipients.regexp')}`, `alias_maps = regexp:${join(conf, 'aliases.regexp')}`],
      files: { 'local_recipients.regexp': recipientsRegexp(), 'aliases.regexp': aliasesRegexp(join(mail, 'box')) },
      count: () => countNew(join(mail, 'box')),
    };
  }
  return {
    lines: ['mydestination = localhost', `virtual_mailbox_domains = ${DOMAINS.join(', ')}`, `virtual_mailbox_maps = texthash:${join(conf, 'vmailbox')}`, `virtual_mailbox_base = ${mail}`, 'alias_maps ='],
    files: { vmailbox: vmailbox() },
    count: () => countMaildir(mail),
  };
}

/** main.cf text from lines; a later `name = value` replaces an earlier one in place. */
function mainCf(lines) {
  const byName = new Map();
  for (const l of lines) byName.set(l.split('=')[0].trim(), l);
  return [...byName.values()].join('\n') + '\n';
}

function waitPort(port, timeoutMs = 20000) {
  return new Promise((resolveP, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tryOnce = async () => {
      const net = await import('node:net');
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('data', () => { s.destroy(); resolveP(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} never answered`));
        else setTimeout(tryOnce, 100);
      });
    };
    void tryOnce();
  });
}

export function postern(base, port, opts = {}) {
  const scenario = opts.scenario ?? 'virtual';
  const dir = join(base, scenario, opts.label ?? 'postern');
  const conf = join(dir, 'config');
  const mail = join(dir, 'mail');
  mkdirSync(conf, { recursive: true });
  const r = routing(scenario, conf, mail);
  writeFileSync(join(conf, 'main.cf'), mainCf([
    'myhostname = mx.bench.test', 'mydomain = bench.test', ...r.lines, 'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    `queue_directory = ${join(dir, 'queue')}`, `data_directory = ${join(dir, 'lib')}`, `maillog_file = ${join(dir, 'maillog')}`,
    'smtpd_peername_lookup = no', `default_process_limit = ${opts.processLimit ?? 20000}`,
    ...(opts.extra ?? []),
  ]));
  writeFileSync(join(conf, 'master.cf'), `127.0.0.1:${port} inet n - n - - smtpd\n`);
  for (const [f, text] of Object.entries(r.files)) writeFileSync(join(conf, f), text);
  let proc;
  return {
    name: 'Postern', port, delivers: true, maillog: join(dir, 'maillog'),
    countDelivered: r.count,
    async start() {
      proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), join(ROOT, 'bin', 'postern.js'), '-c', conf, 'start-fg'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      proc.stderr.on('data', (d) => (err += d));
      try {
        await waitPort(port);
      } catch (e) {
        throw new Error(`Postern failed to start: ${err || e.message}`);
      }
    },
    rootPid: () => proc.pid,
    async stop() {
      if (!proc || proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 10000); proc.once('exit', () => { clearTimeout(t); r(); }); });
    },
  };
}

export function postfix(base, port, opts = {}) {
  const scenario = opts.scenario ?? 'virtual';
  const dir = join(base, scenario, opts.label ?? 'postfix');
  const conf = join(dir, 'etc');
  const mail = join(dir, 'mail');
  const r = routing(scenario, conf, mail);
  mkdirSync(conf, { recursive: true });
  mkdirSync(mail, { recursive: true });
  mkdirSync(join(dir, 'queue'), { recursive: true });
  mkdirSync(join(dir, 'data'), { recursive: true });
  const pfUid = Number(execFileSync('id', ['-u', 'postfix']).toString().trim());
  chownSync(join(dir, 'data'), pfUid, pfUid);
  const nobody = 65534;
  chownSync(mail, nobody, nobody);
  // local(8) writes to a file or Maildir named in a root-owned alias table with default_privs (nobody).
  if (scenario === 'alias') { mkdirSync(join(mail, 'box'), { recursive: true }); chownSync(join(mail, 'box'), nobody, nobody); }
  writeFileSync(join(conf, 'main.cf'), mainCf([
    'compatibility_level = 3.6', 'myhostname = mx.bench.test', 'mydomain = bench.test', ...r.lines,
    `queue_directory = ${join(dir, 'queue')}`, `data_directory = ${join(dir, 'data')}`, 'mail_owner = postfix', 'setgid_group = postdrop',
    'inet_interfaces = 127.0.0.1', 'inet_protocols = ipv4', 'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    `virtual_uid_maps = static:${nobody}`, `virtual_gid_maps = static:${nobody}`,
    'alias_database =', `maillog_file = ${join(dir, 'maillog')}`, `maillog_file_prefixes = ${dir}`, 'smtputf8_enable = no', 'biff = no',
    'append_dot_mydomain = no', 'smtpd_banner = $myhostname ESMTP', 'shlib_directory = /usr/lib/postfix',
    ...(opts.extra ?? []),
  ]));
  const svc = (name, type, priv, unpriv, wake, max, cmd) => `${name} ${type} ${priv} ${unpriv} n ${wake} ${max} ${cmd}`;
  writeFileSync(join(conf, 'master.cf'), [
    svc(`127.0.0.1:${port}`, 'inet', 'n', '-', '-', '-', 'smtpd'),
    svc('pickup', 'unix', 'n', '-', '60', '1', 'pickup'), svc('cleanup', 'unix', 'n', '-', '-', '0', 'cleanup'),
    svc('qmgr', 'unix', 'n', '-', '300', '1', 'qmgr'), svc('rewrite', 'unix', '-', '-', '-', '-', 'trivial-rewrite'),
    svc('bounce', 'unix', '-', '-', '-', '0', 'bounce'), svc('defer', 'unix', '-', '-', '-', '0', 'bounce'),
    svc('trace', 'unix', '-', '-', '-', '0', 'bounce'), svc('verify', 'unix', '-', '-', '-', '1', 'verify'),
    svc('flush', 'unix', 'n', '-', '1000?', '0', 'flush'), svc('proxymap', 'unix', '-', '-', '-', '-', 'proxymap'),
    svc('showq', 'unix', 'n', '-', '-', '-', 'showq'), svc('error', 'unix', '-', '-', '-', '-', 'error'),
    svc('retry', 'unix', '-', '-', '-', '-', 'error'), svc('discard', 'unix', '-', '-', '-', '-', 'discard'),
    svc('local', 'unix', '-', 'n', '-', '-', 'local'), svc('virtual', 'unix', '-', 'n', '-', '-', 'virtual'),
    svc('smtp', 'unix', '-', '-', '-', '-', 'smtp'), svc('relay', 'unix', '-', '-', '-', '-', 'smtp'),
    svc('anvil', 'unix', '-', '-', '-', '1', 'anvil'), svc('scache', 'unix', '-', '-', '-', '1', 'scache'),
    svc('postlog', 'unix-dgram', 'n', '-', '-', '1', 'postlogd'),
  ].join('\n') + '\n');
  for (const [f, text] of Object.entries(r.files)) writeFileSync(join(conf, f), text);
  const pfx = (...a) => execFileSync('postfix', ['-c', conf, ...a], { stdio: 'pipe' }).toString();
  return {
    name: 'Postfix', port, delivers: true, maillog: join(dir, 'maillog'),
    countDelivered: r.count,
    async start() {
      try { pfx('check'); } catch { /* creates the queue directories; complaints show up at start */ }
      if (opts.resolvConf) {
        // A private mount namespace: this Postfix's processes (master and its children, which
        // stay in the namespace) read opts.resolvConf as /etc/resolv.conf; nobody else does.
        execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && exec postfix -c "$2" start', 'sh', opts.resolvConf, conf], { stdio: 'pipe' });
      } else pfx('start');
      await waitPort(port);
    },
    rootPid: () => Number(readFileSync(join(dir, 'queue', 'pid', 'master.pid'), 'utf8').trim()),
    async stop() {
      try { pfx('stop'); } catch { /* not running */ }
      await new Promise((r) => setTimeout(r, 1000));
    },
  };
}

export function haraka(base, port, harakaBin, opts = {}) {
  const dir = join(base, opts.scenario ?? 'virtual', 'haraka');
  const queueDir = join(dir, 'spool');
  if (!existsSync(join(dir, 'config'))) execFileSync(harakaBin, ['-i', dir], { stdio: 'pipe' });
  mkdirSync(queueDir, { recursive: true });
  writeFileSync(join(dir, 'config', 'smtp.ini'), `[main]\nlisten=127.0.0.1:${port}\nnodes=\n`);
  writeFileSync(join(dir, 'config', 'me'), 'mx.bench.test\n');
  writeFileSync(join(dir, 'config', 'host_list'), DOMAINS.join('\n') + '\n');
  writeFileSync(join(dir, 'config', 'plugins'), 'bench_rcpt_users\nqueue/bench_fsync\n');
  writeFileSync(join(dir, 'config', 'bench_fsync.ini'), `dir=${queueDir}\n`);
  writeFileSync(join(dir, 'config', 'bench_users'), DOMAINS.flatMap((d) => USERS.map((u) => `${u}@${d}`)).join('\n') + '\n');
  mkdirSync(join(dir, 'plugins', 'queue'), { recursive: true });
  writeFileSync(join(dir, 'plugins', 'queue', 'bench_fsync.js'), readFileSync(join(ROOT, 'bench', 'haraka', 'bench_fsync.js')));
  writeFileSync(join(dir, 'plugins', 'bench_rcpt_users.js'), readFileSync(join(ROOT, 'bench', 'haraka', 'bench_rcpt_users.js')));
  writeFileSync(join(dir, 'config', 'log.ini'), '[main]\nlevel=error\n');
  let proc;
  return {
    name: 'Haraka', port, delivers: false,
    countDelivered: () => (existsSync(queueDir) ? readdirSync(queueDir).length : 0),
    async start() {
      proc = spawn(harakaBin, ['-c', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      proc.stderr.on('data', (d) => (err += d));
      try { await waitPort(port); } catch (e) { throw new Error(`Haraka failed to start: ${err.slice(-500) || e.message}`); }
    },
    rootPid: () => proc.pid,
    async stop() {
      if (!proc || proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 5000); proc.once('exit', () => { clearTimeout(t); r(); }); });
    },
  };
}

/** smtp-sink; received() is the number of messages it took (its -c counter, "mesg=N"). */
export function smtpSink(port, opts = {}) {
  let proc;
  let received = 0;
  return {
    name: opts.name ?? 'smtp-sink', port, delivers: false,
    countDelivered: () => 0,
    received: () => received,
    async start() {
      proc = spawn('smtp-sink', ['-c', '-u', 'nobody', `127.0.0.1:${port}`, '1024'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let tail = '';
      proc.stdout.on('data', (d) => {
        tail = (tail + d).slice(-200);
        const all = [...tail.matchAll(/mesg=(\d+)/g)];
        if (all.length) received = Number(all[all.length - 1][1]);
      });
      await waitPort(port);
    },
    rootPid: () => proc.pid,
    async stop() {
      proc?.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
    },
  };
}
