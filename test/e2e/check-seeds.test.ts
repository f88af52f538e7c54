/**
 * `postern check` on every seed configuration as published (fixtures/seed-configs): no
 * crash, precise messages with file and line, and the seed-specific findings (seed 004's
 * pasted master.cf, unsupported-yet restrictions, no-effect parameters, warn_if_reject).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, existsSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, BIN, ROOT } from '../support/server.js';

// The seed configs are copied into the repository so the suite runs on a clean clone.
const seedDir = join(ROOT, 'test', 'fixtures', 'seed-configs');

async function check(seed: string): Promise<{ code: number | null; out: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `postern-seed-${seed}-`));
  copyFileSync(join(seedDir, `${seed}.main.cf`), join(dir, 'main.cf'));
  const master = join(seedDir, `${seed}.master.cf`);
  if (existsSync(master)) copyFileSync(master, join(dir, 'master.cf'));
  else writeFileSync(join(dir, 'master.cf'), 'smtp inet n - n - - smtpd\n');
  const r = await run(process.execPath, [BIN, '-c', dir, 'check']);
  return { code: r.code, out: r.stdout + r.stderr, dir };
}

test('every seed main.cf loads through check without a crash, ending in a summary line', async () => {
  const seeds = readdirSync(seedDir).filter((f) => f.endsWith('.main.cf')).map((f) => f.replace(/\.main\.cf$/, ''));
  assert.equal(seeds.length, 5);
  for (const seed of seeds) {
    const r = await check(seed);
    assert.ok(r.code === 0 || r.code === 1, `${seed}: exit ${r.code}\n${r.out}`);
    assert.doesNotMatch(r.out, /at .*\.js:\d+|TypeError|ReferenceError/, `${seed} crashed:\n${r.out}`);
    assert.match(r.out, /^postern: \d+ errors?, \d+ warnings?$/m, seed);
    for (const line of r.out.trim().split('\n')) assert.match(line, /^postern: (.+:\d+: (error|warning|info): .+|\d+ errors?, \d+ warnings?)$/, `${seed}: ${line}`);
  }
});

test('seed 004: each master.cf line that lost its indentation is an error at that line', async () => {
  const r = await check('004-amavis-postgrey');
  assert.equal(r.code, 1);
  const m = join(r.dir, 'master.cf');
  for (const [line, of] of [[31, 30], [32, 30], [71, 70], [115, 113], [118, 117], [123, 122], [140, 122], [144, 143]] as const) {
    assert.ok(r.out.includes(`postern: ${m}:${line}: error: this line looks like a continuation of the service on line ${of} whose leading white space was lost (pasted from a web page?); indent it with spaces or a tab`), `line ${line}:\n${r.out}`);
  }
  assert.ok(r.out.includes(`${join(r.dir, 'main.cf')}:5: info: biff: accepted, no effect in Postern: Postern has no comsat/biff notification`));
  // The seed's PostfixAdmin/ViMbAdmin query files are not published with it: named at the main.cf line.
  assert.ok(r.out.includes(`${join(r.dir, 'main.cf')}:118: error: virtual_mailbox_maps: cannot read the mysql table configuration /etc/postfix/vimb/virtual_mailbox_maps.cf: ENOENT`), r.out);
  // check_policy_service (postgrey) is implemented: no "not supported yet" for it.
  assert.doesNotMatch(r.out, /check_policy_service|reject_unknown_(sender|recipient)_domain/);
  assert.match(r.out, /main\.cf:80: warning: smtpd_helo_restrictions: "warn_if_reject reject_non_fqdn_hostname" only LOGS what reject_non_fqdn_hostname would reject; it is not enforced/);
  // Line 108, "mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128": every form is one Postfix accepts.
  assert.doesNotMatch(r.out, /main\.cf:108:/, r.out);
  assert.doesNotMatch(r.out, /mynetworks/, r.out);
});

test('mynetworks and cidr tables: host bits as Postfix reports them, with file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-check-nets-'));
  writeFileSync(join(dir, 'client.cidr'), '# access\n192.0.2.0/24 OK\n198.51.100.1/24 REJECT\n');
  writeFileSync(join(dir, 'main.cf'), [
    'myhostname = mx.test',
    'mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128',
    '    192.168.1.1/24 ::1/128',
    `smtpd_client_restrictions = check_client_access cidr:${join(dir, 'client.cidr')}`,
  ].join('\n') + '\n');
  writeFileSync(join(dir, 'master.cf'), '127.0.0.1:2525 inet n - n - - smtpd\n');
  const r = await run(process.execPath, [BIN, '-c', dir, 'check']);
  assert.equal(r.code, 1, r.stdout);
  const f = join(dir, 'main.cf');
  assert.ok(r.stdout.includes(`${f}:2: error: mynetworks: non-null host address bits in "192.168.1.1/24", perhaps you should use "192.168.1.0/24" instead`), r.stdout);
  assert.ok(r.stdout.includes(`${f}:2: warning: mynetworks: "::1/128": write IPv6 networks inside [], as "[::1]/128"`), r.stdout);
  const c = join(dir, 'client.cidr');
  assert.ok(r.stdout.includes(`${c}:3: warning: cidr map ${c}, line 3: non-null host address bits in "198.51.100.1/24", perhaps you should use "198.51.100.0/24" instead: skipping this rule`), r.stdout);
  assert.match(r.stdout, /^postern: 1 error, 2 warnings$/m);
});

test('seed 000 and 001: their DNS-based restrictions are supported; the configs check clean', async () => {
  const r0 = await check('000-multidomain-fail2ban');
  assert.equal(r0.code, 0, r0.out);
  assert.match(r0.out, /^postern: 0 errors, 0 warnings$/m);
  assert.doesNotMatch(r0.out, /not supported yet/);
  const r1 = await check('001-relay-tarpit-helo');
  assert.equal(r1.code, 0, r1.out);
  assert.match(r1.out, /^postern: 0 errors, 0 warnings$/m);
});

test('seed 003: a DNS list known to answer several codes, used without a reply filter, gets an info line', async () => {
  const r = await check('003-s25r-rbl-checks');
  assert.match(r.out, /main\.cf:2: info: smtpd_client_restrictions: "reject_rbl_client all\.rbl\.jp" has no reply filter, so every answer rejects: all\.rbl\.jp answers several codes/);
  assert.doesNotMatch(r.out, /reject_rbl_client.*not supported yet/);
});

test('bad DNS list arguments and policy endpoints are errors with file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-check-dns-'));
  writeFileSync(join(dir, 'main.cf'), [
    'myhostname = mx.test',
    'smtpd_client_restrictions = reject_rbl_client zen.example=127.0.0.[9..2], reject_rhsbl_sender dbl.example=127.0.1',
    'smtpd_recipient_restrictions = check_policy_service 127.0.0.1:10023, reject_unauth_destination',
    'postern_rbl_tempfail_action = maybe',
  ].join('\n'));
  writeFileSync(join(dir, 'master.cf'), '127.0.0.1:2525 inet n - n - - smtpd\n');
  const r = await run(process.execPath, [BIN, '-c', dir, 'check']);
  const f = join(dir, 'main.cf');
  assert.equal(r.code, 1);
  assert.ok(r.stdout.includes(`${f}:2: error: smtpd_client_restrictions: reject_rbl_client: bad reply filter "=127.0.0.[9..2]" in "zen.example=127.0.0.[9..2]"`), r.stdout);
  assert.ok(r.stdout.includes(`${f}:2: error: smtpd_client_restrictions: reject_rhsbl_sender: bad reply filter "=127.0.1"`), r.stdout);
  assert.ok(r.stdout.includes(`${f}:3: error: smtpd_recipient_restrictions: policy service "127.0.0.1:10023": use inet:host:port or unix:/path`), r.stdout);
  assert.ok(r.stdout.includes(`${f}:4: error: postern_rbl_tempfail_action: "maybe" is not dunno, defer or defer_if_permit`), r.stdout);
});

test('seed 002: planned TLS/SASL parameters warn, and a missing access table is an error naming the file', async () => {
  const r = await check('002-three-listeners');
  assert.equal(r.code, 1);
  // TLS is enabled on submission and smtps; the seed's Let's Encrypt files are not on this machine.
  assert.match(r.out, /main\.cf:14: error: service submission: cannot read TLS certificate \/etc\/letsencrypt\/live\/zeke\.ne\.jp\/fullchain\.pem: ENOENT/);
  assert.doesNotMatch(r.out, /smtpd_tls_cert_file: not supported yet/);
  assert.match(r.out, /main\.cf:38: error: smtpd_recipient_restrictions \(service smtp\): table source file \/etc\/postfix\/sender_access does not exist/);
});

test('unknown parameters warn, bad values and unknown restrictions are errors with file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-check-'));
  writeFileSync(join(dir, 'main.cf'), [
    '# a comment',
    'myhostname = mx.test',
    'no_such_parameter = 1',
    'smtpd_helo_required = maybe',
    'smtpd_recipient_restrictions = permit_mynetworks,',
    '    reject_everything_bad, reject_unauth_destination',
    'message_size_limit = -5',
    'mynetworks = 0.0.0.0/0',
  ].join('\n'));
  writeFileSync(join(dir, 'master.cf'), '127.0.0.1:2525 inet n - n - - smtpd\n');
  const r = await run(process.execPath, [BIN, '-c', dir, 'check']);
  assert.equal(r.code, 1);
  const f = join(dir, 'main.cf');
  assert.ok(r.stdout.includes(`${f}:3: warning: unknown parameter no_such_parameter`), r.stdout);
  assert.ok(r.stdout.includes(`${f}:4: error: smtpd_helo_required: bad boolean "maybe" (use yes or no)`), r.stdout);
  assert.ok(r.stdout.includes(`${f}:5: error: smtpd_recipient_restrictions: unknown restriction "reject_everything_bad"`), r.stdout);
  assert.ok(r.stdout.includes(`${f}:7: error: message_size_limit: -5 is below the minimum 0`), r.stdout);
  assert.ok(r.stdout.includes(`${f}:8: warning: mynetworks contains 0.0.0.0/0: every client in that network may relay mail anywhere`), r.stdout);
  // The daemon refuses to start with the same errors.
  const s = await run(process.execPath, [BIN, '-c', dir, 'start-fg'], { timeoutMs: 10_000 });
  assert.equal(s.code, 1);
  assert.match(s.stderr, /main\.cf:4: error: smtpd_helo_required: bad boolean "maybe"/);
  assert.match(s.stderr, /configuration errors, not starting/);
});

test('the demo configuration checks clean', async () => {
  const r = await run(process.execPath, [BIN, '-c', join(ROOT, 'demo', 'config'), 'check']);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /^postern: 0 errors, 0 warnings$/m);
});
