/**
 * A real Postfix (Debian's postfix package) as the remote MX for the SMTP client's tests:
 * a private instance with its own main.cf/master.cf in a temporary directory, started with
 * `postfix -c DIR start`, listening on one loopback address and port, delivering the test
 * domain's virtual mailboxes into Maildirs under the directory, optionally offering
 * STARTTLS with a certificate made by openssl. Its own mail log is a file there
 * (postlogd). Stopped with `postfix -c DIR stop`, then by the master's PID if need be.
 */

import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { program } from './packages.js';
import { canConnect } from './ports.js';

export interface PostfixPeerOptions {
  /** Where smtpd listens: loopback addresses and ports (port 25 needs root). */
  listen: { host: string; port: number }[];
  /** The domain whose mailboxes this instance holds. */
  domain: string;
  /** Local parts with a mailbox. */
  users: string[];
  /** Offer STARTTLS with a self-signed certificate for this name. */
  tlsName?: string;
  /** Extra main.cf lines. */
  extra?: string[];
}

export interface PostfixPeer {
  readonly dir: string;
  /** PEM of the self-signed certificate (when tlsName was given). */
  readonly certFile?: string;
  /** Files delivered to user@domain's Maildir (new/), full paths. */
  delivered(user: string): string[];
  /** Wait until user has `n` messages; returns their paths. */
  waitFor(user: string, n: number, timeoutMs?: number): Promise<string[]>;
  log(): string;
  stop(): Promise<void>;
}


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startPostfixPeer(dir: string, o: PostfixPeerOptions): Promise<PostfixPeer> {
  const conf = join(dir, 'etc');
  const mail = join(dir, 'mail');
  const queue = join(dir, 'queue');
  const data = join(dir, 'data');
  for (const d of [conf, mail, queue, data]) mkdirSync(d, { recursive: true });
  // Postfix's daemons run as the postfix user and must traverse the directory (and its parents: the caller's job).
  chmodSync(dir, 0o755);
  const pw = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postfix:'))?.split(':');
  if (!pw) throw new Error('no postfix user: is Debian\'s postfix package installed?');
  chownSync(data, Number(pw[2]), Number(pw[3]));
  const nobody = 65534;
  chownSync(mail, nobody, nobody);
  let certFile: string | undefined;
  const tls: string[] = [];
  if (o.tlsName) {
    certFile = join(conf, 'cert.pem');
    const keyFile = join(conf, 'key.pem');
    execFileSync(program('openssl'), ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${o.tlsName}`, '-addext', `subjectAltName=DNS:${o.tlsName}`, '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
    tls.push('smtpd_tls_security_level = may', `smtpd_tls_cert_file = ${certFile}`, `smtpd_tls_key_file = ${keyFile}`, 'smtpd_tls_loglevel = 1');
  }
  writeFileSync(join(conf, 'main.cf'), [
    'compatibility_level = 3.6', `myhostname = mx.${o.domain}`, `mydomain = ${o.domain}`, 'mydestination =',
    `queue_directory = ${queue}`, `data_directory = ${data}`, 'mail_owner = postfix', 'setgid_group = postdrop',
    // "all": Postfix refuses inet_interfaces that are not interface addresses (127.0.25.x); master.cf names the real ones.
    'inet_interfaces = all', 'inet_protocols = ipv4', 'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    `virtual_mailbox_domains = ${o.domain}`, `virtual_mailbox_maps = texthash:${join(conf, 'vmailbox')}`,
    `virtual_mailbox_base = ${mail}`, `virtual_uid_maps = static:${nobody}`, `virtual_gid_maps = static:${nobody}`,
    'alias_maps =', 'alias_database =', `maillog_file = ${join(dir, 'maillog')}`, `maillog_file_prefixes = ${dir}`,
    'smtputf8_enable = yes', 'biff = no', 'smtpd_peername_lookup = no', 'disable_dns_lookups = yes',
    'append_dot_mydomain = no', 'smtpd_banner = $myhostname ESMTP', 'shlib_directory = /usr/lib/postfix',
    ...tls, ...(o.extra ?? []),
  ].join('\n') + '\n');
  const svc = (name: string, type: string, priv: string, unpriv: string, wake: string, max: string, cmd: string): string => `${name} ${type} ${priv} ${unpriv} n ${wake} ${max} ${cmd}`;
  writeFileSync(join(conf, 'master.cf'), [
    ...o.listen.map((l) => svc(`${l.host}:${l.port}`, 'inet', 'n', '-', '-', '-', 'smtpd')),
    svc('pickup', 'unix', 'n', '-', '60', '1', 'pickup'), svc('cleanup', 'unix', 'n', '-', '-', '0', 'cleanup'),
    svc('qmgr', 'unix', 'n', '-', '300', '1', 'qmgr'), svc('rewrite', 'unix', '-', '-', '-', '-', 'trivial-rewrite'),
    svc('bounce', 'unix', '-', '-', '-', '0', 'bounce'), svc('defer', 'unix', '-', '-', '-', '0', 'bounce'),
    svc('trace', 'unix', '-', '-', '-', '0', 'bounce'), svc('verify', 'unix', '-', '-', '-', '1', 'verify'),
    svc('flush', 'unix', 'n', '-', '1000?', '0', 'flush'), svc('proxymap', 'unix', '-', '-', '-', '-', 'proxymap'),
    svc('showq', 'unix', 'n', '-', '-', '-', 'showq'), svc('error', 'unix', '-', '-', '-', '-', 'error'),
    svc('retry', 'unix', '-', '-', '-', '-', 'error'), svc('discard', 'unix', '-', '-', '-', '-', 'discard'),
    svc('virtual', 'unix', '-', 'n', '-', '-', 'virtual'), svc('anvil', 'unix', '-', '-', '-', '1', 'anvil'),
    svc('scache', 'unix', '-', '-', '-', '1', 'scache'), svc('tlsmgr', 'unix', '-', '-', '1000?', '1', 'tlsmgr'),
    svc('postlog', 'unix-dgram', 'n', '-', '-', '1', 'postlogd'),
  ].join('\n') + '\n');
  writeFileSync(join(conf, 'vmailbox'), o.users.map((u) => `${u}@${o.domain} ${o.domain}/${u}/\n`).join(''));
  const postfix = (...args: string[]): string => execFileSync(program('postfix'), ['-c', conf, ...args], { stdio: 'pipe' }).toString();
  try {
    postfix('check');
  } catch {
    /* creates the queue directories; real problems show at start */
  }
  postfix('start');
  const deadline = Date.now() + 15_000;
  for (const l of o.listen) while (!(await canConnect(l.port, l.host))) {
    if (Date.now() > deadline) throw new Error(`postfix did not listen on ${l.host}:${l.port}; log:\n${existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : '(none)'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const newDir = (user: string): string => join(mail, o.domain, user, 'new');
  const self: PostfixPeer = {
    dir,
    ...(certFile ? { certFile } : {}),
    delivered: (user) => (existsSync(newDir(user)) ? readdirSync(newDir(user)).sort().map((f) => join(newDir(user), f)) : []),
    async waitFor(user, n, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const files = self.delivered(user);
        if (files.length >= n) return files;
        if (Date.now() > end) throw new Error(`${user}@${o.domain}: ${files.length} of ${n} messages arrived; postfix log:\n${self.log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    log: () => (existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : ''),
    async stop() {
      const pidFile = join(queue, 'pid', 'master.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
      try {
        postfix('stop');
      } catch {
        /* not running */
      }
      const end = Date.now() + 10_000;
      while (pid && alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    },
  };
  return self;
}
