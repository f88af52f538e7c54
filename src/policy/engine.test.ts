/**
 * Restriction-engine semantics against Postfix's smtpd_check.c: which lists run at which
 * command (smtpd_delay_reject), first decision wins, PERMIT ends one list only,
 * warn_if_reject, defer_if_permit / defer_if_reject, restriction classes, the implicit
 * reject_unlisted_recipient, postmaster, ETRN/DATA/end-of-data, configuration errors.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../config/types.js';
import { engineFor, facts, answer, client, file } from './test-kit.js';
import type { AddressResolver } from '../resolve/types.js';
import { reply } from '../protocol/reply.js';

const RCPT = { recipient: 'alice@example.test' };

test('smtpd_delay_reject = yes: client/helo/sender lists run at RCPT, their own commands pass', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'reject', smtpd_helo_restrictions: 'reject_non_fqdn_helo_hostname', smtpd_sender_restrictions: 'reject_non_fqdn_sender' });
  assert.equal(await answer(e, 'connect', facts()), 'accept');
  assert.equal(await answer(e, 'helo', facts({ helo: 'bare' })), 'accept');
  assert.equal(await answer(e, 'mail', facts({ sender: 'nofqdn' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts(RCPT)), '554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: Access denied');
  const h = engineFor({ smtpd_helo_restrictions: 'reject_non_fqdn_helo_hostname', smtpd_sender_restrictions: 'reject_non_fqdn_sender' });
  assert.equal(await answer(h, 'rcpt', facts({ ...RCPT, helo: 'bare', sender: 'nofqdn' })), '504 5.5.2 <bare>: Helo command rejected: need fully-qualified hostname');
  assert.equal(await answer(h, 'rcpt', facts({ ...RCPT, sender: 'nofqdn' })), '504 5.5.2 <nofqdn>: Sender address rejected: need fully-qualified address');
  // No HELO at all: Postfix skips the HELO list.
  assert.equal(await answer(h, 'rcpt', facts({ ...RCPT, helo: undefined })), 'accept');
});

test('smtpd_delay_reject = no: each list at its own command', async () => {
  const e = engineFor({ smtpd_delay_reject: 'no', smtpd_client_restrictions: 'check_client_access inline:{198.51.100.66=REJECT}', smtpd_helo_restrictions: 'reject_invalid_hostname', smtpd_sender_restrictions: 'reject_non_fqdn_sender' });
  assert.equal(await answer(e, 'connect', facts({ addr: '198.51.100.66' })), '554 5.7.1 <unknown[198.51.100.66]>: Client host rejected: Access denied');
  assert.equal(await answer(e, 'helo', facts({ helo: 'bad_host!' })), '501 5.5.2 <bad_host!>: Helo command rejected: Invalid name');
  assert.equal(await answer(e, 'mail', facts({ sender: 'nofqdn' })), '504 5.5.2 <nofqdn>: Sender address rejected: need fully-qualified address');
  // At RCPT only relay and recipient lists run.
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'bad_host!', sender: 'nofqdn' })), 'accept');
});

test('PERMIT ends only its own list; REJECT/DEFER end the whole check', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'permit', smtpd_sender_restrictions: 'reject' });
  assert.equal(await answer(e, 'rcpt', facts(RCPT)), '554 5.7.1 <sender@example.org>: Sender address rejected: Access denied');
  const d = engineFor({ smtpd_client_restrictions: 'defer, reject', smtpd_recipient_restrictions: 'reject' });
  assert.equal(await answer(d, 'rcpt', facts(RCPT)), '450 4.3.2 <unknown[198.51.100.7]>: Client host rejected: Try again later');
  // A permit in the relay list does not skip the recipient list.
  const r = engineFor({ smtpd_relay_restrictions: 'permit', smtpd_recipient_restrictions: 'reject' });
  assert.equal(await answer(r, 'rcpt', facts(RCPT)), '554 5.7.1 <alice@example.test>: Recipient address rejected: Access denied');
});

test('warn_if_reject: the next restriction only logs (a class counts as one restriction); internal errors still refuse', async () => {
  const e = engineFor({ smtpd_sender_restrictions: 'warn_if_reject reject_non_fqdn_sender, reject_non_fqdn_helo_hostname' });
  const d = await e.check('rcpt', facts({ ...RCPT, sender: 'nofqdn', helo: 'bare' }));
  assert.deepEqual(d.notes, [{ action: 'reject_warning', text: '504 5.5.2 <nofqdn>: Sender address rejected: need fully-qualified address' }]);
  assert.equal(d.reply?.lines[0], '<bare>: Helo command rejected: need fully-qualified hostname');
  const cls = engineFor({ smtpd_restriction_classes: 'strict', strict: 'reject_non_fqdn_sender, reject', smtpd_sender_restrictions: 'warn_if_reject strict, permit' });
  const c = await cls.check('rcpt', facts({ ...RCPT, sender: 'nofqdn' }));
  assert.equal(c.reply, undefined);
  // Inside the class both refusals are only warnings: warn_if_reject covers the whole class.
  assert.deepEqual(c.notes.map((n) => n.text.slice(0, 3)), ['504', '554']);
  const bad = engineFor({ smtpd_recipient_restrictions: 'warn_if_reject check_recipient_access texthash:/nonexistent/postern/table' });
  assert.equal(await answer(bad, 'rcpt', facts(RCPT)), '451 4.3.5 Server configuration error');
});

test('defer_if_permit: an accept at the end becomes 450; a later reject wins; it carries from client to RCPT', async () => {
  assert.equal(await answer(engineFor({ smtpd_recipient_restrictions: 'defer_if_permit, permit' }), 'rcpt', facts(RCPT)),
    '450 4.7.0 <alice@example.test>: Recipient address rejected: defer_if_permit requested');
  assert.equal(await answer(engineFor({ smtpd_recipient_restrictions: 'defer_if_permit, reject' }), 'rcpt', facts(RCPT)),
    '554 5.7.1 <alice@example.test>: Recipient address rejected: Access denied');
  assert.equal(await answer(engineFor({ smtpd_client_restrictions: 'defer_if_permit', smtpd_recipient_restrictions: 'permit' }), 'rcpt', facts(RCPT)),
    '450 4.7.0 <unknown[198.51.100.7]>: Client host rejected: defer_if_permit requested');
  // With smtpd_delay_reject = no the client's defer_if_permit is remembered for the session's RCPT.
  const e = engineFor({ smtpd_delay_reject: 'no', smtpd_client_restrictions: 'defer_if_permit' });
  const session = facts(RCPT);
  assert.equal(await answer(e, 'connect', session), 'accept');
  assert.equal(await answer(e, 'mail', session), 'accept');
  assert.equal(await answer(e, 'rcpt', session), '450 4.7.0 <unknown[198.51.100.7]>: Client host rejected: defer_if_permit requested');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, client: client() })), 'accept', 'another session is not affected');
  // DATA starts afresh.
  assert.equal(await answer(e, 'data', session), 'accept');
});

test('defer_if_reject: a later 5xx reject becomes the deferral; it does not cross list groups', async () => {
  assert.equal(await answer(engineFor({ smtpd_recipient_restrictions: 'defer_if_reject, reject' }), 'rcpt', facts(RCPT)),
    '450 4.7.0 <alice@example.test>: Recipient address rejected: defer_if_reject requested');
  // Relay and recipient lists are one group in Postfix.
  assert.equal(await answer(engineFor({ smtpd_relay_restrictions: 'defer_if_reject', smtpd_recipient_restrictions: 'reject' }), 'rcpt', facts(RCPT)),
    '450 4.7.0 <alice@example.test>: Recipient address rejected: defer_if_reject requested');
  // The client list's defer_if_reject does not soften a sender reject.
  assert.equal(await answer(engineFor({ smtpd_client_restrictions: 'defer_if_reject', smtpd_sender_restrictions: 'reject' }), 'rcpt', facts(RCPT)),
    '554 5.7.1 <sender@example.org>: Sender address rejected: Access denied');
  // A 4xx is left as it is.
  assert.equal(await answer(engineFor({ smtpd_recipient_restrictions: 'defer_if_reject, defer' }), 'rcpt', facts(RCPT)),
    '450 4.3.2 <alice@example.test>: Recipient address rejected: Try again later');
});

test('restriction classes: named lists, usable in lists and as access table results', async () => {
  const t = file('class_access', 'example.org  from_friends\nbad.example  strict\n');
  const e = engineFor({
    smtpd_restriction_classes: 'from_friends, strict', from_friends: 'permit', strict: 'reject_non_fqdn_helo_hostname, reject',
    smtpd_sender_restrictions: `check_sender_access texthash:${t}`, smtpd_recipient_restrictions: 'reject_unauth_destination',
  });
  assert.equal(await answer(e, 'rcpt', facts(RCPT)), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'x@bad.example' })), '554 5.7.1 <x@bad.example>: Sender address rejected: Access denied');
  // Reply identity inside a class reached from check_sender_access is the sender's, even in the recipient list.
  const r = engineFor({ smtpd_restriction_classes: 'strict', strict: 'reject', smtpd_recipient_restrictions: `check_sender_access texthash:${t}` });
  assert.equal(await answer(r, 'rcpt', facts({ ...RCPT, sender: 'x@bad.example' })), '554 5.7.1 <x@bad.example>: Sender address rejected: Access denied');
  // A class that names itself is stopped (Postfix: unreasonable recursion).
  const loop = engineFor({ smtpd_restriction_classes: 'again', again: 'again', smtpd_recipient_restrictions: 'again' });
  assert.equal(await answer(loop, 'rcpt', facts(RCPT)), '451 4.3.5 Server configuration error');
});

test('implicit reject_unlisted_recipient: also for permitted clients; skipped after an explicit check or DISCARD', async () => {
  const e = engineFor({ smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination' });
  assert.equal(await answer(e, 'rcpt', facts({ addr: '192.0.2.1', recipient: 'nobody@example.test' })),
    '550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table');
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'nobody@mx.test' })), '550 5.1.1 <nobody@mx.test>: Recipient address rejected: User unknown in local recipient table');
  assert.equal(await answer(engineFor({ smtpd_reject_unlisted_recipient: 'no' }), 'rcpt', facts({ recipient: 'nobody@example.test' })), 'accept');
  // defer_if_permit is answered before the recipient tables are consulted.
  assert.equal(await answer(engineFor({ smtpd_recipient_restrictions: 'defer_if_permit' }), 'rcpt', facts({ recipient: 'nobody@example.test' })),
    '450 4.7.0 <nobody@example.test>: Recipient address rejected: defer_if_permit requested');
  // The resolver is asked once when reject_unlisted_recipient is listed explicitly.
  let calls = 0;
  const counting: AddressResolver = {
    classify: async () => ({ className: 'virtual_mailbox', domain: 'example.test', isFinal: true }),
    checkRecipient: async (a) => (calls++, { known: false, reply: reply(550, '5.1.1', `<${a}>: Recipient address rejected: User unknown in virtual mailbox table`) }),
    expand: async () => [],
  };
  const ex = engineFor({ smtpd_recipient_restrictions: 'warn_if_reject reject_unlisted_recipient' }, counting);
  const d = await ex.check('rcpt', facts({ recipient: 'nobody@example.test' }));
  assert.equal(d.notes[0]?.action, 'reject_warning');
  assert.equal(d.reply?.code, 550, 'under warn_if_reject the implicit check still runs');
  assert.equal(calls, 2);
  calls = 0;
  await engineFor({ smtpd_recipient_restrictions: 'reject_unlisted_recipient' }, counting).check('rcpt', facts({ recipient: 'nobody@example.test' }));
  assert.equal(calls, 1);
  // A resolver failure is a temporary error.
  const broken: AddressResolver = { ...counting, checkRecipient: async () => { throw new Error('db down'); } };
  assert.equal(await answer(engineFor({}, broken), 'rcpt', facts({ recipient: 'nobody@example.test' })), '451 4.3.0 <nobody@example.test>: Temporary lookup failure');
});

test('smtpd_reject_unlisted_sender: refuses unknown senders in our domains with X.1.0', async () => {
  const e = engineFor({ smtpd_reject_unlisted_sender: 'yes' });
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'ghost@example.test' })),
    '550 5.1.0 <ghost@example.test>: Sender address rejected: User unknown in virtual mailbox table');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'bob@example.test' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: '' })), 'accept');
});

test('postmaster is always accepted; ETRN, DATA and end-of-data lists speak for their command', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'reject', smtpd_recipient_restrictions: 'reject' });
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'Postmaster' })), 'accept');
  const x = engineFor({ smtpd_etrn_restrictions: 'reject', smtpd_data_restrictions: 'reject_unauth_pipelining', smtpd_end_of_data_restrictions: 'reject' });
  assert.equal(await answer(x, 'etrn', facts({ etrnDomain: 'example.test' })), '554 5.7.1 <example.test>: Etrn command rejected: Access denied');
  assert.equal(await answer(x, 'data', facts({ unauthPipelining: true })), '503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining');
  assert.equal(await answer(x, 'data', facts()), 'accept');
  assert.equal(await answer(x, 'end_of_data', facts()), '554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied');
  // With delay_reject the client list also runs at ETRN.
  const c = engineFor({ smtpd_client_restrictions: 'reject' });
  assert.match(await answer(c, 'etrn', facts({ etrnDomain: 'example.test' })), /Client host rejected/);
});

test('configuration errors name the file and line: unknown names, missing arguments, bare tables in DATA lists', () => {
  const throwsWith = (values: Record<string, string>, re: RegExp): void =>
    assert.throws(() => engineFor(values), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(values));
  throwsWith({ smtpd_recipient_restrictions: 'permit_mynetworks, reject_everything' }, /^<test>:0: error: smtpd_recipient_restrictions: unknown restriction "reject_everything"$/m);
  throwsWith({ smtpd_client_restrictions: 'check_client_access' }, /check_client_access needs an argument/);
  throwsWith({ smtpd_data_restrictions: 'hash:/etc/postfix/x' }, /smtpd_data_restrictions: specify one of check_client_access/);
  throwsWith({ smtpd_restriction_classes: 'nodef' }, /restriction class nodef has no definition/);
  throwsWith({ smtpd_restriction_classes: 'c1', c1: 'permit_mynetworks bogus_thing' }, /c1: unknown restriction "bogus_thing"/);
  throwsWith({ smtpd_client_restrictions: 'sleep soon' }, /sleep needs a number of seconds/);
  // Names Postfix has but Postern does not yet are skipped (check warns); case does not matter.
  assert.doesNotThrow(() => engineFor({ smtpd_client_restrictions: 'reject_rbl_client zen.spamhaus.org, Permit_MyNetworks', smtpd_recipient_restrictions: 'check_policy_service inet:127.0.0.1:10023' }));
});
