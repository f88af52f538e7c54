/**
 * DNS defences end to end, with the seeds' own restriction lists (000, 002, 003) and only
 * the DNS list names rewritten to test zones served by the local test DNS server. Clients
 * connect from 127.0.0.2, 127.0.0.3 … so each has its own reverse name and listing:
 * listed clients get Postfix's reply, clean ones are accepted, warn_if_reject only logs,
 * dead lists are not listings (or 4xx with postern_rbl_tempfail_action = defer), resolver-
 * blocked answers are logged distinctly, S25R refuses generic names and honours the
 * whitelist, and pflogsumm counts the DNSBL rejections.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, run, ROOT, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { startDnsServer, ptrName, type DnsServer, type Zones } from '../support/dns-server.js';

const SEEDS = join(ROOT, 'test', 'fixtures', 'seed-configs');
const S25R = join(ROOT, 'share', 's25r.regexp');

/** A forward-confirmed client name. */
const host = (ip: string, name: string): Zones => ({ [ptrName(ip)]: { PTR: [name] }, [name]: { A: [ip] } });
const listed = (ip: string, zone: string, a: string, txt?: string): Zones => ({ [`${ip.split('.').reverse().join('.')}.${zone}`]: { A: [a], ...(txt ? { TXT: [txt] } : {}) } });

const ZONES: Zones = {
  ...host('127.0.0.2', 'mail.clean.test'),
  ...host('127.0.0.3', 'mail.listed.test'),
  // 127.0.0.4 has no PTR at all.
  ...host('127.0.0.5', 'p1234-ipbf01.tokyo.ocn.test'),
  ...host('127.0.0.6', 'dhcp042.cable.test'),
  ...host('127.0.0.7', 'mail.blocked.test'),
  [ptrName('127.0.0.8')]: { PTR: ['forged.test'] }, 'forged.test': { A: ['192.0.2.8'] },
  ...host('127.0.0.9', 'mail.warn.test'),
  ...host('127.0.0.10', 'dhcp7.pool.test'),
  ...listed('127.0.0.3', 'sbl.spamhaus.test', '127.0.0.2', 'https://www.spamhaus.test/query/sbl?ip=127.0.0.3'),
  ...listed('127.0.0.3', 'zen.spamhaus.test', '127.0.0.4', 'https://www.spamhaus.test/query/ip/127.0.0.3'),
  ...listed('127.0.0.7', 'zen.spamhaus.test', '127.255.255.254'),
  ...listed('127.0.0.9', 'zen.spamhaus.test', '127.255.255.10'),
  'evil.test.dbl.spamhaus.test': { A: ['127.0.1.2'], TXT: ['https://www.spamhaus.test/query/dbl?domain=evil.test'] },
  'good.test': { MX: [{ priority: 10, exchange: 'mx.good.test' }] }, 'mx.good.test': { A: ['192.0.2.25'] },
  'evil.test': { A: ['192.0.2.66'] },
  'friend.test': { A: ['192.0.2.67'] },
  'nullmx.test': { MX: [{ priority: 0, exchange: '' }] },
  'dynablock.wirehub.test': { silent: true },
  'opm.blitzed.test': { servfail: true },
  'list.dsbl.test': { silent: true },
};

let dns: DnsServer;
const servers: Postern[] = [];
const ports = { s000: 0, s000defer: 0, s002: 0, s003: 0, snippet: 0 };

/** The test's DNS server, short timeouts, and our test zones' blocked-resolver codes. */
function dnsCf(): Record<string, string> {
  return { dns_timeout: '300ms', dns_tries: '1', postern_rbl_blocked_replies: 'spamhaus.test=127.255.255.[252..255]', local_recipient_maps: '', mynetworks: '127.0.0.1/32' };
}

/** Seed restriction text with DNS list names moved from their real TLDs to .test zones. */
const toTestZones = (text: string): string => text.replace(/\b((?:[a-z0-9-]+\.)+)(?:org|net|com|jp)\b/g, '$1test');

