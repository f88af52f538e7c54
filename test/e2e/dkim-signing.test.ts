/**
 * End to end: `postern dkim keygen` makes an RSA and an Ed25519 key (mode 0600) and prints
 * the TXT records, which the local test DNS server then serves. Mail our users send (from
 * mynetworks) is signed; the RSA signature verifies with an independent verifier (Perl's
 * Mail::DKIM, Debian libmail-dkim-perl, pointed at the test DNS server), and both verify in
 * Postern's own checks on an MX listener (dkim=pass, and DMARC p=reject passes on DKIM alone
 * although SPF fails). Mail from foreign clients is never signed.
 * (Mail::DKIM here lacks Crypt::PK::Ed25519, so Ed25519 is verified by Postern only.)
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, maildirMessages, run, BIN, type Postern } from '../support/server.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/ports.js';
import { sendWithSmtplib } from '../support/smtplib.js';

let dns: DnsServer;
let srv: Postern;
let mail: string;
let keyDir: string;
const ports = { submission: 0, mx: 0 };
const keys: Record<string, { file: string; txt: string }> = {};

async function keygen(domain: string, selector: string, type: string): Promise<{ code: number | null; out: string; err: string }> {
  const r = await run(process.execPath, [BIN, 'dkim', 'keygen', domain, '--selector', selector, '--type', type, '--key-dir', keyDir]);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-dkim-'));
  keyDir = join(dir, 'keys');
  for (const [domain, selector, type] of [['sign.example', 's1', 'rsa'], ['ed.example', 's2', 'ed25519']] as const) {
    const r = await keygen(domain, selector, type);
    assert.equal(r.code, 0, r.err);
    const file = /^wrote (\S+) \(mode 0600\)$/m.exec(r.out)![1]!;
    const record = r.out.split('publish this DNS record:\n')[1]!.split('\n\n')[0]!;
    assert.ok(record.startsWith(`${selector}._domainkey.${domain}. IN TXT ( "`), record);
    keys[domain] = { file, txt: [...record.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('') };
    assert.ok(r.out.includes(`${domain}  ${selector}:${file}`));
  }
  dns = await startDnsServer({
    's1._domainkey.sign.example': { TXT: [keys['sign.example']!.txt] },
    's2._domainkey.ed.example': { TXT: [keys['ed.example']!.txt] },
    'sign.example': { TXT: ['v=spf1 -all'] },
    '_dmarc.sign.example': { TXT: ['v=DMARC1; p=reject'] },
    'ed.example': { TXT: ['v=spf1 -all'] },
    '_dmarc.ed.example': { TXT: ['v=DMARC1; p=reject'] },
  });
  ports.submission = await freePort();
  ports.mx = await freePort();
  mail = join(dir, 'mail');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      smtpd_peername_lookup: 'no',
      // mailauth's lookups must not time out on a loaded test machine (a DKIM temperror fails DMARC).
      dns_timeout: '5s',
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail,
      postern_dkim_keys: 'texthash:$config_directory/dkim_keys',
    }, dns.port),
    masterCf: `127.0.0.1:${ports.submission} inet n - n - - smtpd\n127.0.0.1:${ports.mx} inet n - n - - smtpd\n  -o mynetworks=192.0.2.0/24\n`,
    files: {
      vmailbox: 'bob@example.test example.test/bob/\n',
      dkim_keys: `sign.example s1:${keys['sign.example']!.file}\ned.example s2:${keys['ed.example']!.file}\n`,
    },
  });
});

after(async () => {
  await srv?.stop();
  await dns?.close();
  srv?.cleanup();
});

const message = (from: string, subject: string): Buffer =>
  Buffer.from(`From: Alice <${from}>\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@test>\r\n\r\nHello Bob,\r\nthis is ${subject}.\r\n`);

/** The delivered copy with this subject; n = 2: the copy that came back in through our MX (it carries Authentication-Results; Maildir names need not sort in arrival order). */
async function delivered(subject: string, n = 1): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = maildirMessages(join(mail, 'example.test', 'bob')).filter((x) => x.text.includes(`Subject: ${subject}\n`));
    const viaMx = m.filter((x) => /^Authentication-Results: /m.test(x.text));
    if (n === 1 && m.length >= 1) return (m.find((x) => !viaMx.includes(x)) ?? m[0]!).text;
    if (n === 2 && viaMx.length >= 1) return viaMx[0]!.text;
    if (Date.now() > deadline) throw new Error(`"${subject}" not delivered; log:\n${srv.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A delivered copy as it would travel on: without the delivery agent's Return-Path/X-Original-To/Delivered-To, in CRLF. */
const onward = (text: string): Buffer => Buffer.from(text.replace(/^(Return-Path|X-Original-To|Delivered-To): .*\n/gm, '').replace(/\n/g, '\r\n'));

/** Perl's Mail::DKIM, resolving through the test DNS server. */
async function mailDkimVerify(text: string): Promise<string> {
  const script = `
use strict; use Mail::DKIM::Verifier; use Net::DNS;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $ARGV[0], recurse => 1, udp_timeout => 5));
my $v = Mail::DKIM::Verifier->new();
local $/; my $msg = <STDIN>; $msg =~ s/\\r?\\n/\\r\\n/g;
$v->PRINT($msg); $v->CLOSE;
print join(' ', map { $_->result . ':' . $_->domain . ':' . $_->selector } $v->signatures), "\\n";
`;
  const r = await run('perl', ['-e', script, String(dns.port)], { input: text });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test('keygen: the key file is mode 0600 and is never overwritten', async () => {
  assert.equal(statSync(keys['sign.example']!.file).mode & 0o777, 0o600);
  assert.match(keys['sign.example']!.txt, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
  assert.match(keys['ed.example']!.txt, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  const again = await keygen('sign.example', 's1', 'rsa');
  assert.equal(again.code, 1);
  assert.match(again.err, /exists; remove it first or choose another --selector/);
});

test('RSA: our user\'s mail is signed; Mail::DKIM says pass; Postern\'s MX says dkim=pass and DMARC passes', async () => {
  const [r] = await sendWithSmtplib(ports.submission, [{ from: 'alice@sign.example', to: 'bob@example.test', data: message('alice@sign.example', 'rsa signed') }]);
  assert.equal(r!.code, 250);
  const text = await delivered('rsa signed');
  assert.match(text, /^DKIM-Signature: .*a=rsa-sha256;.*$/m);
  assert.match(text.replace(/\n\s+/g, ' '), /DKIM-Signature: [^\n]*\bd=sign\.example;[^\n]*\bs=s1;/);
  assert.match(srv.log(), /cleanup\[\d+\]: [0-9A-F]+: DKIM-Signature field added \(s=s1, d=sign\.example\)/);
  assert.equal(await mailDkimVerify(text), 'pass:sign.example:s1');
  assert.equal(await mailDkimVerify(text.replace('this is rsa signed.', 'this is rsa signed, changed.')), 'fail:sign.example:s1');
  // The same message arriving at our MX from outside: Postern's own verification.
  const [m] = await sendWithSmtplib(ports.mx, [{ from: 'alice@sign.example', to: 'bob@example.test', data: onward(text) }]);
  assert.equal(m!.code, 250, m!.text);
  const second = await delivered('rsa signed', 2);
  assert.match(second, /^\tdkim=pass header\.i=@sign\.example header\.s=s1 header\.a=rsa-sha256/m);
  assert.match(second, /^\tdmarc=pass /m);
});

test('Ed25519: signed with ed25519-sha256 and verified by Postern\'s MX', async () => {
  const [r] = await sendWithSmtplib(ports.submission, [{ from: 'eve@ed.example', to: 'bob@example.test', data: message('eve@ed.example', 'ed25519 signed') }]);
  assert.equal(r!.code, 250);
  const text = await delivered('ed25519 signed');
  assert.match(text, /^DKIM-Signature: .*a=ed25519-sha256;/m);
  const [m] = await sendWithSmtplib(ports.mx, [{ from: 'eve@ed.example', to: 'bob@example.test', data: onward(text) }]);
  assert.equal(m!.code, 250, m!.text);
  assert.match(await delivered('ed25519 signed', 2), /^\tdkim=pass header\.i=@ed\.example header\.s=s2 header\.a=ed25519-sha256/m);
});

test('mail from a foreign client is not signed, even with our From: domain (and DMARC refuses it)', async () => {
  const [r] = await sendWithSmtplib(ports.mx, [{ from: 'alice@sign.example', to: 'bob@example.test', data: message('alice@sign.example', 'forged from outside') }]);
  assert.deepEqual([r!.code, r!.text], [550, '5.7.1 Message rejected per DMARC policy of sign.example']);
  assert.doesNotMatch(srv.log(), /DKIM-Signature field added \(s=s1, d=sign\.example\)[\s\S]*DKIM-Signature field added \(s=s1, d=sign\.example\)/);
});
