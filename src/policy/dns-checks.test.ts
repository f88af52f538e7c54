/**
 * DNS-based restrictions against the local test DNS server: DNS lists with reply filters
 * and Postfix's reply texts, lookup errors and blocked-resolver answers (never a listing),
 * parallel lookups, rbl_reply_maps, allow-lists, reject_unknown_*, and the MX/NS/A access
 * tables. Every expected text is Postfix's (smtpd_check.c format strings).
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { engineFor, facts, answer, file } from './test-kit.js';
import { createDns } from '../dns/resolver.js';
import type { Dns } from '../dns/types.js';
import { parseListSpec, matchesFilter } from '../dns/dnsxl.js';
import { startDnsServer, ptrName, type DnsServer } from '../../test/support/dns-server.js';
import type { ClientInfo } from './types.js';

let srv: DnsServer;
let dns: Dns;
const rev = (ip: string): string => ip.split('.').reverse().join('.');

before(async () => {
  srv = await startDnsServer({
    [`${rev('198.51.100.7')}.bl.test`]: { A: ['127.0.0.2'], TXT: ['Listed: see https://bl.test/q?198.51.100.7'] },
    [`${rev('198.51.100.8')}.bl.test`]: { A: ['127.0.0.12'] },
    [`${rev('198.51.100.9')}.bl.test`]: { A: ['127.0.0.4', '127.0.0.10'] },
    [`${rev('198.51.100.7')}.zen.spamhaus.org`]: { A: ['127.255.255.254'] },
    [`${rev('198.51.100.7')}.white.test`]: { A: ['127.0.10.2'] },
    'dead.test': { silent: true },
    'dead2.test': { silent: true },
    'dead3.test': { silent: true },
    'broken.test': { servfail: true },
    'evil.example.dbl.test': { A: ['127.0.1.2'], TXT: ['https://dbl.test/evil.example'] },
    'good.example': { MX: [{ priority: 10, exchange: 'mx.good.example' }] },
    'mx.good.example': { A: ['203.0.113.25'] },
    'aonly.example': { A: ['203.0.113.26'] },
    'nullmx.example': { MX: [{ priority: 0, exchange: '' }] },
    'slow.example': { silent: true },
    'spammy.example': { MX: [{ priority: 10, exchange: 'mx.bulk-host.test' }] },
    'mx.bulk-host.test': { A: ['203.0.113.99'] },
    'okmx.example': { MX: [{ priority: 10, exchange: 'mx.trusted.test' }] },
    'mx.trusted.test': { A: ['203.0.113.50'] },
    'sub.zone.example': { A: ['203.0.113.60'] },
    'zone.example': { NS: ['ns1.badhost.test'] },
    'ns1.badhost.test': { A: ['203.0.113.70'] },
    'client.example.org': { A: ['198.51.100.7'] },
    [ptrName('198.51.100.7')]: { PTR: ['client.example.org'] },
  });
  dns = createDns({ servers: [srv.address], timeoutMs: 300, tries: 1 });
});
after(async () => srv.close());

const RCPT = { recipient: 'alice@example.test' };
const named = (addr: string, over: Partial<ClientInfo> = {}): ClientInfo => ({ addr, port: 1, name: 'unknown', reverseName: 'unknown', nameStatus: 'unknown', ...over });

test('reply filters: =d.d.d.d with [n;n..m] patterns, and the &mask form', () => {
  const f = (spec: string) => {
    const s = parseListSpec(spec);
    assert.ok(typeof s !== 'string', String(s));
    return s.filter;
  };
  assert.equal(matchesFilter(f('bl.test'), '127.0.0.99'), true);
  assert.equal(matchesFilter(f('bl.test=127.0.0.2'), '127.0.0.2'), true);
  assert.equal(matchesFilter(f('bl.test=127.0.0.2'), '127.0.0.3'), false);
  assert.equal(matchesFilter(f('zen.test=127.0.0.[2..11]'), '127.0.0.11'), true);
  assert.equal(matchesFilter(f('zen.test=127.0.0.[2..11]'), '127.0.0.12'), false);
  assert.equal(matchesFilter(f('x.test=127.0.0.[1;3;5]'), '127.0.0.3'), true);
  assert.equal(matchesFilter(f('x.test=127.0.0.[1;3;5]'), '127.0.0.4'), false);
  assert.equal(matchesFilter(f('dbl.test=127.0.[0..1].[2..99]'), '127.0.1.50'), true);
  assert.equal(matchesFilter(f('dbl.test=127.0.[0..1].[2..99]'), '127.0.2.50'), false);
  assert.equal(matchesFilter(f('bits.test&0.0.0.4'), '127.0.0.6'), true);
  assert.equal(matchesFilter(f('bits.test=&0.0.0.4'), '127.0.0.3'), false);
  for (const bad of ['bl.test=127.0.0', 'bl.test=127.0.0.[5..2]', 'bl.test=127.0.0.256', 'nodot', 'bl.test&1.2.3']) assert.equal(typeof parseListSpec(bad), 'string', bad);
});

test('reject_rbl_client: Postfix default reply with the TXT reason; filters; clean clients pass', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'reject_rbl_client bl.test' }, undefined, dns);
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, addr: '198.51.100.7' })),
    '554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using bl.test; Listed: see https://bl.test/q?198.51.100.7');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, addr: '198.51.100.8' })), '554 5.7.1 Service unavailable; Client host [198.51.100.8] blocked using bl.test');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, addr: '198.51.100.50' })), 'accept');
  const f = engineFor({ smtpd_client_restrictions: 'reject_rbl_client bl.test=127.0.0.[2..11]', maps_rbl_reject_code: '550' }, undefined, dns);
  assert.equal(await answer(f, 'rcpt', facts({ ...RCPT, addr: '198.51.100.8' })), 'accept'); // 127.0.0.12 is outside the filter
  assert.match(await answer(f, 'rcpt', facts({ ...RCPT, addr: '198.51.100.9' })), /^550 5\.7\.1 Service unavailable; Client host \[198\.51\.100\.9\] blocked using bl\.test=127\.0\.0\.\[2\.\.11\]$/);
  const old = engineFor({ smtpd_client_restrictions: 'reject_maps_rbl', maps_rbl_domains: 'dead.test, bl.test' }, undefined, dns);
  assert.match(await answer(old, 'rcpt', facts({ ...RCPT, addr: '198.51.100.8' })), /^554 5\.7\.1 Service unavailable; Client host \[198\.51\.100\.8\] blocked using bl\.test$/);
});

test('reject_rhsbl_sender / _helo / _client / _reverse_client: the name or address is named in the reply', async () => {
  const e = engineFor({ smtpd_sender_restrictions: 'reject_rhsbl_sender dbl.test=127.0.1.[2..99]', smtpd_helo_restrictions: 'reject_rhsbl_helo dbl.test', smtpd_client_restrictions: 'reject_rhsbl_reverse_client dbl.test' }, undefined, dns);
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'spammer@evil.example' })),
    '554 5.7.1 Service unavailable; Sender address [spammer@evil.example] blocked using dbl.test=127.0.1.[2..99]; https://dbl.test/evil.example');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'evil.example' })), '554 5.7.1 Service unavailable; Helo command [evil.example] blocked using dbl.test; https://dbl.test/evil.example');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, client: named('198.51.100.20', { reverseName: 'evil.example' }) })),
    '554 5.7.1 Service unavailable; Unverified Client host [evil.example] blocked using dbl.test; https://dbl.test/evil.example');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: '' })), 'accept'); // the null sender has no domain
  const r = engineFor({ smtpd_relay_restrictions: '', smtpd_recipient_restrictions: 'reject_rhsbl_recipient dbl.test, reject_rhsbl_client dbl.test' }, undefined, dns);
  assert.match(await answer(r, 'rcpt', facts({ recipient: 'x@evil.example' })), /^554 5\.7\.1 Service unavailable; Recipient address \[x@evil\.example\] blocked using dbl\.test/);
  assert.match(await answer(r, 'rcpt', facts({ ...RCPT, client: named('198.51.100.21', { name: 'evil.example', reverseName: 'evil.example', nameStatus: 'ok' }) })), /Client host \[evil\.example\] blocked using dbl\.test/);
});

test('rbl_reply_maps: templates by list, with $rbl_* and $client variables; a bad template falls back', async () => {
  const t = file('rbl_reply', 'bl.test 550 5.7.1 $client_address listed by $rbl_domain${rbl_reason?: $rbl_reason} (helo $helo_name, from $sender_domain)\nbad.test 99 nonsense\n');
  const e = engineFor({ smtpd_client_restrictions: 'reject_rbl_client bl.test', rbl_reply_maps: `texthash:${t}` }, undefined, dns);
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, addr: '198.51.100.8' })), '550 5.7.1 198.51.100.8 listed by bl.test (helo client.example.org, from example.org)');
  const d = engineFor({ smtpd_client_restrictions: 'reject_rbl_client bl.test', default_rbl_reply: '$rbl_code 5.7.0 go away: $rbl_what' }, undefined, dns);
  assert.equal(await answer(d, 'rcpt', facts({ ...RCPT, addr: '198.51.100.8' })), '554 5.7.0 go away: 198.51.100.8');
});

test('a DNS list that times out or answers SERVFAIL is not a listing: a warning names the list; defer on request', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'reject_rbl_client dead.test, reject_rbl_client broken.test' }, undefined, dns);
  const d = await e.check('rcpt', facts({ ...RCPT, addr: '198.51.100.7' }));
  assert.equal(d.reply, undefined);
  assert.deepEqual(d.notes.map((n) => n.action + ' ' + n.text), [
    'warning 7.100.51.198.dead.test: RBL lookup error: Host or domain name not found. Name service error for name=7.100.51.198.dead.test type=A: Host not found, try again',
    'warning 7.100.51.198.broken.test: RBL lookup error: Host or domain name not found. Name service error for name=7.100.51.198.broken.test type=A: Host not found, try again',
  ]);
  const defer = engineFor({ smtpd_client_restrictions: 'reject_rbl_client dead.test', postern_rbl_tempfail_action: 'defer' }, undefined, dns);
  assert.equal(await answer(defer, 'rcpt', facts({ ...RCPT, addr: '198.51.100.7' })),
    '450 4.7.1 Service unavailable; Client host [198.51.100.7] not checked: dead.test did not answer; try again later');
  // defer_if_permit: a later rejection still wins.
  const dip = engineFor({ smtpd_client_restrictions: 'reject_rbl_client dead.test, reject_rbl_client bl.test', postern_rbl_tempfail_action: 'defer_if_permit' }, undefined, dns);
  assert.match(await answer(dip, 'rcpt', facts({ ...RCPT, addr: '198.51.100.7' })), /^554 5\.7\.1 Service unavailable; Client host \[198\.51\.100\.7\] blocked using bl\.test/);
  assert.match(await answer(dip, 'rcpt', facts({ ...RCPT, addr: '198.51.100.60' })), /^450 4\.7\.1 .*not checked: dead\.test did not answer/);
});

test('"your resolver is blocked" answers (127.255.255.254) are logged distinctly and are never a listing, whatever the filter', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'reject_rbl_client zen.spamhaus.org, reject_rbl_client zen.spamhaus.org=127.255.255.[1..255]' }, undefined, dns);
  const d = await e.check('rcpt', facts({ ...RCPT, addr: '198.51.100.7' }));
  assert.equal(d.reply, undefined);
  assert.deepEqual(d.notes.map((n) => n.text), [
    'dnsblog: 7.100.51.198.zen.spamhaus.org: zen.spamhaus.org answered 127.255.255.254: query refused (public resolver?)',
    'dnsblog: 7.100.51.198.zen.spamhaus.org: zen.spamhaus.org answered 127.255.255.254: query refused (public resolver?)',
  ]);
  // Another list's answer of 127.255.255.254 is an ordinary listing.
  assert.equal(parseListSpec('zen.spamhaus.org') !== undefined, true);
});

test('warn_if_reject in front of a DNS list logs reject_warning and accepts', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'warn_if_reject reject_rbl_client bl.test' }, undefined, dns);
  const d = await e.check('rcpt', facts({ ...RCPT, addr: '198.51.100.8' }));
  assert.equal(d.reply, undefined);
  assert.deepEqual(d.notes, [{ action: 'reject_warning', text: '554 5.7.1 Service unavailable; Client host [198.51.100.8] blocked using bl.test' }]);
});

test('the lookups of one list run in parallel: three dead lists cost one timeout, not three', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'permit_mynetworks, reject_rbl_client dead.test, reject_rbl_client dead2.test, reject_rbl_client dead3.test' }, undefined, dns);
  const t0 = Date.now();
  const d = await e.check('rcpt', facts({ ...RCPT, addr: '198.51.100.61' }));
  const took = Date.now() - t0;
  assert.equal(d.notes.length, 3);
  assert.ok(took < 750, `three 300 ms timeouts took ${took} ms: not parallel`);
  // A client permitted before the first DNS list costs no lookup at all.
  const before = srv.log.length;
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, addr: '192.0.2.9' })), 'accept');
  assert.equal(srv.log.length, before);
});

test('permit_dnswl_client: permits, but never relaying; a failed allow-list lookup is DEFER_IF_REJECT', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'permit_dnswl_client white.test, reject_rbl_client zen.spamhaus.org=127.255.255.254, reject' }, undefined, dns);
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, addr: '198.51.100.7' })), 'accept');
  const relay = engineFor({ smtpd_relay_restrictions: 'permit_dnswl_client white.test, reject_unauth_destination' }, undefined, dns);
  assert.equal(await answer(relay, 'rcpt', facts({ addr: '198.51.100.7', recipient: 'x@elsewhere.example' })), '554 5.7.1 <x@elsewhere.example>: Relay access denied');
  assert.equal(await answer(relay, 'rcpt', facts({ addr: '198.51.100.7', recipient: 'alice@example.test' })), 'accept');
  const dead = engineFor({ smtpd_client_restrictions: 'permit_dnswl_client dead.test, reject' }, undefined, dns);
  assert.equal(await answer(dead, 'rcpt', facts({ ...RCPT, addr: '198.51.100.7' })), '450 4.7.1 <unknown[198.51.100.7]>: Client host rejected: Service unavailable');
});

test('reject_unknown_client_hostname / _reverse_client_hostname: codes, 4.7.25, always 450 on a temporary failure', async () => {
  const e = engineFor({ smtpd_client_restrictions: 'reject_unknown_client_hostname', unknown_client_reject_code: '550' });
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, client: named('198.51.100.30') })), '550 5.7.25 Client host rejected: cannot find your hostname, [198.51.100.30]');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, client: named('198.51.100.30', { reverseName: 'liar.example' }) })), '550 5.7.25 Client host rejected: cannot find your hostname, [198.51.100.30]');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, client: named('198.51.100.30', { nameStatus: 'tempfail' }) })), '450 4.7.25 Client host rejected: cannot find your hostname, [198.51.100.30]');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, client: named('198.51.100.30', { name: 'ok.example', reverseName: 'ok.example', nameStatus: 'ok' }) })), 'accept');
  const old = engineFor({ smtpd_client_restrictions: 'reject_unknown_client' });
  assert.equal(await answer(old, 'rcpt', facts({ ...RCPT, client: named('198.51.100.30') })), '450 4.7.25 Client host rejected: cannot find your hostname, [198.51.100.30]');
  const r = engineFor({ smtpd_client_restrictions: 'reject_unknown_reverse_client_hostname' });
  assert.equal(await answer(r, 'rcpt', facts({ ...RCPT, client: named('198.51.100.30', { reverseName: 'liar.example' }) })), 'accept');
  assert.equal(await answer(r, 'rcpt', facts({ ...RCPT, client: named('198.51.100.30') })), '450 4.7.25 Client host rejected: cannot find your reverse hostname, [198.51.100.30]');
});

test('reject_unknown_helo_hostname: A, AAAA or MX is enough; NXDOMAIN → the configured code; a timeout follows the tempfail action', async () => {
  const e = engineFor({ smtpd_helo_restrictions: 'reject_unknown_helo_hostname', unknown_hostname_reject_code: '550' }, undefined, dns);
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'good.example' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'aonly.example' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: '[198.51.100.7]' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'nowhere.example' })), '550 5.7.1 <nowhere.example>: Helo command rejected: Host not found');
  const d = await e.check('rcpt', facts({ ...RCPT, helo: 'slow.example' }));
  assert.equal(d.reply && `${d.reply.code} ${d.reply.enhanced} ${d.reply.lines[0]}`, '450 4.7.1 <slow.example>: Helo command rejected: Host not found');
  assert.match(d.notes[0]!.text, /^slow\.example: address or MX lookup error: /);
  const old = engineFor({ smtpd_helo_restrictions: 'reject_unknown_hostname' }, undefined, dns);
  assert.equal(await answer(old, 'rcpt', facts({ ...RCPT, helo: 'nowhere.example' })), '450 4.7.1 <nowhere.example>: Helo command rejected: Host not found');
});

test('reject_unknown_sender_domain / _recipient_domain: MX or A, null MX, NXDOMAIN, temporary failure; our own domains skipped', async () => {
  const e = engineFor({ smtpd_sender_restrictions: 'reject_unknown_sender_domain', smtpd_relay_restrictions: '', smtpd_recipient_restrictions: 'reject_unknown_recipient_domain, permit' }, undefined, dns);
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'a@good.example' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'a@aonly.example' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: '' })), 'accept');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'a@nowhere.example' })), '450 4.1.8 <a@nowhere.example>: Sender address rejected: Domain not found');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'a@nullmx.example' })), '550 5.7.27 <a@nullmx.example>: Sender address rejected: Domain nullmx.example does not accept mail (nullMX)');
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'b@nullmx.example', sender: 'a@good.example' })), '556 5.1.10 <b@nullmx.example>: Recipient address rejected: Domain nullmx.example does not accept mail (nullMX)');
  assert.equal(await answer(e, 'rcpt', facts({ recipient: 'b@nowhere.example', sender: 'a@good.example' })), '450 4.1.2 <b@nowhere.example>: Recipient address rejected: Domain not found');
  // A domain we are final destination for is never looked up.
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'someone@mx.test' })), 'accept');
  // Temporary failure: defer_if_permit by default — a later reject wins, an accept becomes 450.
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'a@slow.example' })), '450 4.1.8 <a@slow.example>: Sender address rejected: Domain not found');
  const strict = engineFor({ smtpd_sender_restrictions: 'reject_unknown_sender_domain', smtpd_recipient_restrictions: 'reject', unknown_address_reject_code: '550' }, undefined, dns);
  assert.equal(await answer(strict, 'rcpt', facts({ ...RCPT, sender: 'a@slow.example' })), '554 5.7.1 <alice@example.test>: Recipient address rejected: Access denied');
  assert.equal(await answer(strict, 'rcpt', facts({ ...RCPT, sender: 'a@nowhere.example' })), '550 5.1.8 <a@nowhere.example>: Sender address rejected: Domain not found');
  const now = engineFor({ smtpd_sender_restrictions: 'reject_unknown_sender_domain', smtpd_recipient_restrictions: 'reject', unknown_address_tempfail_action: 'defer' }, undefined, dns);
  assert.equal(await answer(now, 'rcpt', facts({ ...RCPT, sender: 'a@slow.example' })), '450 4.1.8 <a@slow.example>: Sender address rejected: Domain not found');
});

test('check_sender_mx_access, check_client_ns_access, check_helo_a_access: servers by name and address; OK is refused', async () => {
  const t = file('mx_access', '.bulk-host.test REJECT bulk mailer host\n203.0.113.70 REJECT bad name server\nmx.trusted.test OK\n203.0.113.26 554 5.7.1 no\n');
  const e = engineFor({
    smtpd_sender_restrictions: `check_sender_mx_access texthash:${t}`,
    smtpd_helo_restrictions: `check_helo_ns_access texthash:${t}, check_helo_a_access texthash:${t}`,
  }, undefined, dns);
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, sender: 'a@spammy.example' })), '554 5.7.1 <a@spammy.example>: Sender address rejected: bulk mailer host');
  const ok = await e.check('rcpt', facts({ ...RCPT, sender: 'a@okmx.example' }));
  assert.equal(ok.reply, undefined);
  assert.match(ok.notes[0]!.text, /restriction check_sender_mx_access returns OK for mx\.trusted\.test; this is not allowed for security reasons/);
  // sub.zone.example has no NS: the parent's name server is checked (by its address).
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'sub.zone.example' })), '554 5.7.1 <sub.zone.example>: Helo command rejected: bad name server');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'aonly.example' })), '554 5.7.1 <aonly.example>: Helo command rejected: no');
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, helo: 'good.example' })), 'accept');
});

test('check_reverse_client_hostname_access sees the unverified name; check_client_access the verified one', async () => {
  const t = file('rev_access', 'liar.example REJECT forged name\n');
  const e = engineFor({ smtpd_client_restrictions: `check_client_access texthash:${t}, check_reverse_client_hostname_access texthash:${t}` });
  assert.equal(await answer(e, 'rcpt', facts({ ...RCPT, client: named('198.51.100.30', { reverseName: 'liar.example' }) })),
    '554 5.7.1 <unknown[198.51.100.30]>: Unverified Client host rejected: forged name');
});
