/**
 * Seed 002 as published: its main.cf and master.cf, with only paths and ports pointed at
 * the test's own (certificate, sender_access table, queue, log, Dovecot socket, ports), serve
 * the three listeners the seed describes, reproduce its telnet transcript and log lines, and
 * authenticate submission and smtps users against a real Dovecot.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startPostern, run, ROOT, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { program } from '../support/packages.js';

const SEEDS = join(ROOT, 'test', 'fixtures', 'seed-configs');
let srv: Postern;
let dovecot: Dovecot;
const ports = { smtp: 0, submission: 0, smtps: 0 };

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-seed002-'));
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  execFileSync(program('openssl'), ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=mail.zeke.ne.jp',
    '-keyout', join(dir, 'privkey.pem'), '-out', join(dir, 'fullchain.pem')], { stdio: 'ignore' });
  const queue = join(dir, 'queue');
  mkdirSync(join(queue, 'private'), { recursive: true });
  // Dovecot's auth socket where the seed expects it: private/auth under queue_directory.
  dovecot = await startDovecot(join(dir, 'dovecot'), 'zeke@zeke.ne.jp:{PLAIN}seed-002-secret\n');
  const mainCf = readFileSync(join(SEEDS, '002-three-listeners.main.cf'), 'utf8')
    .replaceAll('/etc/letsencrypt/live/zeke.ne.jp/', `${dir}/`)
    .replaceAll('/etc/postfix/sender_access', '$config_directory/sender_access')
    .replace('smtpd_sasl_path = private/auth', `smtpd_sasl_path = ${dovecot.socket}`)
    // The seed shows a diff against RHEL's packaged main.cf, which already sets this (its transcript shows STARTTLS).
    + 'smtpd_tls_security_level = may\n'
    // No DNS in tests unless a test DNS server answers (the system resolver is not on loopback).
    + 'postern_dns_lookups = no\n'
    + `queue_directory = ${queue}\ndata_directory = ${join(dir, 'lib')}\nmaillog_file = ${join(dir, 'maillog')}\n`;
  const masterCf = readFileSync(join(SEEDS, '002-three-listeners.master.cf'), 'utf8')
    .replace(/^smtp( +)inet/m, `127.0.0.1:${ports.smtp} inet`)
    .replace(/^submission inet/m, `127.0.0.1:${ports.submission} inet`)
    .replace(/^smtps( +)inet/m, `127.0.0.1:${ports.smtps} inet`);
  srv = await startPostern({
    dir, mainCf, masterCf, files: { sender_access: readFileSync(join(SEEDS, '002-sender_access'), 'utf8') },
    ports: [ports.smtp, ports.submission, ports.smtps],
  });
});

after(async () => {
  await srv?.stop();
  await dovecot?.stop();
  srv?.cleanup();
});

test("seed 002's telnet transcript on port 25, and its log lines", async () => {
  const c = await SmtpDialog.connect(ports.smtp);
  assert.equal((await c.reply()).raw, '220 mail.zeke.ne.jp ESMTP Postern');
  assert.equal((await c.cmd('EHLO')).raw, '501 5.5.4 Syntax: EHLO hostname');
  const ehlo = await c.cmd('EHLO localhost');
  assert.deepEqual(ehlo.lines, ['mail.zeke.ne.jp', 'PIPELINING', 'SIZE 10485760', 'ETRN', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME', 'DSN', 'SMTPUTF8', 'CHUNKING']);
  assert.equal((await c.cmd('AUTH LOGIN')).raw, '503 5.5.1 Error: authentication not enabled');
  c.close(); // the seed's author left with ^] and quit
  await srv.waitForLog(/postfix\/smtpd\[\d+\]: lost connection after AUTH from unknown\[127\.0\.0\.1\]/);
  await srv.waitForLog(/postfix\/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.1\] ehlo=1\/2 auth=0\/1 commands=1\/3/);
});

test('submission: STARTTLS required, then AUTH against Dovecot; relaying for the authenticated user only', async () => {
  const c = await SmtpDialog.connect(ports.submission);
  await c.reply();
  await c.cmd('EHLO client.example');
  assert.equal((await c.cmd('MAIL FROM:<zeke@zeke.ne.jp>')).raw, '530 5.7.0 Must issue a STARTTLS command first');
  c.close();
  const ok = await run('swaks', ['--server', `127.0.0.1:${ports.submission}`, '--tls', '--auth', 'LOGIN', '--auth-user', 'zeke@zeke.ne.jp', '--auth-password', 'seed-002-secret',
    '--helo', 'client.example', '--from', 'zeke@zeke.ne.jp', '--to', 'someone@gmail.example']);
  assert.equal(ok.code, 0, ok.stdout);
  await srv.waitForLog(/postfix\/submission\/smtpd\[\d+\]: [0-9A-F]+: client=unknown\[127\.0\.0\.1\], sasl_method=LOGIN, sasl_username=zeke@zeke\.ne\.jp/);
  const noAuth = await run('swaks', ['--server', `127.0.0.1:${ports.submission}`, '--tls', '--helo', 'client.example', '--from', 'x@example.org', '--to', 'root@zeke.ne.jp']);
  assert.notEqual(noAuth.code, 0);
  assert.match(noAuth.stdout, /554 5\.7\.1 <root@zeke\.ne\.jp>: Recipient address rejected: Access denied/);
});

test('smtps: implicit TLS and AUTH PLAIN against Dovecot', async () => {
  const ok = await run('swaks', ['--server', `127.0.0.1:${ports.smtps}`, '--tlsc', '--auth', 'PLAIN', '--auth-user', 'zeke@zeke.ne.jp', '--auth-password', 'seed-002-secret',
    '--helo', 'client.example', '--from', 'zeke@zeke.ne.jp', '--to', 'root@zeke.ne.jp']);
  assert.equal(ok.code, 0, ok.stdout);
  await srv.waitForLog(/postfix\/smtps\/smtpd\[\d+\]: [0-9A-F]+: client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=zeke@zeke\.ne\.jp/);
});

test('port 25: mail for local users of the seed domains is accepted; unknown users refused at RCPT; relay only for mynetworks', async () => {
  const c = await SmtpDialog.connect(ports.smtp);
  await c.reply();
  c.send('EHLO mx.sender.example');
  await c.reply();
  await c.cmd('MAIL FROM:<friend@sender.example>');
  assert.equal((await c.cmd('RCPT TO:<root@ace.zeke.ne.jp>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<no-such-user@zeke.ne.jp>')).raw, '550 5.1.1 <no-such-user@zeke.ne.jp>: Recipient address rejected: User unknown in local recipient table');
  // 127.0.0.1 is in the seed's mynetworks (127.0.0.0/8): it may relay, as in Postfix.
  assert.equal((await c.cmd('RCPT TO:<friend@gmail.example>')).raw, '250 2.1.5 Ok');
  c.close();
});