async function start(key: keyof typeof ports, restrictions: string, extra: Record<string, string> = {}, files?: Record<string, string>): Promise<Postern> {
  ports[key] = await freePort();
  const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), `postern-dnsdef-${key}-`));
  const srv = await startPostern({ dir, mainCf: baseMainCf(dir, { ...dnsCf(), ...extra }, dns.port) + restrictions + '\n', masterCf: smtpService(ports[key]), files });
  servers.push(srv);
  return srv;
}

function seedRestrictions(file: string, param: string): string {
  const text = readFileSync(join(SEEDS, file), 'utf8');
  const m = new RegExp(`^${param} =[^\\n]*(?:\\n[ \\t]+[^\\n]*)*`, 'm').exec(text);
  assert.ok(m, `${param} in ${file}`);
  return m[0];
}

let s000: Postern;
let s002: Postern;
let s003: Postern;
let snippet: Postern;

before(async () => {
  dns = await startDnsServer(ZONES);
  const seed000 = toTestZones(seedRestrictions('000-multidomain-fail2ban.main.cf', 'smtpd_client_restrictions') + '\n' + seedRestrictions('000-multidomain-fail2ban.main.cf', 'smtpd_sender_restrictions'));
  s000 = await start('s000', seed000);
  await start('s000defer', seed000, { postern_rbl_tempfail_action: 'defer' });
  const seed002 = toTestZones(seedRestrictions('002-three-listeners.main.cf', 'smtpd_recipient_restrictions')).replace('/etc/postfix/sender_access', '$config_directory/sender_access');
  s002 = await start('s002', seed002, {}, { sender_access: readFileSync(join(SEEDS, '002-sender_access'), 'utf8') + 'friend.test OK\n' });
  const seed003 = toTestZones(seedRestrictions('003-s25r-rbl-checks.main.cf', 'smtpd_client_restrictions'))
    .replace('/etc/postfix/white-list', '$config_directory/white-list').replace('/etc/postfix/s25r-list', S25R).replace('/etc/postfix/reject-list', '$config_directory/reject-list');
  const lists = { 'white-list': '/^dhcp042\\.cable\\.test$/ OK\n', 'reject-list': '/^mail\\.rejectme\\.test$/ REJECT\n' };
  s003 = await start('s003', seed003, {}, lists);
  // The snippet docs/dns-defences.md recommends: whitelist, then no-PTR, then the S25R rules.
  snippet = await start('snippet', `smtpd_client_restrictions = permit_mynetworks, check_client_access regexp:$config_directory/white-list, reject_unknown_client_hostname, check_client_access regexp:${S25R}`, {}, lists);
});

after(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
  await dns?.close();
});

/** One RCPT from `from` (source address); returns the RCPT reply line. */
async function rcpt(port: number, from: string, opts: { helo?: string; sender?: string; to?: string } = {}): Promise<string> {
  const c = await SmtpDialog.connect(port, '127.0.0.1', from);
  try {
    await c.reply();
    await c.cmd(`EHLO ${opts.helo ?? 'client.test'}`);
    const m = await c.cmd(`MAIL FROM:<${opts.sender ?? 'someone@good.test'}>`);
    if (m.code !== 250) return m.raw;
    return (await c.cmd(`RCPT TO:<${opts.to ?? 'admin@mx.test'}>`)).raw;
  } finally {
    c.close();
  }
}

