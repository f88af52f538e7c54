/**
 * A stolen password sends only as its owner (B6), with seed 002's own master.cf (submission
 * and smtps with SASL, no sender-login restriction listed): alice after AUTH sending as bob
 * is refused with 553 5.7.1, as herself and as an alias that reaches her she is accepted;
 * `postern check` names the listeners; with postern_sender_login_default = no (reloaded)
 * the forged sender goes through, as in Postfix.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startPostern, run, ROOT, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { program } from '../support/packages.js';
import { postern } from '../support/cli.js';

const SEEDS = join(ROOT, 'test', 'fixtures', 'seed-configs');
let srv: Postern;
let dir: string;
const ports = { smtp: 0, submission: 0, smtps: 0 };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-owner-'));
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  execFileSync(program('openssl'), ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=mail.zeke.ne.jp',
    '-keyout', join(dir, 'privkey.pem'), '-out', join(dir, 'fullchain.pem')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'users'), 'alice@zeke.ne.jp:{PLAIN}alice-secret\nbob@zeke.ne.jp:{PLAIN}bob-secret\n');
  const mainCf = readFileSync(join(SEEDS, '002-three-listeners.main.cf'), 'utf8')
    .replaceAll('/etc/letsencrypt/live/zeke.ne.jp/', `${dir}/`)
    .replaceAll('/etc/postfix/sender_access', '$config_directory/sender_access')
    // The built-in users instead of the seed's Dovecot (the check does not depend on the backend).
    .replace('smtpd_sasl_type = dovecot', 'smtpd_sasl_type = passwd-file')
    .replace('smtpd_sasl_path = private/auth', `smtpd_sasl_path = ${join(dir, 'users')}`)
    + 'smtpd_tls_security_level = may\npostern_dns_lookups = no\ndefer_transports = smtp, lmtp\n'
    + 'virtual_alias_maps = inline:{ sales@zeke.ne.jp=alice@zeke.ne.jp }\npostern_auth_failure_delay = 0s\n'
    + `queue_directory = ${join(dir, 'queue')}\ndata_directory = ${join(dir, 'lib')}\nmaillog_file = ${join(dir, 'maillog')}\n`;
  const masterCf = readFileSync(join(SEEDS, '002-three-listeners.master.cf'), 'utf8')
    .replace(/^smtp( +)inet/m, `127.0.0.1:${ports.smtp} inet`)
    .replace(/^submission inet/m, `127.0.0.1:${ports.submission} inet`)
    .replace(/^smtps( +)inet/m, `127.0.0.1:${ports.smtps} inet`);
  assert.doesNotMatch(masterCf + mainCf, /sender_login_mismatch/, 'the seed lists no sender-login restriction');
  srv = await startPostern({
    dir, mainCf, masterCf, files: { sender_access: readFileSync(join(SEEDS, '002-sender_access'), 'utf8') },
    ports: [ports.smtp, ports.submission, ports.smtps],
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

function swaks(port: number, from: string, extra: string[] = []): Promise<{ code: number | null; stdout: string }> {
  return run('swaks', ['--server', `127.0.0.1:${port}`, ...extra, '--auth', 'PLAIN', '--auth-user', 'alice@zeke.ne.jp', '--auth-password', 'alice-secret',
    '--helo', 'laptop.example', '--from', from, '--to', 'friend@elsewhere.example']);
}

test('alice after AUTH as bob: 553 5.7.1 not owned; as herself and as her alias: accepted (submission and smtps)', async () => {
  const forged = await swaks(ports.submission, 'bob@zeke.ne.jp', ['--tls']);
  assert.notEqual(forged.code, 0);
  assert.match(forged.stdout, /<~\* 553 5\.7\.1 <bob@zeke\.ne\.jp>: Sender address rejected: not owned by user alice@zeke\.ne\.jp\n/);
  await srv.waitForLog(/postfix\/submission\/smtpd\[\d+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 553 5\.7\.1 <bob@zeke\.ne\.jp>: Sender address rejected: not owned by user alice@zeke\.ne\.jp; from=<bob@zeke\.ne\.jp> to=<friend@elsewhere\.example> proto=ESMTP helo=<laptop\.example>\n/);
  for (const from of ['alice@zeke.ne.jp', 'ALICE@zeke.ne.jp', 'sales@zeke.ne.jp']) {
    const ok = await swaks(ports.submission, from, ['--tls']);
    assert.equal(ok.code, 0, `${from}:\n${ok.stdout}`);
    assert.match(ok.stdout, /<~  250 2\.0\.0 Ok: queued as /);
  }
  const smtps = await swaks(ports.smtps, 'bob@zeke.ne.jp', ['--tlsc']);
  assert.match(smtps.stdout, /553 5\.7\.1 <bob@zeke\.ne\.jp>: Sender address rejected: not owned by user alice@zeke\.ne\.jp/);
});

test('postern check names the listeners the ownership check applies to', async () => {
  const r = await postern(srv.configDir, ['check']);
  assert.match(r.stdout, new RegExp(`info: sender ownership after AUTH \\(postern_sender_login_default = yes\\) applies to 127\\.0\\.0\\.1:${ports.submission}, 127\\.0\\.0\\.1:${ports.smtps}: `));
});

test('postern_sender_login_default = no restores Postfix: any sender after AUTH', async () => {
  appendFileSync(join(srv.configDir, 'main.cf'), 'postern_sender_login_default = no\n');
  srv.proc.kill('SIGHUP');
  await srv.waitForLog(/reload -- configuration /);
  const forged = await swaks(ports.submission, 'bob@zeke.ne.jp', ['--tls']);
  assert.equal(forged.code, 0, forged.stdout);
  assert.match(forged.stdout, /250 2\.0\.0 Ok: queued as /);
  const r = await postern(srv.configDir, ['check']);
  assert.doesNotMatch(r.stdout, /sender ownership after AUTH/);
});
