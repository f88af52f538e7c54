/**
 * Never an open relay: every address trick is refused for a client outside mynetworks,
 * with an explicit reject_unauth_destination, with Postfix's default relay restrictions,
 * with permit_auth_destination, and behind an access table that says OK for our domains.
 * Our own addresses, written the ways RFC 5321 allows, are still accepted.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineFor, facts, answer, file, TRUSTED } from './test-kit.js';
import { isRouted } from './checks/routing.js';

// mx.test is local, example.test virtual (alice, bob), relay.test relayed; 192.0.2.0/24 trusted.
const TRICKS = [
  'victim@evil.example',
  'VICTIM@EVIL.EXAMPLE',
  'victim@evil.example.',
  'victim%evil.example@mx.test',
  'victim%evil.example@example.test',
  'victim%evil.example@[127.0.0.1]',
  'victim%evil.example@MX.TEST.',
  'evil.example!victim@mx.test',
  'evil.example!victim@example.test',
  '"victim@evil.example"@mx.test',
  '"victim%evil.example"@example.test',
  '"evil.example!victim"@mx.test',
  'victim\\@evil.example@mx.test',
  '@mx.test:victim@evil.example',
  '@mx.test,@example.test:victim@evil.example',
  '@example.test:alice@example.test',
  'victim@[192.0.2.1]',
  'victim@[127.0.0.1]',
  'victim@[IPv6:::1]',
  'victim@mx.test.evil.example',
  'victim@example.test.evil.example',
  'victim@evilexample.test',
  'victim@example-test.example',
  'victim@sub.example.test',
  'victim@example.test@evil.example',
  'victim@evil.example@example.test',
  'victim@evil.example%example.test',
  'postmaster@evil.example',
  'victim@xn--exmple-cua.test',
  '"victim"@evil.example',
  'alice%relay.test@example.test',
  'relay.test!alice@mx.test',
  'victim@example.test..',
  'victim@.example.test',
];

const RELAY = { smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination' };

test('relay trick table: every trick is refused for an outside client (reject_unauth_destination)', async () => {
  assert.ok(TRICKS.length >= 25);
  const e = engineFor(RELAY);
  const accepted: string[] = [];
  for (const t of TRICKS) {
    const a = await answer(e, 'rcpt', facts({ recipient: t }));
    if (!/^[45]\d\d /.test(a)) accepted.push(t);
  }
  assert.deepEqual(accepted, []);
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'victim@evil.example' })), '554 5.7.1 <victim@evil.example>: Relay access denied');
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'victim%evil.example@mx.test' })), '554 5.7.1 <victim%evil.example@mx.test>: Relay access denied');
  assert.equal(await answer(e, 'rcpt', facts({ recipient: '@mx.test:victim@evil.example' })), '554 5.7.1 <@mx.test:victim@evil.example>: Relay access denied');
});

test('relay trick table: refused under the default relay restrictions (454 defer) and with permit_auth_destination', async () => {
  const defaults = engineFor({});
  const pad = engineFor({ smtpd_relay_restrictions: '', smtpd_recipient_restrictions: 'permit_mynetworks, permit_auth_destination, reject' });
  for (const t of TRICKS) {
    assert.match(await answer(defaults, 'rcpt', facts({ recipient: t })), /^(454 4\.7\.1 .*Relay access denied|5\d\d )/, t);
    assert.match(await answer(pad, 'rcpt', facts({ recipient: t })), /^[45]\d\d /, t);
  }
  assert.equal(await answer(defaults, 'rcpt', facts({ recipient: 'victim@evil.example' })), '454 4.7.1 <victim@evil.example>: Relay access denied');
});

test('an access table saying OK for our domain does not make a routed address ours', async () => {
  const access = file('rcpt_ok', 'example.test OK\nmx.test OK\n');
  const e = engineFor({ smtpd_relay_restrictions: `check_recipient_access texthash:${access}, reject_unauth_destination` });
  for (const t of ['victim%evil.example@example.test', 'evil.example!victim@mx.test', '"victim@evil.example"@mx.test', '@mx.test:victim@evil.example']) {
    assert.match(await answer(e, 'rcpt', facts({ recipient: t })), /^554 5\.7\.1 .*Relay access denied$/, t);
  }
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'alice@example.test' })), 'accept');
});

test('our own addresses, in every legitimate spelling, are accepted from outside', async () => {
  const e = engineFor(RELAY);
  for (const ok of ['alice@example.test', 'ALICE@EXAMPLE.TEST', 'alice@example.test.', 'alice+news@example.test', 'root@mx.test', 'postmaster@mx.test',
    'postmaster@example.test', 'postmaster', 'POSTMASTER', 'whoever@relay.test', 'root@MX.TEST']) {
    assert.equal(await answer(e, 'rcpt', facts({ recipient: ok })), 'accept', ok);
  }
  // Ours, but unknown: refused by the recipient tables, not by relay control.
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'nobody@example.test' })), '550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table');
});

test('trusted clients (mynetworks, SASL) may relay; allow_untrusted_routing opts back into routed addresses', async () => {
  const e = engineFor({ smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination' });
  assert.equal(await answer(e, 'rcpt', facts({ addr: TRUSTED, recipient: 'victim@evil.example' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ saslUsername: 'alice', recipient: 'victim@evil.example' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ addr: '::ffff:192.0.2.77', recipient: 'victim@evil.example' })), 'accept');
  assert.match(await answer(e, 'rcpt', facts({ addr: '192.0.3.1', recipient: 'victim@evil.example' })), /^554 /);
  const routed = engineFor({ ...RELAY, allow_untrusted_routing: 'yes', smtpd_reject_unlisted_recipient: 'no' });
  assert.equal(await answer(routed, 'rcpt', facts({ recipient: 'user%relay.test@relay.test' })), 'accept');
});

test('isRouted: routing operators anywhere in the local part, source routes, junk in the domain', () => {
  for (const r of ['a%b@c.test', 'b!a@c.test', '"a@b"@c.test', 'a\\@b@c.test', '@x.test:a@b.test', 'a@b%c.test', 'a@b!c.test']) assert.equal(isRouted(r), true, r);
  for (const r of ['alice@example.test', 'alice+x@example.test', 'a.b-c@[192.0.2.1]', 'postmaster', '"a b"@c.test']) assert.equal(isRouted(r), false, r);
});
