/**
 * The mail log of one session, in Postfix's order, on each of seed 002's three listeners:
 * port 25 (plain, and with opportunistic STARTTLS), submission (STARTTLS, then AUTH) and
 * smtps (implicit TLS, smtpd_tls_wrappermode = yes): "connect from" first, then "Anonymous
 * TLS connection established", then the queue ID line, then "disconnect from". A failed
 * implicit-TLS handshake logs connect, the TLS problem, the lost connection and disconnect.
 * Each session comes from its own loopback address (swaks --local-interface), so its lines
 * can be picked out of the shared log.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { startPostern, baseMainCf, run, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { program } from '../support/packages.js';

let srv: Postern;
const ports = { smtp: 0, submission: 0, smtps: 0 };
const AUTH = ['--auth', 'PLAIN', '--auth-user', 'alice@example.test', '--auth-password', 'alice-pw'];

before(async () => {
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-tls-order-'));
  execFileSync(program('openssl'), ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=mx.test',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'sasl-passwd'), 'alice@example.test:{PLAIN}alice-pw\n');
  const o = (kv: Record<string, string>): string => Object.entries(kv).map(([k, v]) => `  -o ${k}=${v}\n`).join('');
  const submission = { smtpd_tls_security_level: 'encrypt', smtpd_sasl_auth_enable: 'yes', smtpd_tls_auth_only: 'yes', smtpd_client_restrictions: 'permit_sasl_authenticated,reject' };
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: join(dir, 'mail'),
      mynetworks: '192.0.2.0/24',
      smtpd_tls_cert_file: join(dir, 'cert.pem'), smtpd_tls_key_file: join(dir, 'key.pem'), smtpd_tls_security_level: 'may', smtpd_tls_loglevel: '1',
      smtpd_sasl_type: 'passwd-file', smtpd_sasl_path: join(dir, 'sasl-passwd'),
    }),
    masterCf: `127.0.0.1:${ports.smtp} inet n - n - - smtpd\n`
      + `127.0.0.1:${ports.submission} inet n - n - - smtpd\n` + o({ ...submission, syslog_name: 'postfix/submission' })
      + `127.0.0.1:${ports.smtps} inet n - n - - smtpd\n` + o({ ...submission, syslog_name: 'postfix/smtps', smtpd_tls_wrappermode: 'yes' }),
    files: { vmailbox: 'alice@example.test example.test/alice/\n' },
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

/** The log lines that name this client, in log order, without the "date host " prefix. */
async function sessionLines(addr: string): Promise<string[]> {
  const a = addr.replace(/\./g, '\\.');
  await srv.waitForLog(new RegExp(`disconnect from unknown\\[${a}\\]`));
  return srv.log().split('\n').filter((l) => l.includes(`[${addr}]`)).map((l) => l.replace(/^.*? (postfix\/)/, '$1'));
}

function assertOrder(lines: string[], expected: RegExp[]): void {
  assert.equal(lines.length, expected.length, `expected ${expected.length} lines:\n${lines.join('\n')}`);
  expected.forEach((re, i) => assert.match(lines[i]!, re, `line ${i + 1} of:\n${lines.join('\n')}`));
}

const swaks = (port: number, from: string, extra: string[]) =>
  run('swaks', ['--server', '127.0.0.1', '--port', String(port), '--local-interface', from, '--helo', 'client.example',
    '--from', 'alice@example.test', '--to', 'alice@example.test', ...extra]);

const TLS = /: Anonymous TLS connection established from unknown\[[\d.]+\]: TLSv1\.3 with cipher \S+ \(\d+\/\d+ bits\)$/;

test('port 25 without TLS: connect from, client=, disconnect from', async () => {
  const r = await swaks(ports.smtp, '127.0.0.11', []);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assertOrder(await sessionLines('127.0.0.11'), [
    /^postfix\/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.11\]$/,
    /^postfix\/smtpd\[\d+\]: [0-9A-Z]+: client=unknown\[127\.0\.0\.11\]$/,
    /^postfix\/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.11\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$/,
  ]);
});

test('port 25 with opportunistic STARTTLS: connect from, TLS established, client=, disconnect from', async () => {
  const r = await swaks(ports.smtp, '127.0.0.12', ['--tls']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assertOrder(await sessionLines('127.0.0.12'), [
    /^postfix\/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.12\]$/,
    new RegExp(`^postfix/smtpd\\[\\d+\\]${TLS.source}`),
    /^postfix\/smtpd\[\d+\]: [0-9A-Z]+: client=unknown\[127\.0\.0\.12\]$/,
    /^postfix\/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.12\] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7$/,
  ]);
});

test('submission (STARTTLS required, then AUTH): connect from, TLS established, client= with SASL, disconnect from', async () => {
  const r = await swaks(ports.submission, '127.0.0.13', ['--tls', ...AUTH]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assertOrder(await sessionLines('127.0.0.13'), [
    /^postfix\/submission\/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.13\]$/,
    new RegExp(`^postfix/submission/smtpd\\[\\d+\\]${TLS.source}`),
    /^postfix\/submission\/smtpd\[\d+\]: [0-9A-Z]+: client=unknown\[127\.0\.0\.13\], sasl_method=PLAIN, sasl_username=alice@example\.test$/,
    /^postfix\/submission\/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.13\] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8$/,
  ]);
});

test('smtps (implicit TLS): connect from BEFORE TLS established, then client= with SASL, disconnect from', async () => {
  const r = await swaks(ports.smtps, '127.0.0.14', ['--tlsc', ...AUTH]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assertOrder(await sessionLines('127.0.0.14'), [
    /^postfix\/smtps\/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.14\]$/,
    new RegExp(`^postfix/smtps/smtpd\\[\\d+\\]${TLS.source}`),
    /^postfix\/smtps\/smtpd\[\d+\]: [0-9A-Z]+: client=unknown\[127\.0\.0\.14\], sasl_method=PLAIN, sasl_username=alice@example\.test$/,
    /^postfix\/smtps\/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.14\] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6$/,
  ]);
});

test('smtps: a client that speaks plaintext gets connect from, the TLS failure, lost connection, disconnect from', async () => {
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: ports.smtps, localAddress: '127.0.0.15' }, () => s.write('EHLO plaintext.example\r\n'));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    setTimeout(() => reject(new Error('smtps did not close a plaintext client')), 10_000).unref();
  });
  assertOrder(await sessionLines('127.0.0.15'), [
    /^postfix\/smtps\/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.15\]$/,
    /^postfix\/smtps\/smtpd\[\d+\]: warning: TLS library problem: SSL_accept error from unknown\[127\.0\.0\.15\]: .+$/,
    /^postfix\/smtps\/smtpd\[\d+\]: lost connection after CONNECT from unknown\[127\.0\.0\.15\]$/,
    /^postfix\/smtps\/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.15\] commands=0$/,
  ]);
});
