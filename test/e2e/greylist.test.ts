/**
 * Built-in greylisting (check_greylist) on the real server with postern_greylist_delay = 2s:
 * 450 4.2.0 first (a normal NOQUEUE: reject line), 250 after the delay and the message
 * delivered with an X-Greylist header; auto-whitelisting after N passes; authenticated
 * submission and mynetworks never greylisted; a big sender of the shipped whitelist passes
 * at once when its reverse name is forward-confirmed (B4) and is greylisted when it is not;
 * `postern greylist` counts and `postern greylist clear`.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { startDnsServer, ptrName, type DnsServer } from '../support/dns-server.js';
import { postern } from '../support/cli.js';

let srv: Postern;
let dns: DnsServer;
let dir: string;
let port: number;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const b64 = (s: string): string => Buffer.from(s).toString('base64');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-greylist-'));
  port = await freePort();
  dns = await startDnsServer({
    [ptrName('127.0.0.32')]: { PTR: ['smtp-out-7.amazon.com'] },
    'smtp-out-7.amazon.com': { A: ['127.0.0.32'] },
    // Claims to be Amazon, but the name does not lead back to the address.
    [ptrName('127.0.0.33')]: { PTR: ['smtp-out-8.amazon.com'] },
    'smtp-out-8.amazon.com': { A: ['192.0.2.8'] },
  });
  writeFileSync(join(dir, 'users'), 'alice@example.test:{PLAIN}alice-pw\n');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      mynetworks: '127.0.0.1/32',
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: join(dir, 'mail'),
      smtpd_recipient_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, check_greylist',
      smtpd_sasl_auth_enable: 'yes', smtpd_sasl_type: 'passwd-file', smtpd_sasl_path: join(dir, 'users'),
      postern_greylist_delay: '2s', postern_greylist_auto_whitelist_clients: '2', postern_greylist_auto_whitelist_interval: '0s',
      defer_transports: 'smtp',
    }, dns.port),
    masterCf: smtpService(port),
    files: { vmailbox: 'alice@example.test example.test/alice/\nbob@example.test example.test/bob/\ncarol@example.test example.test/carol/\ndave@example.test example.test/dave/\n' },
  });
});

after(async () => {
  await srv?.stop();
  await dns?.close();
  srv?.cleanup();
});

async function rcpt(from: string, sender: string, to: string, opts: { data?: boolean; auth?: string } = {}): Promise<string> {
  const c = await SmtpDialog.connect(port, '127.0.0.1', from);
  assert.equal((await c.reply()).code, 220);
  await c.cmd('EHLO sender.test');
  if (opts.auth) assert.equal((await c.cmd(`AUTH PLAIN ${b64(opts.auth)}`)).code, 235);
  assert.equal((await c.cmd(`MAIL FROM:<${sender}>`)).code, 250);
  const r = (await c.cmd(`RCPT TO:<${to}>`)).raw;
  if (opts.data && r.startsWith('250')) {
    assert.equal((await c.cmd('DATA')).code, 354);
    assert.equal((await c.cmd(`Subject: greylist test\r\nFrom: <${sender}>\r\n\r\nhello\r\n.`)).code, 250);
  }
  await c.cmd('QUIT');
  c.close();
  return r;
}

test('a new triplet gets 450 4.2.0, the retry after the delay 250; the message arrives with X-Greylist', async () => {
  assert.equal(await rcpt('127.0.0.30', 'news-4711@lists.remote.example', 'alice@example.test'),
    '450 4.2.0 <alice@example.test>: Recipient address rejected: Greylisted, try again in 2 seconds');
  await srv.waitForLog(/postfix\/smtpd\[\d+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.30\]: 450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted, try again in 2 seconds; from=<news-4711@lists\.remote\.example> to=<alice@example\.test> proto=ESMTP helo=<sender\.test>\n/);
  assert.match(await rcpt('127.0.0.30', 'news-4711@lists.remote.example', 'alice@example.test'), /^450 4\.2\.0 .*try again in [12] seconds$/, 'too early');
  await sleep(2100);
  // VERP: the next list message has another number, the same normalised triplet.
  assert.equal(await rcpt('127.0.0.30', 'news-4712@lists.remote.example', 'alice@example.test', { data: true }), '250 2.1.5 Ok');
  const deadline = Date.now() + 10_000;
  while (maildirMessages(join(dir, 'mail', 'example.test', 'alice')).length === 0 && Date.now() < deadline) await sleep(100);
  const [msg] = maildirMessages(join(dir, 'mail', 'example.test', 'alice'));
  assert.ok(msg, 'delivered');
  assert.match(msg.text, /^X-Greylist: delayed [23] seconds by Postern at mx\.test; /m);
  assert.equal(await rcpt('127.0.0.30', 'news-4713@lists.remote.example', 'alice@example.test'), '250 2.1.5 Ok', 'a passed triplet keeps passing');
});

test('after postern_greylist_auto_whitelist_clients passes the client is not greylisted any more', async () => {
  assert.match(await rcpt('127.0.0.30', 'someone@remote.example', 'bob@example.test'), /^450 4\.2\.0 /);
  await sleep(2100);
  assert.equal(await rcpt('127.0.0.30', 'someone@remote.example', 'bob@example.test'), '250 2.1.5 Ok');
  // Two passes: a brand-new triplet from this address passes at once.
  assert.equal(await rcpt('127.0.0.30', 'other@remote.example', 'carol@example.test'), '250 2.1.5 Ok');
  // Not its neighbour: auto-whitelisting is per address.
  assert.match(await rcpt('127.0.0.29', 'other@remote.example', 'dave@example.test'), /^450 4\.2\.0 /);
});

test('authenticated submission and mynetworks are never greylisted', async () => {
  assert.equal(await rcpt('127.0.0.31', 'alice@example.test', 'dave@example.test', { auth: '\0alice@example.test\0alice-pw' }), '250 2.1.5 Ok');
  assert.equal(await rcpt('127.0.0.1', 'script@mx.test', 'dave@example.test'), '250 2.1.5 Ok');
});

test('the shipped whitelist matches a forward-confirmed name (B4), not a PTR that does not lead back', async () => {
  assert.equal(await rcpt('127.0.0.32', 'ship-confirm@amazon.com', 'dave@example.test'), '250 2.1.5 Ok');
  assert.match(srv.log(), /connect from smtp-out-7\.amazon\.com\[127\.0\.0\.32\]/);
  assert.match(await rcpt('127.0.0.33', 'ship-confirm@amazon.com', 'dave@example.test'), /^450 4\.2\.0 /);
});

test('postern greylist counts; clear forgets everything', async () => {
  const r = await postern(srv.configDir, ['greylist']);
  assert.equal(r.code, 0, r.stderr);
  // Pending: 127.0.0.29→dave, 127.0.0.33→dave. Passed: the alice and bob triplets (the carol one passed by AWL, not stored).
  assert.match(r.stdout, /^Built-in greylisting \(state: embedded \(.*state\.db\)\)\n\|- Triplets pending:\t2\n\|- Triplets passed:\t2\n`- Auto-whitelisted clients:\t1\n$/);
  const c = await postern(srv.configDir, ['greylist', 'clear']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^greylist cleared: 5 entries removed\n$/);
  assert.match((await postern(srv.configDir, ['greylist'])).stdout, /pending:\t0\n.*passed:\t0\n.*clients:\t0\n/s);
  assert.match(await rcpt('127.0.0.30', 'news-4799@lists.remote.example', 'alice@example.test'), /^450 4\.2\.0 /, 'greylisted again after clear');
});
