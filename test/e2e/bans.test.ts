/**
 * The built-in auto-ban, configured as seed 000's fail2ban jail (maxretry 2, findtime 1d,
 * bantime 7d), on the real server: a brute-force run with changing passwords is banned at
 * the second failure and refused at accept with 554 5.7.1 afterwards; a device repeating
 * one stale password is never banned and is listed as such; mynetworks is never banned;
 * relay probes ban too; `postern bans` shows it all like fail2ban-client, `ban`/`unban`
 * act on the running server at once; bans survive a restart; the failed-AUTH line that
 * fail2ban's postfix[mode=auth] filter reads is still logged.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { postern } from '../support/cli.js';

let srv: Postern;
let dir: string;
let port: number;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const BANNED = /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.20\] blocked: banned until (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC \(2 failed AUTH attempts within 1d\)$/;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-bans-'));
  port = await freePort();
  writeFileSync(join(dir, 'users'), 'alice@mx.test:{PLAIN}right-password\n');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      mynetworks: '127.0.0.1/32',
      postern_ban_exceptions: '$mynetworks',
      postern_ban_maxretry: '2', postern_ban_findtime: '1d', postern_ban_bantime: '7d',
      smtpd_sasl_auth_enable: 'yes', smtpd_sasl_type: 'passwd-file', smtpd_sasl_path: join(dir, 'users'),
      postern_auth_failure_delay: '0s', smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination',
    }),
    masterCf: smtpService(port),
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

async function session(from: string): Promise<{ c: SmtpDialog; greeting: string }> {
  const c = await SmtpDialog.connect(port, '127.0.0.1', from);
  const r = await c.reply();
  return { c, greeting: r.raw };
}

async function failAuth(c: SmtpDialog, password: string): Promise<string> {
  return (await c.cmd(`AUTH PLAIN ${b64(`\0alice@mx.test\0${password}`)}`)).raw;
}

test('brute force with changing passwords: banned at the second failure, then refused at accept', async () => {
  const { c, greeting } = await session('127.0.0.20');
  assert.match(greeting, /^220 /);
  await c.cmd('EHLO attacker.test');
  assert.equal(await failAuth(c, 'guess-1'), '535 5.7.8 Error: authentication failed: authentication failure');
  const banned = await failAuth(c, 'guess-2');
  assert.match(banned, /^421 4\.7\.0 Service unavailable; Client host \[127\.0\.0\.20\] blocked: banned until .* UTC \(2 failed AUTH attempts within 1d\)$/);
  await c.expectClosed();
  // The line fail2ban's postfix[mode=auth] filter matches is logged for each failure.
  await srv.waitForLog(/warning: unknown\[127\.0\.0\.20\]: banned until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(2 failed AUTH attempts within 1d\)/);
  await srv.waitForLog(/SASL PLAIN authentication failed: (?:.|\n)*SASL PLAIN authentication failed: /);
  assert.equal(srv.log().match(/postfix\/smtpd\[\d+\]: warning: unknown\[127\.0\.0\.20\]: SASL PLAIN authentication failed: /g)?.length, 2);

  for (let i = 0; i < 3; i++) {
    const again = await session('127.0.0.20');
    const m = BANNED.exec(again.greeting);
    assert.ok(m, again.greeting);
    const until = Date.parse(m[1]!.replace(' ', 'T') + 'Z');
    assert.ok(Math.abs(until - (Date.now() + 7 * 86_400_000)) < 60_000, `banned for 7 days: ${m[1]}`);
    await again.c.expectClosed();
  }
  assert.match(srv.log(), /NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.20\]: 554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.20\] blocked: banned until .*; proto=SMTP\n/);
  assert.equal(srv.log().match(/: connect from unknown\[127\.0\.0\.20\]\n/g)?.length, 1, 'refused at accept: no session, no DNS, no "connect from"');
});

test('a device repeating one stale password is never banned', async () => {
  for (let i = 0; i < 4; i++) {
    const { c, greeting } = await session('127.0.0.21');
    assert.match(greeting, /^220 /, `attempt ${i + 1}`);
    await c.cmd('EHLO phone.test');
    assert.match(await failAuth(c, 'last-years-password'), /^535 /);
    assert.match(await failAuth(c, 'last-years-password'), /^535 /);
    await c.cmd('QUIT');
    c.close();
  }
  const { greeting } = await session('127.0.0.21');
  assert.match(greeting, /^220 /);
});

test('mynetworks (the ban exceptions) is never banned', async () => {
  for (let i = 0; i < 3; i++) {
    const { c, greeting } = await session('127.0.0.1');
    assert.match(greeting, /^220 /);
    await c.cmd('EHLO me.test');
    assert.match(await failAuth(c, `bad-${i}`), /^535 /);
    assert.match(await failAuth(c, `worse-${i}`), /^535 /);
    c.close();
  }
  assert.match((await session('127.0.0.1')).greeting, /^220 /);
});

test('relay probes count too: the second "Relay access denied" bans', async () => {
  const { c } = await session('127.0.0.23');
  await c.cmd('EHLO relay.test');
  await c.cmd('MAIL FROM:<x@relay.test>');
  assert.equal((await c.cmd('RCPT TO:<victim@elsewhere.example>')).raw, '554 5.7.1 <victim@elsewhere.example>: Relay access denied');
  assert.match((await c.cmd('RCPT TO:<victim2@elsewhere.example>')).raw, /^421 4\.7\.0 Service unavailable; Client host \[127\.0\.0\.23\] blocked: banned until .* \(2 relay attempts within 1d\)$/);
  assert.match((await session('127.0.0.23')).greeting, /^554 5\.7\.1 .*\(2 relay attempts within 1d\)$/);
});

test('postern bans: the status view, and ban/unban act on the running server at once', async () => {
  const st = await postern(srv.configDir, ['bans']);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /^Status for the built-in ban jail \(state: embedded \(.*state\.db\)\)\n/);
  // Failing now: the stale-password device (its one counted failure); mynetworks is never counted.
  assert.match(st.stdout, /\|  \|- Currently failed:\t1\n/);
  assert.match(st.stdout, /\|  `- Total failed:\t5\n/); // 2 brute force + 1 stale + 2 relay
  assert.match(st.stdout, /   \|- Currently banned:\t2\n   \|- Total banned:\t2\n   `- Banned IP list:\t127\.0\.0\.20 127\.0\.0\.23\n/);
  assert.match(st.stdout, /\n   127\.0\.0\.20\tuntil \d{4}-.* UTC \(2 failed AUTH attempts within 1d; ban 1, since .*\)\n/);
  assert.match(st.stdout, /Likely stale passwords.*\n   127\.0\.0\.21\tuser alice@mx\.test, repeated 8 times, last at /);
  assert.doesNotMatch(st.stdout, /127\.0\.0\.1\b/);

  const ban = await postern(srv.configDir, ['bans', 'ban', '127.0.0.22', '--time', '1h']);
  assert.equal(ban.code, 0, ban.stderr);
  assert.match(ban.stdout, /^127\.0\.0\.22: banned until .* UTC\n$/);
  assert.match((await session('127.0.0.22')).greeting, /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.22\] blocked: banned until .* \(banned by the administrator\)$/);
  const unban = await postern(srv.configDir, ['bans', 'unban', '127.0.0.22']);
  assert.equal(unban.code, 0, unban.stderr);
  assert.equal(unban.stdout, '127.0.0.22: unbanned\n');
  assert.match((await session('127.0.0.22')).greeting, /^220 /);

  const mine = await postern(srv.configDir, ['bans', 'ban', '127.0.0.1']);
  assert.equal(mine.code, 1);
  assert.match(mine.stderr, /127\.0\.0\.1 is in postern_ban_exceptions/);
  assert.equal((await postern(srv.configDir, ['bans', 'ban', 'not-an-address'])).code, 2);
});

test('bans survive a restart', async () => {
  await srv.stop();
  await srv.restart();
  assert.match((await session('127.0.0.20')).greeting, BANNED);
  const st = await postern(srv.configDir, ['bans']);
  assert.match(st.stdout, /Banned IP list:\t127\.0\.0\.20 127\.0\.0\.23\n/);
  assert.match(st.stdout, /Total failed:\t5\n/);
});
