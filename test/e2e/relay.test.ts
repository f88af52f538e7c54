/**
 * Never an open relay: on a listener whose mynetworks excludes 127.0.0.1, every address
 * trick is refused for an unauthenticated client, by a raw dialog and by swaks; nothing is
 * queued. A positive control shows that mail for our own users still gets in.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, run, BIN, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';

let srv: Postern;
let port: number;
let defaultPort: number;

before(async () => {
  port = await freePort();
  defaultPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-relay-'));
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      mynetworks: '192.0.2.0/24',
      mydestination: 'mx.test, localhost',
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_mailbox_base: join(dir, 'mail'),
      alias_maps: 'hash:$config_directory/aliases',
    }),
    // One listener with an explicit reject_unauth_destination and room for many errors, one with Postfix's defaults.
    masterCf: smtpService(port, '  -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination\n  -o smtpd_soft_error_limit=100\n  -o smtpd_hard_error_limit=100') + smtpService(defaultPort),
    files: { vmailbox: 'alice@example.test example.test/alice/\n', aliases: `bob: ${join(dir, 'mail', 'bob')}/\n` },
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

// Every form an open-relay tester (or a spammer) tries. None may be accepted from outside.
const TRICKS = [
  'victim@evil.example',
  'VICTIM@EVIL.EXAMPLE',
  'victim@evil.example.',
  'victim%evil.example@mx.test',
  'victim%evil.example@example.test',
  'victim%evil.example@[127.0.0.1]',
  'evil.example!victim@mx.test',
  'evil.example!victim@example.test',
  '"victim@evil.example"@mx.test',
  '"victim%evil.example"@mx.test',
  '"evil.example!victim"@mx.test',
  'victim\\@evil.example@mx.test',
  '@mx.test:victim@evil.example',
  '@mx.test,@example.test:victim@evil.example',
  'victim@[192.0.2.1]',
  'victim@[127.0.0.1]',
  'victim@[IPv6:::1]',
  'victim@mx.test.evil.example',
  'victim@example.test.evil.example',
  'victim@evilmx.test',
  'victim@mx-test.example',
  'victim@sub.mx.test',
  'victim@example.test@evil.example',
  'victim@evil.example@mx.test',
  'victim@evil.example%mx.test',
  'postmaster@evil.example',
  'victim@xn--evl-6ma.example',
  '"victim"@evil.example',
];

test('every relay trick is refused at RCPT for a client outside mynetworks', async () => {
  const c = await SmtpDialog.connect(port);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO outside.example')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<spammer@outside.example>')).code, 250);
  const accepted: string[] = [];
  for (const t of TRICKS) {
    const r = await c.cmd(`RCPT TO:<${t}>`);
    if (r.code < 400) accepted.push(`${t} → ${r.raw}`);
  }
  assert.deepEqual(accepted, [], 'relay tricks accepted');
  // Positive control: our own users are still reachable from outside.
  assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).raw, '250 2.1.5 Ok');
  assert.equal((await c.cmd('RCPT TO:<bob@mx.test>')).raw, '250 2.1.5 Ok');
  c.send('QUIT');
  await c.expectClosed();
  await srv.waitForLog(/NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <victim@evil\.example>: Relay access denied; from=<spammer@outside\.example> to=<victim@evil\.example> proto=ESMTP helo=<outside\.example>/);
});

test('the plain relay attempt gets Postfix\'s exact reply; nothing is ever queued for a trick (swaks)', async () => {
  for (const t of ['victim@evil.example', 'victim%evil.example@mx.test', '@mx.test:victim@evil.example']) {
    const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'outside.example', '--from', 'spammer@outside.example', '--to', t]);
    assert.notEqual(r.code, 0, `swaks succeeded for ${t}`);
    assert.match(r.stdout, /<\*\* +5\d\d 5\.\d\.\d/, r.stdout);
  }
  const direct = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'outside.example', '--from', 'spammer@outside.example', '--to', 'victim@evil.example']);
  assert.match(direct.stdout, /<\*\* +554 5\.7\.1 <victim@evil\.example>: Relay access denied/);
  const q = await run(process.execPath, [BIN, '-c', srv.configDir, 'queue']);
  assert.equal(q.stdout, 'Mail queue is empty\n');
});

test('the default relay restrictions defer (not accept) relaying when the admin set none', async () => {
  // smtpd_relay_restrictions left at Postfix's default: permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination.
  const c = await SmtpDialog.connect(defaultPort);
  await c.reply();
  await c.cmd('HELO outside.example');
  await c.cmd('MAIL FROM:<>');
  const r = await c.cmd('RCPT TO:<victim@evil.example>');
  assert.equal(r.raw, '454 4.7.1 <victim@evil.example>: Relay access denied'); // Postfix's defer_unauth_destination reply
  c.close();
});