test('seed 000: a listed client gets Postfix\'s DNSBL reply; no PTR → 450 4.7.25; unknown sender domains refused; dead lists are not listings', async () => {
  assert.equal(await rcpt(ports.s000, '127.0.0.3'), '554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using sbl.spamhaus.test; https://www.spamhaus.test/query/sbl?ip=127.0.0.3');
  await s000.waitForLog(/NOQUEUE: reject: RCPT from mail\.listed\.test\[127\.0\.0\.3\]: 554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.3\] blocked using sbl\.spamhaus\.test; https:\/\/www\.spamhaus\.test\/query\/sbl\?ip=127\.0\.0\.3; from=<someone@good\.test> to=<admin@mx\.test> proto=ESMTP helo=<client\.test>/);
  assert.equal(await rcpt(ports.s000, '127.0.0.4'), '450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.4]');
  assert.equal(await rcpt(ports.s000, '127.0.0.8'), '450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.8]'); // PTR not confirmed
  assert.equal(await rcpt(ports.s000, '127.0.0.2', { sender: 'a@nowhere.test' }), '450 4.1.8 <a@nowhere.test>: Sender address rejected: Domain not found');
  assert.equal(await rcpt(ports.s000, '127.0.0.2', { sender: 'a@nullmx.test' }), '550 5.7.27 <a@nullmx.test>: Sender address rejected: Domain nullmx.test does not accept mail (nullMX)');
  const t0 = Date.now();
  assert.equal(await rcpt(ports.s000, '127.0.0.2'), '250 2.1.5 Ok');
  assert.ok(Date.now() - t0 < 3000, 'five lists, two of them dead, are asked in parallel');
  await s000.waitForLog(/warning: 2\.0\.0\.127\.dynablock\.wirehub\.test: RBL lookup error: Host or domain name not found\. Name service error for name=2\.0\.0\.127\.dynablock\.wirehub\.test type=A: Host not found, try again/);
  await s000.waitForLog(/warning: 2\.0\.0\.127\.opm\.blitzed\.test: RBL lookup error: /);
  assert.doesNotMatch(s000.log(), /reject: RCPT from mail\.clean\.test\[127\.0\.0\.2\]: [^;]*; from=<someone@good\.test>/);
});

test('seed 000 with postern_rbl_tempfail_action = defer: a dead list gives 450 4.7.1, never 5xx', async () => {
  assert.equal(await rcpt(ports.s000defer, '127.0.0.2'), '450 4.7.1 Service unavailable; Client host [127.0.0.2] not checked: dynablock.wirehub.test did not answer; try again later');
});

test('seed 002: reply filters, RHSBL sender, the sender allow-list first, blocked-resolver answers and the warn_if_reject dry run', async () => {
  assert.equal(await rcpt(ports.s002, '127.0.0.3'),
    '554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using zen.spamhaus.test=127.0.0.[2..11]; https://www.spamhaus.test/query/ip/127.0.0.3');
  assert.equal(await rcpt(ports.s002, '127.0.0.2', { sender: 'bulk@evil.test' }),
    '554 5.7.1 Service unavailable; Sender address [bulk@evil.test] blocked using dbl.spamhaus.test=127.0.1.[2..99]; https://www.spamhaus.test/query/dbl?domain=evil.test');
  assert.equal(await rcpt(ports.s002, '127.0.0.2', { helo: 'evil.test' }),
    '554 5.7.1 Service unavailable; Helo command [evil.test] blocked using dbl.spamhaus.test=127.0.1.[2..99]; https://www.spamhaus.test/query/dbl?domain=evil.test');
  // check_sender_access comes before the blacklists in the seed: an allow-listed sender passes a listed client.
  assert.equal(await rcpt(ports.s002, '127.0.0.3', { sender: 'pal@friend.test' }), '250 2.1.5 Ok');
  // Relay control (the default smtpd_relay_restrictions) still holds for everyone else.
  assert.equal(await rcpt(ports.s002, '127.0.0.2', { to: 'x@elsewhere.test' }), '454 4.7.1 <x@elsewhere.test>: Relay access denied');
  // zen answers "your resolver is blocked": never a listing, logged as such, not as a reject_warning.
  assert.equal(await rcpt(ports.s002, '127.0.0.7'), '250 2.1.5 Ok');
  await s002.waitForLog(/postfix\/smtpd\[\d+\]: warning: dnsblog: 7\.0\.0\.127\.zen\.spamhaus\.test: zen\.spamhaus\.test answered 127\.255\.255\.254: query refused \(public resolver\?\)/);
  assert.doesNotMatch(s002.log(), /reject_warning: RCPT from mail\.blocked\.test/);
  // warn_if_reject reject_rbl_client zen=127.255.255.[1..255]: logged, accepted.
  assert.equal(await rcpt(ports.s002, '127.0.0.9'), '250 2.1.5 Ok');
  await s002.waitForLog(/NOQUEUE: reject_warning: RCPT from mail\.warn\.test\[127\.0\.0\.9\]: 554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.9\] blocked using zen\.spamhaus\.test=127\.255\.255\.\[1\.\.255\]; from=<someone@good\.test> to=<admin@mx\.test>/);
});

