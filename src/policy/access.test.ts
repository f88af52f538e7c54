/**
 * check_*_access and every access(5) action, with Postfix's texts: OK/RELAY/digits,
 * REJECT/DEFER with optional enhanced code, NNN text, DEFER_IF_*, DUNNO, WARN/INFO, HOLD,
 * DISCARD, FILTER, REDIRECT, PREPEND, class names and restriction lists, bad values; the
 * lookup keys for clients, HELO names, senders (incl. <>) and recipients; bare type:table.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineFor, facts, answer, file } from './test-kit.js';

const RCPT = { recipient: 'alice@example.test' };
const senderTable = file('sender_access', [
  'ok.example OK', 'relay.example RELAY', 'stamp.example 1700000000', 'reject.example REJECT', 'text.example REJECT no spam please',
  'enh.example REJECT 5.7.9 policy says no', 'defer.example DEFER', 'nnn.example 421 4.7.0 come back later', 'nnn5.example 550 go away',
  'addr.example 550 5.1.1 no such sender', 'dunno.example DUNNO', 'warn.example WARN watch this one', 'info.example INFO noted',
  'hold.example HOLD', 'holdtext.example HOLD quarantine', 'discard.example DISCARD', 'filter.example FILTER smtp:[127.0.0.1]:10025',
  'filterbad.example FILTER nocolon', 'redirect.example REDIRECT abuse@example.test', 'prepend.example PREPEND X-Flag: yes',
  'prependbad.example PREPEND not a header', 'dip.example DEFER_IF_PERMIT slow down', 'dir.example DEFER_IF_REJECT maybe later',
  'list.example reject_non_fqdn_helo_hostname, permit', 'class.example strict', 'table.example hash:/etc/postfix/other',
  'unknownword.example frobnicate', '250.example 250 fine', 'user@exact.example REJECT exact key', 'user@ REJECT any domain user',
  '<> REJECT no bounces here',
].join('\n') + '\n');
const e = engineFor({ smtpd_restriction_classes: 'strict', strict: 'reject', smtpd_sender_restrictions: `check_sender_access texthash:${senderTable}` });
const from = (sender: string, extra = {}) => answer(e, 'rcpt', facts({ ...RCPT, sender, ...extra }));

test('access actions that decide: OK, RELAY, all digits, REJECT, DEFER, NNN text, with Postfix wording', async () => {
  for (const s of ['a@ok.example', 'a@relay.example', 'a@stamp.example', 'a@dunno.example', 'a@sub.ok.example'.replace('sub.', '')]) assert.equal(await from(s), 'accept', s);
  assert.equal(await from('a@reject.example'), '554 5.7.1 <a@reject.example>: Sender address rejected: Access denied');
  assert.equal(await from('a@text.example'), '554 5.7.1 <a@text.example>: Sender address rejected: no spam please');
  assert.equal(await from('a@enh.example'), '554 5.7.9 <a@enh.example>: Sender address rejected: policy says no');
  assert.equal(await from('a@defer.example'), '450 4.7.1 <a@defer.example>: Sender address rejected: Access denied');
  assert.equal(await from('a@nnn.example'), '421 4.7.0 <a@nnn.example>: Sender address rejected: come back later');
  assert.equal(await from('a@nnn5.example'), '550 5.7.1 <a@nnn5.example>: Sender address rejected: go away');
  // smtpd_dsn_fix: a recipient-style 5.1.1 used for a sender becomes 5.1.7.
  assert.equal(await from('a@addr.example'), '550 5.1.7 <a@addr.example>: Sender address rejected: no such sender');
  assert.equal(await from('user@exact.example'), '554 5.7.1 <user@exact.example>: Sender address rejected: exact key');
  assert.equal(await from('user@anywhere.example'), '554 5.7.1 <user@anywhere.example>: Sender address rejected: any domain user');
  assert.equal(await from(''), '554 5.7.1 <>: Sender address rejected: no bounces here');
});

test('access actions that go on: WARN, INFO, HOLD, DISCARD, FILTER, REDIRECT, PREPEND', async () => {
  const d = async (s: string) => e.check('rcpt', facts({ ...RCPT, sender: s }));
  assert.deepEqual((await d('a@warn.example')).notes, [{ action: 'warn', text: 'watch this one' }]);
  assert.deepEqual((await d('a@info.example')).notes, [{ action: 'info', text: 'noted' }]);
  const h = await d('a@hold.example');
  assert.equal(h.reply, undefined);
  assert.equal(h.effects.hold, '<a@hold.example>: Sender address triggers HOLD action');
  assert.deepEqual(h.notes, [{ action: 'hold', text: '<a@hold.example>: Sender address triggers HOLD action' }]);
  assert.equal((await d('a@holdtext.example')).effects.hold, '<a@holdtext.example>: Sender address quarantine');
  const f = await d('a@filter.example');
  assert.equal(f.effects.filter, 'smtp:[127.0.0.1]:10025');
  assert.equal(f.notes[0]?.text, '<a@filter.example>: Sender address triggers FILTER smtp:[127.0.0.1]:10025');
  assert.equal((await d('a@filterbad.example')).effects.filter, undefined);
  assert.equal((await d('a@redirect.example')).effects.redirect, 'abuse@example.test');
  assert.deepEqual((await d('a@prepend.example')).effects.prepend, ['X-Flag: yes']);
  assert.deepEqual((await d('a@prependbad.example')).effects.prepend, []);
  // DISCARD accepts and stops every later check, even the unknown-recipient check.
  const x = engineFor({ smtpd_sender_restrictions: `check_sender_access texthash:${senderTable}, reject`, smtpd_recipient_restrictions: 'reject' });
  const dd = await x.check('rcpt', facts({ sender: 'a@discard.example', recipient: 'nobody@example.test' }));
  assert.equal(dd.reply, undefined);
  assert.equal(dd.effects.discard, '<a@discard.example>: Sender address triggers DISCARD action');
});

test('DEFER_IF_PERMIT / DEFER_IF_REJECT from a table use access_map_defer_code', async () => {
  assert.equal(await from('a@dip.example'), '450 4.7.1 <a@dip.example>: Sender address rejected: slow down');
  const r = engineFor({ smtpd_sender_restrictions: `check_sender_access texthash:${senderTable}, reject` });
  assert.equal(await answer(r, 'rcpt', facts({ ...RCPT, sender: 'a@dir.example' })), '450 4.7.1 <a@dir.example>: Sender address rejected: maybe later');
});

test('class names and restriction lists as values; bad values are a server configuration error', async () => {
  assert.equal(await from('a@list.example', { helo: 'bare' }), '504 5.5.2 <bare>: Helo command rejected: need fully-qualified hostname');
  assert.equal(await from('a@list.example'), 'accept');
  assert.equal(await from('a@class.example'), '554 5.7.1 <a@class.example>: Sender address rejected: Access denied');
  for (const s of ['a@table.example', 'a@unknownword.example', 'a@250.example']) assert.equal(await from(s), '451 4.3.5 Server configuration error', s);
});

test('check_client_access: host name, parent domains, address and its networks', async () => {
  const t = file('client_access', 'bad.example REJECT by name\n.sub.example REJECT subdomain\n198.51.100 REJECT whole net\n203.0.113.9 OK\n2001:db8 REJECT v6 net\n');
  const c = engineFor({ smtpd_client_restrictions: `check_client_access texthash:${t}, reject` });
  const p = engineFor({ smtpd_client_restrictions: `check_client_access texthash:${t}`, parent_domain_matches_subdomains: 'smtpd_access_maps' });
  // Postfix >= 3.6 default: "bad.example" matches only itself, ".sub.example" the subdomains.
  assert.equal(await answer(c, 'rcpt', facts({ ...RCPT, addr: '203.0.113.10', name: 'bad.example' })), '554 5.7.1 <bad.example[203.0.113.10]>: Client host rejected: by name');
  assert.equal(await answer(c, 'rcpt', facts({ ...RCPT, addr: '203.0.113.10', name: 'a.sub.example' })), '554 5.7.1 <a.sub.example[203.0.113.10]>: Client host rejected: subdomain');
  assert.equal(await answer(p, 'rcpt', facts({ ...RCPT, addr: '203.0.113.10', name: 'mx.bad.example' })), '554 5.7.1 <mx.bad.example[203.0.113.10]>: Client host rejected: by name');
  assert.equal(await answer(engineFor({ smtpd_client_restrictions: `check_client_access texthash:${t}` }), 'rcpt', facts({ ...RCPT, addr: '203.0.113.10', name: 'mx.bad.example' })), 'accept');
  assert.equal(await answer(c, 'rcpt', facts({ ...RCPT, addr: '198.51.100.20' })), '554 5.7.1 <unknown[198.51.100.20]>: Client host rejected: whole net');
  assert.equal(await answer(c, 'rcpt', facts({ ...RCPT, addr: '203.0.113.9' })), 'accept');
  assert.equal(await answer(c, 'rcpt', facts({ ...RCPT, addr: '203.0.113.10', name: 'mx.bad.example' })), '554 5.7.1 <mx.bad.example[203.0.113.10]>: Client host rejected: Access denied');
  assert.equal(await answer(c, 'rcpt', facts({ ...RCPT, addr: '2001:db8::5' })), '554 5.7.1 <unknown[2001:db8::5]>: Client host rejected: v6 net');
  const cidr = file('client.cidr', '192.0.2.128/25 REJECT cidr says no\n');
  const k = engineFor({ smtpd_client_restrictions: `check_client_access cidr:${cidr}` });
  assert.equal(await answer(k, 'rcpt', facts({ ...RCPT, addr: '192.0.2.200' })), '554 5.7.1 <unknown[192.0.2.200]>: Client host rejected: cidr says no');
});

test('check_helo_access, check_recipient_access, check_etrn_access; a bare type:table means the list\'s own check', async () => {
  const t = file('names', '.spam.example REJECT\nbad@example.test REJECT no mail for bad\nexample.test OK\n');
  const h = engineFor({ smtpd_helo_restrictions: `texthash:${t}` });
  assert.equal(await answer(h, 'rcpt', facts({ ...RCPT, helo: 'host.spam.example' })), '554 5.7.1 <host.spam.example>: Helo command rejected: Access denied');
  const r = engineFor({ smtpd_recipient_restrictions: `texthash:${t}` });
  assert.equal(await answer(r, 'rcpt', facts({ recipient: 'bad+tag@example.test' })), '554 5.7.1 <bad+tag@example.test>: Recipient address rejected: no mail for bad');
  const x = engineFor({ smtpd_etrn_restrictions: `check_etrn_access texthash:${t}` });
  assert.equal(await answer(x, 'etrn', facts({ etrnDomain: 'x.spam.example' })), '554 5.7.1 <x.spam.example>: Etrn command rejected: Access denied');
  // A missing table at run time is a server configuration error, not an accept.
  const m = engineFor({ smtpd_recipient_restrictions: 'check_recipient_access texthash:/nonexistent/postern/table' });
  assert.equal(await answer(m, 'rcpt', facts(RCPT)), '451 4.3.5 Server configuration error');
});
