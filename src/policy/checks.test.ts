/**
 * Each restriction on its own, with Postfix's reply texts and codes: HELO name syntax,
 * non-FQDN addresses, pipelining, SASL, mynetworks forms and styles, reply-code
 * parameters, sleep.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineFor, facts, answer, file, TRUSTED } from './test-kit.js';
import { validHostname } from './checks/names.js';
import { dsnFix } from './context.js';

const RCPT = { recipient: 'alice@example.test' };

test('reject_invalid_helo_hostname (and reject_invalid_hostname): Postfix host name syntax and address literals', async () => {
  for (const name of ['reject_invalid_helo_hostname', 'reject_invalid_hostname']) {
    const e = engineFor({ smtpd_helo_restrictions: name });
    for (const ok of ['mail.example.org', 'mail.example.org.', 'localhost', 'host_1.example', '[192.0.2.1]', '[IPv6:2001:db8::1]', '192.0.2.1', 'xn--bcher-kva.example']) {
      assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: ok })), 'accept', ok);
    }
    for (const bad of ['bad_host!', '-lead.example', 'trail-.example', 'a..b', '1234', 'x'.repeat(64) + '.example', 'sp ace']) {
      assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: bad })), `501 5.5.2 <${bad}>: Helo command rejected: Invalid name`, bad);
    }
    assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: '[999.1.1.1]' })), '501 5.5.2 <[999.1.1.1]>: Helo command rejected: invalid ip address');
  }
});

test('reject_non_fqdn_helo_hostname (and reject_non_fqdn_hostname)', async () => {
  const e = engineFor({ smtpd_helo_restrictions: 'reject_non_fqdn_hostname', non_fqdn_reject_code: '550' });
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'mail.example.org.' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: '[192.0.2.1]' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'localhost' })), '550 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'bad!.example' })), '550 5.5.2 <bad!.example>: Helo command rejected: need fully-qualified hostname');
});

test('reject_non_fqdn_sender / reject_non_fqdn_recipient: 504 5.5.2, null sender and literals pass', async () => {
  const e = engineFor({ smtpd_sender_restrictions: 'reject_non_fqdn_sender', smtpd_recipient_restrictions: 'reject_non_fqdn_recipient', smtpd_relay_restrictions: '', smtpd_reject_unlisted_recipient: 'no' });
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: '' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'user@[192.0.2.1]' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'user@localhost' })), '504 5.5.2 <user@localhost>: Sender address rejected: need fully-qualified address');
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'user' })), '504 5.5.2 <user>: Recipient address rejected: need fully-qualified address');
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'user@example.test.' })), 'accept');
});

test('reject_unauth_pipelining and permit_sasl_authenticated', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'reject_unauth_pipelining', smtpd_relay_restrictions: 'permit_sasl_authenticated, reject' });
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, unauthPipelining: true })), '503 5.5.0 <unknown[198.51.100.7]>: Client host rejected: Improper use of SMTP command pipelining');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, saslUsername: 'alice' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts(RCPT)), '554 5.7.1 <alice@example.test>: Recipient address rejected: Access denied');
});

test('permit_mynetworks: CIDR, bare and bracketed IPv6, IPv4-mapped, exclusions, files, tables, host names', async () => {
  const nets = file('mynets', '# trusted\n10.1.0.0/16\n');
  const cidr = file('mynets.cidr', '10.2.0.0/16 OK\n');
  const e = engineFor({ mynetworks: `!192.0.2.66, 192.0.2.0/24, [2001:db8::]/32, ${nets}, cidr:${cidr}, trusted.example`, smtpd_relay_restrictions: 'permit_mynetworks, reject' });
  const relay = (addr: string, name = 'unknown') => answer(e, 'rcpt', facts({ addr, name, recipient: 'x@elsewhere.example' }));
  for (const ok of ['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::7', '10.1.2.3', '10.2.3.4']) assert.equal(await relay(ok), 'accept', ok);
  assert.equal(await relay('203.0.113.5', 'trusted.example'), 'accept');
  for (const no of ['192.0.2.66', '198.51.100.1', '2001:db9::1', '10.3.0.1']) assert.match(await relay(no), /^554 /, no);
  assert.match(await relay('203.0.113.5', 'evil.trusted.example'), /^554 /);
});

test('mynetworks unset: mynetworks_style host trusts loopback, not the world; an empty mynetworks trusts nobody', async () => {
  const base = { smtpd_relay_restrictions: 'permit_mynetworks, reject' };
  const e = engineFor({ ...base, mynetworks: undefined as unknown as string });
  assert.equal(await answer(e, 'rcpt', facts({ addr: '127.0.0.1', recipient: 'x@elsewhere.example' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ addr: '::1', recipient: 'x@elsewhere.example' })), 'accept');
  assert.match(await answer(e, 'rcpt', facts({ addr: '198.51.100.1', recipient: 'x@elsewhere.example' })), /^554 /);
  const none = engineFor({ ...base, mynetworks: '' });
  assert.match(await answer(none, 'rcpt', facts({ addr: '127.0.0.1', recipient: 'x@elsewhere.example' })), /^554 /);
  assert.equal(await answer(engineFor(base), 'rcpt', facts({ addr: TRUSTED, recipient: 'x@elsewhere.example' })), 'accept');
});

test('reply-code parameters are honoured and kept consistent with the enhanced code', async () => {
  assert.equal(await answer(engineFor({ smtpd_recipient_restrictions: 'reject', reject_code: '450' }), 'rcpt', facts(RCPT)),
    '450 4.7.1 <alice@example.test>: Recipient address rejected: Access denied');
  assert.equal(await answer(engineFor({ smtpd_relay_restrictions: 'reject_unauth_destination', relay_domains_reject_code: '550' }), 'rcpt', facts({ recipient: 'x@elsewhere.example' })),
    '550 5.7.1 <x@elsewhere.example>: Relay access denied');
  assert.equal(await answer(engineFor({ smtpd_relay_restrictions: 'defer_unauth_destination', relay_domains_reject_code: '550' }), 'rcpt', facts({ recipient: 'x@elsewhere.example' })),
    '450 4.7.1 <x@elsewhere.example>: Relay access denied');
  assert.equal(await answer(engineFor({ smtpd_recipient_restrictions: 'defer', defer_code: '421' }), 'rcpt', facts(RCPT)),
    '421 4.3.2 <alice@example.test>: Recipient address rejected: Try again later');
});

test('sleep N waits and goes on', async () => {
  const e = engineFor({ smtpd_recipient_restrictions: 'sleep 0, reject' });
  assert.match(await answer(e, 'rcpt', facts(RCPT)), /^554 /);
});

test('valid_hostname and smtpd_dsn_fix details', () => {
  assert.equal(validHostname('a'.repeat(63) + '.example'), true);
  assert.equal(validHostname('a'.repeat(64) + '.example'), false);
  assert.equal(validHostname('1.2.3.4'), false);
  assert.equal(validHostname('123.example'), true);
  assert.equal(dsnFix('5.1.1', 'Sender address'), '5.1.7');
  assert.equal(dsnFix('5.1.2', 'Sender address'), '5.1.8');
  assert.equal(dsnFix('4.1.8', 'Recipient address'), '4.1.2');
  assert.equal(dsnFix('5.1.1', 'Client host'), '5.0.0');
  assert.equal(dsnFix('5.7.1', 'Client host'), '5.7.1');
});