test("pflogsumm counts Postern's DNSBL rejections per list", async () => {
  await s002.waitForLog(/reject_warning/);
  const r = await run('pflogsumm', ['--problems_first', s002.logFile]);
  assert.equal(r.code, 0, r.stderr);
  const detail = r.stdout.slice(r.stdout.indexOf('message reject detail'), r.stdout.indexOf('message reject warning detail'));
  assert.match(detail, /^ {4}blocked using zen\.spamhaus\.test=127\.0\.0\.\[2\.\.11\] \(total: 1\)\n\s+1\s+mail\.listed\.test$/m);
  assert.match(detail, /^ {4}blocked using dbl\.spamhaus\.test=127\.0\.1\.\[2\.\.99\] \(total: 1\)$/m);
  const warnings = r.stdout.slice(r.stdout.indexOf('message reject warning detail'));
  assert.match(warnings, /^ {4}blocked using zen\.spamhaus\.test=127\.255\.255\.\[1\.\.255\] \(total: 1\)\n\s+1\s+mail\.warn\.test$/m);
});

test('seed 003: blacklists, then the shipped S25R table after the whitelist; each rejection names its rule', async () => {
  assert.match(await rcpt(ports.s003, '127.0.0.3'), /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.3\] blocked using sbl\.spamhaus\.test; /);
  // swaks from a generic-looking address: S25R rule 1.
  const sw = await run('swaks', ['--server', `127.0.0.1:${ports.s003}`, '--local-interface', '127.0.0.5', '--helo', 'client.test', '--from', 's@good.test', '--to', 'admin@mx.test', '--quit-after', 'RCPT']);
  assert.match(sw.stdout, /<\*\* 450 4\.7\.1 <p1234-ipbf01\.tokyo\.ocn\.test\[127\.0\.0\.5\]>: Client host rejected: S25R rule 1: generic reverse name/);
  // Python's smtplib from the whitelisted dhcp host: accepted despite S25R rule 6.
  const py = await run('python3', ['-c', [
    'import smtplib, sys',
    `s = smtplib.SMTP("127.0.0.1", ${ports.s003}, source_address=("127.0.0.6", 0), local_hostname="client.test")`,
    's.mail("s@good.test")',
    'print(s.rcpt("admin@mx.test")[0])',
    's.quit()',
  ].join('\n')]);
  assert.equal(py.stdout.trim(), '250', py.stderr);
  assert.equal(await rcpt(ports.s003, '127.0.0.2'), '250 2.1.5 Ok');
  // The seed's own lists: two of them dead here, not listings.
  await s003.waitForLog(/warning: 2\.0\.0\.127\.list\.dsbl\.test: RBL lookup error/);
});

