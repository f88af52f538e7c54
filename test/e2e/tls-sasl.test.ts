/**
 * Seed 002's three listeners over real TLS with real clients: port 25 (opportunistic
 * STARTTLS, no AUTH), submission (STARTTLS required, then AUTH), smtps (implicit TLS,
 * AUTH). The built-in passwd-file backend with hashes made by `doveadm pw`, a real Dovecot
 * as the other backend, fail2ban-regex counting our failed AUTH lines, and the STARTTLS
 * command-injection case (CVE-2011-0411).
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { startPostern, baseMainCf, run, BIN, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { program } from '../support/packages.js';

let srv: Postern;
let dovecot: Dovecot;
let dir: string;
const ports = { smtp: 0, submission: 0, smtps: 0, dovecotSub: 0 };
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function doveadm(scheme: string, pw: string): string {
  return execFileSync(program('doveadm'), ['pw', '-s', scheme, '-p', pw]).toString().trim();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-tls-'));
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  execFileSync(program('openssl'), ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=mx.test',
    '-addext', 'subjectAltName=DNS:mx.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'sasl-passwd'), [
    `alice@example.test:${doveadm('SHA512-CRYPT', 'wonderland')}`,
    `bob@example.test:${doveadm('ARGON2ID', 'builder-bob')}`,
    `carol@example.test:${doveadm('BLF-CRYPT', 'carol-pw-1')}`,
    'dave@example.test:{PLAIN}dave-plain-pw',
  ].join('\n') + '\n');
  dovecot = await startDovecot(join(dir, 'dovecot'), 'erin@example.test:{PLAIN}erin-secret\n');
  const o = (kv: Record<string, string>): string => Object.entries(kv).map(([k, v]) => `  -o ${k}=${v}`).join('\n');
  const submissionOpts = {
    syslog_name: 'postfix/submission', smtpd_tls_security_level: 'encrypt', smtpd_sasl_auth_enable: 'yes',
    smtpd_client_restrictions: 'permit_sasl_authenticated,reject', smtpd_tls_auth_only: 'yes',
  };
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: join(dir, 'mail'),
      mynetworks: '192.0.2.0/24',
      smtpd_tls_cert_file: join(dir, 'cert.pem'), smtpd_tls_key_file: join(dir, 'key.pem'), smtpd_tls_security_level: 'may',
      smtpd_tls_loglevel: '1', smtpd_tls_received_header: 'yes', smtpd_sasl_authenticated_header: 'yes',
      smtpd_sasl_type: 'passwd-file', smtpd_sasl_path: join(dir, 'sasl-passwd'),
      smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination',
      smtpd_sender_login_maps: 'texthash:$config_directory/senders',
      smtpd_sender_restrictions: 'reject_sender_login_mismatch',
      postern_auth_failure_delay: '0s', smtpd_soft_error_limit: '100', smtpd_hard_error_limit: '100',
    }),
    masterCf: [
      `127.0.0.1:${ports.smtp} inet n - n - - smtpd`,
      `127.0.0.1:${ports.submission} inet n - n - - smtpd`, o(submissionOpts),
      `127.0.0.1:${ports.smtps} inet n - n - - smtpd`, o({ ...submissionOpts, syslog_name: 'postfix/smtps', smtpd_tls_wrappermode: 'yes', smtpd_tls_security_level: 'encrypt' }),
      `127.0.0.1:${ports.dovecotSub} inet n - n - - smtpd`, o({ ...submissionOpts, syslog_name: 'postfix/dovecot', smtpd_sasl_type: 'dovecot', smtpd_sasl_path: dovecot.socket }),
    ].join('\n') + '\n',
    files: {
      vmailbox: 'alice@example.test example.test/alice/\nbob@example.test example.test/bob/\n',
      senders: 'alice@example.test alice@example.test\nbob@example.test bob@example.test\nerin@example.test erin@example.test\ndave@example.test dave@example.test\n',
    },
  });
});

after(async () => {
  await srv?.stop();
  await dovecot?.stop();
  srv?.cleanup();
});

test('port 25: STARTTLS offered, AUTH not (503 as in seed 002); TLS logged and shown in Received', async () => {
  const c = await SmtpDialog.connect(ports.smtp);
  await c.reply();
  const ehlo = await c.cmd('EHLO client.test');
  assert.ok(ehlo.lines.includes('STARTTLS'));
  assert.ok(!ehlo.lines.some((l) => l.startsWith('AUTH')), ehlo.text);
  assert.equal((await c.cmd('AUTH LOGIN')).raw, '503 5.5.1 Error: authentication not enabled');
  c.close();
  const r = await run('swaks', ['--server', `127.0.0.1:${ports.smtp}`, '--tls', '--helo', 'client.test', '--from', 's@remote.example', '--to', 'alice@example.test']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /TLS started with cipher TLSv1\.3/);
  await srv.waitForLog(/postfix\/smtpd\[\d+\]: Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256\/256 bits\)/);
  await srv.waitForLog(/to=<alice@example\.test>.*status=sent/);
});

test('submission: commands before STARTTLS get 530; after TLS, AUTH PLAIN with a SHA512-CRYPT user relays (swaks)', async () => {
  const c = await SmtpDialog.connect(ports.submission);
  await c.reply();
  const ehlo = await c.cmd('EHLO client.test');
  assert.ok(!ehlo.lines.some((l) => l.startsWith('AUTH')), 'no AUTH before TLS with smtpd_tls_auth_only');
  assert.equal((await c.cmd('MAIL FROM:<alice@example.test>')).raw, '530 5.7.0 Must issue a STARTTLS command first');
  assert.equal((await c.cmd(`AUTH PLAIN ${b64('\0alice@example.test\0wonderland')}`)).raw, '530 5.7.0 Must issue a STARTTLS command first');
  c.close();
  const r = await run('swaks', ['--server', `127.0.0.1:${ports.submission}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'alice@example.test', '--auth-password', 'wonderland',
    '--helo', 'client.test', '--from', 'alice@example.test', '--to', 'friend@elsewhere.example']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /235 2\.7\.0 Authentication successful/);
  const id = /queued as ([0-9A-F]+)/.exec(r.stdout)![1]!;
  await srv.waitForLog(new RegExp(`postfix/submission/smtpd\\[\\d+\\]: ${id}: client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=PLAIN, sasl_username=alice@example\\.test`));
  // Relayed for the authenticated user: it waits for DNS, which these tests turn off.
  await srv.waitForLog(new RegExp(`${id}: to=<friend@elsewhere\\.example>.*status=deferred \\(`));
});

test('smtps: implicit TLS from the first byte, AUTH LOGIN with an ARGON2ID user (swaks --tlsc)', async () => {
  const r = await run('swaks', ['--server', `127.0.0.1:${ports.smtps}`, '--tlsc', '--auth', 'LOGIN', '--auth-user', 'bob@example.test', '--auth-password', 'builder-bob',
    '--helo', 'client.test', '--from', 'bob@example.test', '--to', 'alice@example.test']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /235 2\.7\.0 Authentication successful/);
  await srv.waitForLog(/postfix\/smtps\/smtpd\[\d+\]: [0-9A-F]+: client=unknown\[127\.0\.0\.1\], sasl_method=LOGIN, sasl_username=bob@example\.test/);
});

test('Python smtplib: starttls()+login() on submission, SMTP_SSL on smtps; Received shows TLS and the sender', async () => {
  const py = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test", timeout=10) as s:
    s.starttls(context=ctx); s.login("carol@example.test", "carol-pw-1")
    print("sub", s.sendmail("dave@example.test", ["alice@example.test"], b"Subject: py1\\r\\n\\r\\nhi\\r\\n"))
with smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[2]), local_hostname="client.test", context=ctx, timeout=10) as s:
    s.login("dave@example.test", "dave-plain-pw")
    print("ssl", s.sendmail("dave@example.test", ["bob@example.test"], b"Subject: py2\\r\\n\\r\\nhi\\r\\n"))
`;
  const r = await run('python3', ['-c', py, String(ports.submission), String(ports.smtps)]);
  // carol may not use dave's address: reject_sender_login_mismatch (smtpd_sender_login_maps).
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /553.*5\.7\.1 <dave@example\.test>: Sender address rejected: not owned by user carol@example\.test/);
  const ok = await run('python3', ['-c', py.replace('"dave@example.test", ["alice', '"carol@example.test", ["alice'), String(ports.submission), String(ports.smtps)]);
  // carol has no entry in the sender map either: owned by nobody means not owned by her.
  assert.match(ok.stderr + ok.stdout, /not owned by user carol@example\.test/);
  const dave = await run('python3', ['-c', py.replace('"carol@example.test", "carol-pw-1"', '"dave@example.test", "dave-plain-pw"'), String(ports.submission), String(ports.smtps)]);
  assert.equal(dave.code, 0, dave.stdout + dave.stderr);
  assert.match(dave.stdout, /sub \{\}\nssl \{\}/);
  await srv.waitForLog(/to=<bob@example\.test>.*status=sent/);
  const files = (await import('../support/server.js')).maildirMessages(join(dir, 'mail', 'example.test', 'bob'));
  const m = files.find((f) => f.text.includes('Subject: py2'));
  assert.ok(m);
  assert.match(m.text, /Received: from client\.test \(unknown \[127\.0\.0\.1\]\)\n\t\(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256\/256 bits\)\)\n\t\(No client certificate requested\)\n\t\(Authenticated sender: dave@example\.test\)\n\tby mx\.test \(Postern\) with ESMTPSA id/);
});

test('STARTTLS discards commands pipelined after it (CVE-2011-0411) and resets the session', async () => {
  const c = await SmtpDialog.connect(ports.smtp);
  await c.reply();
  await c.cmd('EHLO client.test');
  c.sendRaw('STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\nRCPT TO:<alice@example.test>\r\n');
  assert.equal((await c.reply()).raw, '220 2.0.0 Ready to start TLS');
  const secure = tlsConnect({ socket: c.socket, rejectUnauthorized: false, servername: 'mx.test' });
  await new Promise<void>((r, j) => { secure.once('secureConnect', () => r()); secure.once('error', j); });
  const lines: string[] = [];
  secure.on('data', (d: Buffer) => lines.push(...d.toString().split('\r\n').filter(Boolean)));
  secure.write('RCPT TO:<alice@example.test>\r\n');
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(lines, ['503 5.5.1 Error: need MAIL command'], 'the injected MAIL FROM must not have run, and nothing else was answered');
  secure.write('EHLO client.test\r\n');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(lines.includes('250-mx.test') && !lines.some((l) => l.includes('STARTTLS')), `after TLS, EHLO no longer offers STARTTLS: ${lines.join(' | ')}`);
  secure.destroy();
});

test('failed AUTH: 535 5.7.8, a fail2ban-matching log line per failure (fail2ban-regex counts them), unknown users too', async () => {
  const before = srv.log().split('\n').length;
  const fails = [
    ['alice@example.test', 'wrong-1'], ['bob@example.test', 'wrong-2'], ['nobody@example.test', 'whatever'],
  ];
  for (const [user, pw] of fails) {
    const r = await run('swaks', ['--server', `127.0.0.1:${ports.submission}`, '--tls', '--auth', 'LOGIN', '--auth-user', user!, '--auth-password', pw!,
      '--helo', 'client.test', '--from', user!, '--to', 'alice@example.test']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /535 5\.7\.8 Error: authentication failed: authentication failure/);
  }
  const c = await SmtpDialog.connect(ports.smtps).catch(() => undefined);
  c?.close();
  await srv.waitForLog(/SASL LOGIN authentication failed: authentication failure, sasl_username=nobody@example\.test/);
  const fresh = srv.log().split('\n').slice(before - 1).join('\n');
  writeFileSync(join(dir, 'auth.log'), fresh);
  const f2b = await run('fail2ban-regex', [join(dir, 'auth.log'), 'postfix[mode=auth]']);
  assert.equal(f2b.code, 0, f2b.stderr);
  assert.match(f2b.stdout, /Failregex: 3 total/);
  assert.match(fresh, /postfix\/submission\/smtpd\[\d+\]: warning: unknown\[127\.0\.0\.1\]: SASL LOGIN authentication failed: authentication failure, sasl_username=alice@example\.test/);
});

test('Dovecot backend: real Dovecot authenticates; Dovecot down → 454 4.7.0, and recovery when it returns', async () => {
  const ok = await run('swaks', ['--server', `127.0.0.1:${ports.dovecotSub}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'erin@example.test', '--auth-password', 'erin-secret',
    '--helo', 'client.test', '--from', 'erin@example.test', '--to', 'alice@example.test']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const bad = await run('swaks', ['--server', `127.0.0.1:${ports.dovecotSub}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'erin@example.test', '--auth-password', 'nope',
    '--helo', 'client.test', '--from', 'erin@example.test', '--to', 'alice@example.test']);
  assert.match(bad.stdout, /535 5\.7\.8/);
  await dovecot.stop();
  const down = await run('swaks', ['--server', `127.0.0.1:${ports.dovecotSub}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'erin@example.test', '--auth-password', 'erin-secret',
    '--helo', 'client.test', '--from', 'erin@example.test', '--to', 'alice@example.test']);
  assert.match(down.stdout, /454 4\.7\.0 Temporary authentication failure/);
  await srv.waitForLog(/postfix\/dovecot\/smtpd\[\d+\]: warning: unknown\[127\.0\.0\.1\]: SASL PLAIN authentication temporarily failed/);
  await dovecot.start();
  const again = await run('swaks', ['--server', `127.0.0.1:${ports.dovecotSub}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'erin@example.test', '--auth-password', 'erin-secret',
    '--helo', 'client.test', '--from', 'erin@example.test', '--to', 'alice@example.test']);
  assert.equal(again.code, 0, again.stdout);
});

test('unauthenticated relay is refused on every listener', async () => {
  for (const [port, tls] of [[ports.smtp, '--tls'], [ports.submission, '--tls'], [ports.smtps, '--tlsc']] as const) {
    const r = await run('swaks', ['--server', `127.0.0.1:${port}`, tls, '--helo', 'client.test', '--from', 's@remote.example', '--to', 'victim@elsewhere.example']);
    assert.notEqual(r.code, 0, `port ${port}: ${r.stdout}`);
    assert.match(r.stdout, /<~?\*+ +5\d\d 5\.7\.1/);
  }
  const q = await run(process.execPath, [BIN, '-c', srv.configDir, 'queue']);
  assert.doesNotMatch(q.stdout, /victim@elsewhere\.example/);
});
