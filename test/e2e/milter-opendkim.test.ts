/**
 * End to end with Debian's opendkim as a milter (Mode sv, a key from opendkim-genkey, its
 * default simple/simple canonicalization): mail our network submits through Postern gets
 * opendkim's DKIM-Signature, and the signature verifies with an independent verifier
 * (Perl's Mail::DKIM, resolving the key through the local test DNS server); a changed body
 * fails. opendkim stopped → milter_default_action (here accept: delivered unsigned, warning logged).
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, maildirMessages, run, type Postern } from '../support/server.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/ports.js';
import { sendWithSmtplib } from '../support/smtplib.js';
import { startOpenDkim, type OpenDkim } from '../support/milter-daemons.js';

let dns: DnsServer;
let dkim: OpenDkim;
let srv: Postern;
let mail: string;
let port = 0;

before(async () => {
  dkim = await startOpenDkim('sign.example', 'odk');
  dns = await startDnsServer({ 'odk._domainkey.sign.example': { TXT: [dkim.txt] } });
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-opendkim-e2e-'));
  mail = join(dir, 'mail');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail,
      smtpd_milters: `inet:127.0.0.1:${dkim.port}`, milter_default_action: 'accept', postern_dns_lookups: 'no',
    }),
    masterCf: `127.0.0.1:${port} inet n - n - - smtpd\n  -o milter_macro_daemon_name=ORIGINATING\n`,
    files: { vmailbox: 'bob@example.test example.test/bob/\n' },
  });
});

after(async () => {
  await srv?.stop();
  await dkim?.stop();
  await dns?.close();
  srv?.cleanup();
});

const message = (subject: string): Buffer => Buffer.from(
  `From: Alice <alice@sign.example>\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n` +
  `Message-ID: <${subject.replace(/\W/g, '')}@sign.example>\r\nX-Folded: first part\r\n\tsecond part\r\n\r\nHello Bob,\r\nthis is ${subject}.\r\n\r\n-- \r\nAlice\r\n`);

async function delivered(subject: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = maildirMessages(join(mail, 'example.test', 'bob')).find((x) => x.text.includes(`Subject: ${subject}\n`));
    if (m) return m.text;
    if (Date.now() > deadline) throw new Error(`"${subject}" not delivered; log:\n${srv.log()}\nopendkim:\n${dkim.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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

test('opendkim signs mail submitted through Postern; Mail::DKIM verifies it, and a changed body fails', async () => {
  const [r] = await sendWithSmtplib(port, [{ from: 'alice@sign.example', to: 'bob@example.test', data: message('signed by opendkim') }]);
  assert.equal(r!.code, 250, r!.text);
  const text = await delivered('signed by opendkim');
  assert.match(text.replace(/\n\s+/g, ' '), /^DKIM-Signature: v=1; a=rsa-sha256; c=simple\/simple; d=sign\.example; s=odk;/m);
  // opendkim puts its signature first (insheader at 0 or add): it must precede our Received.
  assert.ok(text.indexOf('DKIM-Signature:') < text.indexOf('Received: from client.example.org'));
  assert.equal(await mailDkimVerify(text), 'pass:sign.example:odk');
  assert.equal(await mailDkimVerify(text.replace('this is signed by opendkim.', 'this is changed.')), 'fail:sign.example:odk');
});

test('opendkim stopped: milter_default_action = accept delivers unsigned and logs the failed connect', async () => {
  await dkim.stop();
  const [r] = await sendWithSmtplib(port, [{ from: 'alice@sign.example', to: 'bob@example.test', data: message('opendkim gone') }]);
  assert.equal(r!.code, 250, r!.text);
  assert.doesNotMatch(await delivered('opendkim gone'), /DKIM-Signature/);
  assert.match(srv.log(), new RegExp(`warning: connect to Milter service inet:127\\.0\\.0\\.1:${dkim.port}: Connection refused`));
});