test('the documented S25R snippet: no PTR is refused first (rule 0), then the rules; the whitelist wins', async () => {
  assert.equal(await rcpt(ports.snippet, '127.0.0.4'), '450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.4]');
  assert.equal(await rcpt(ports.snippet, '127.0.0.10'), '450 4.7.1 <dhcp7.pool.test[127.0.0.10]>: Client host rejected: S25R rule 6: generic reverse name (dhcp, dialup, ppp, dsl)');
  assert.equal(await rcpt(ports.snippet, '127.0.0.6'), '250 2.1.5 Ok');
  assert.equal(await rcpt(ports.snippet, '127.0.0.2'), '250 2.1.5 Ok');
  await snippet.waitForLog(/NOQUEUE: reject: RCPT from dhcp7\.pool\.test\[127\.0\.0\.10\]: 450 4\.7\.1 <dhcp7\.pool\.test\[127\.0\.0\.10\]>: Client host rejected: S25R rule 6: /);
});

test('postern check --dns: each list tested live with its RFC 5782 test entries, problems said in plain words', async () => {
  const own = await startDnsServer({
    '2.0.0.127.zen.spamhaus.test': { A: ['127.0.0.2', '127.0.0.10'] },
    'bl.spamcop.test': { silent: true },
    '2.0.0.127.blocked.spamhaus.test': { A: ['127.255.255.254'] },
    '2.0.0.127.wild.test': { A: ['127.0.0.2'] }, '1.0.0.127.wild.test': { A: ['127.0.0.2'] },
    'test.dbl.spamhaus.test': { A: ['127.0.1.2'] },
  });
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const dir = mkdtempSync(join((await import('node:os')).tmpdir(), 'postern-checkdns-'));
  try {
    writeFileSync(join(dir, 'main.cf'), baseMainCf(dir, { ...dnsCf(), dns_timeout: '300ms' }, own.port)
      + 'smtpd_recipient_restrictions = reject_rbl_client zen.spamhaus.test=127.0.0.[2..11], reject_rbl_client bl.spamcop.test, reject_rbl_client blocked.spamhaus.test,\n'
      + '  reject_rbl_client dead.test, reject_rbl_client wild.test, reject_rhsbl_sender dbl.spamhaus.test=127.0.1.[2..99], reject_unauth_destination\n');
    writeFileSync(join(dir, 'master.cf'), smtpService(await freePort()));
    const r = await run(process.execPath, [join(ROOT, 'bin', 'postern.js'), '-c', dir, 'check', '--dns']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    const about = (name: string): string => lines.find((l) => l.includes(`${name}:`)) ?? `(no line for ${name})`;
    assert.equal(about('reject_rbl_client zen.spamhaus.test=127.0.0.[2..11]'), 'postern: ok: reject_rbl_client zen.spamhaus.test=127.0.0.[2..11]: answers as expected (127.0.0.2 listed (127.0.0.2, 127.0.0.10), 127.0.0.1 not listed).');
    assert.match(about('reject_rbl_client bl.spamcop.test'), /^postern: problem: reject_rbl_client bl\.spamcop\.test: NOT ANSWERING \(ETIMEOUT\): every lookup counts as "not listed"/);
    assert.match(about('reject_rbl_client blocked.spamhaus.test'), /^postern: problem: reject_rbl_client blocked\.spamhaus\.test: REFUSES YOUR RESOLVER: blocked\.spamhaus\.test answered 127\.255\.255\.254 \(query refused \(public resolver\?\)\)/);
    assert.match(about('reject_rbl_client dead.test'), /^postern: problem: reject_rbl_client dead\.test: does not list its test entry 127\.0\.0\.2: the list is probably dead or its name misspelled/);
    assert.match(about('reject_rbl_client wild.test'), /^postern: problem: reject_rbl_client wild\.test: LISTS EVERYTHING: 127\.0\.0\.1 is listed \(127\.0\.0\.2\)/);
    assert.match(about('reject_rhsbl_sender dbl.spamhaus.test=127.0.1.[2..99]'), /^postern: ok: .*answers as expected \("test" listed \(127\.0\.1\.2\), "invalid" not listed\)/);
    assert.equal(lines.at(-1), 'postern: 6 DNS lists tested, 4 with problems');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await own.close();
  }
});
