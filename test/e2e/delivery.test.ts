/**
 * End to end: the real server, a local DNS server, and independent clients (swaks and
 * Python's smtplib) deliver mail to virtual and local Maildirs; the files are checked byte
 * for byte, unknown users are refused at RCPT, foreign mail from mynetworks waits in the
 * queue, and the mail log has Postfix's lines.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages, run, BIN, type Postern } from '../support/server.js';
import { startDnsServer, ptrName, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';

let srv: Postern;
let dns: DnsServer;
let port: number;
let mail: string;

before(async () => {
  dns = await startDnsServer({
    [ptrName('127.0.0.1')]: { PTR: ['client.test'] },
    'client.test': { A: ['127.0.0.1'] },
  });
  port = await freePort();
  const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'postern-e2e-'));
  mail = join(dir, 'mail');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_alias_maps: 'texthash:$config_directory/virtual',
      virtual_mailbox_base: mail,
      alias_maps: 'hash:$config_directory/aliases',
      recipient_delimiter: '+',
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
      // Mail for other domains waits in the queue (postqueue -f would send it).
      defer_transports: 'smtp',
    }, dns.port),
    masterCf: smtpService(port),
    files: {
      vmailbox: 'alice@example.test  example.test/alice/\ncarol@example.test example.test/carol/\n',
      virtual: 'info@example.test alice@example.test, carol@example.test\n',
      aliases: `# local aliases\nbob: ${mail}/local-bob/\npostmaster: bob\n`,
    },
  });
});

after(async () => {
  await srv?.stop();
  await dns?.close();
  srv?.cleanup();
});

const MESSAGE = [
  'From: Sender <sender@remote.example>',
  'To: alice@example.test',
  'Subject: byte check',
  'Message-ID: <byte-check-1@remote.example>',
  '',
  'First line.',
  '.a line that starts with a dot',
  '..two dots',
  'last line',
].join('\n'); // no final newline: swaks sends the data, then CRLF.CRLF

function splitDelivered(text: string): { prefix: string[]; received: string; rest: string } {
  const lines = text.split('\n');
  const prefix = lines.slice(0, 3);
  let i = 3;
  const rec: string[] = [lines[i++]!];
  while (lines[i]!.startsWith('\t')) rec.push(lines[i++]!);
  return { prefix, received: rec.join('\n'), rest: lines.slice(i).join('\n') };
}

test('swaks delivers to a virtual mailbox; the Maildir file is the message plus our headers, byte for byte', async () => {
  const file = join(srv.dir, 'msg.txt');
  writeFileSync(file, MESSAGE);
  const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 'sender@remote.example', '--to', 'alice@example.test', '--data', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const m = /250 2\.0\.0 Ok: queued as ([0-9A-F]+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const id = m[1]!;
  await srv.waitForLog(new RegExp(`${id}: removed`));
  const msgs = maildirMessages(join(mail, 'example.test/alice'));
  assert.equal(msgs.length, 1);
  const { prefix, received, rest } = splitDelivered(msgs[0]!.text);
  assert.deepEqual(prefix, ['Return-Path: <sender@remote.example>', 'X-Original-To: alice@example.test', 'Delivered-To: alice@example.test']);
  assert.match(received, new RegExp(`^Received: from client\\.test \\(client\\.test \\[127\\.0\\.0\\.1\\]\\)\\n\\tby mx\\.test \\(Postern\\) with ESMTP id ${id}\\n\\tfor <alice@example\\.test>; \\w{3}, \\d+ \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4} \\(\\w+\\)$`));
  assert.equal(rest, MESSAGE + '\n');
  const log = srv.log();
  assert.match(log, /postfix\/smtpd\[\d+\]: connect from client\.test\[127\.0\.0\.1\]/);
  assert.match(log, new RegExp(`postfix/smtpd\\[\\d+\\]: ${id}: client=client\\.test\\[127\\.0\\.0\\.1\\]`));
  assert.match(log, new RegExp(`postfix/cleanup\\[\\d+\\]: ${id}: message-id=<byte-check-1@remote\\.example>`));
  assert.match(log, new RegExp(`postfix/qmgr\\[\\d+\\]: ${id}: from=<sender@remote\\.example>, size=\\d+, nrcpt=1 \\(queue active\\)`));
  assert.match(log, new RegExp(`postfix/virtual\\[\\d+\\]: ${id}: to=<alice@example\\.test>, relay=virtual, delay=[\\d.]+, delays=[\\d.]+/[\\d.]+/[\\d.]+/[\\d.]+, dsn=2\\.0\\.0, status=sent \\(delivered to maildir\\)`));
  assert.match(log, /disconnect from client\.test\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5/);
});

test('Python smtplib delivers 8-bit mail to a local alias with an address extension, and to a virtual alias fan-out', async () => {
  const py = `
import smtplib, sys
body = "From: p@remote.example\\r\\nTo: bob+lists@mx.test\\r\\nSubject: smtplib\\r\\n\\r\\nGr\\u00fc\\u00dfe aus Python\\r\\n.\\r\\nend\\r\\n".encode("utf-8")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test", timeout=10) as s:
    s.ehlo()
    refused = s.sendmail("p@remote.example", ["bob+lists@mx.test", "info@example.test"], body, mail_options=["BODY=8BITMIME"])
    print("refused", refused)
`;
  const r = await run('python3', ['-c', py, String(port)]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /refused \{\}/);
  await srv.waitForLog(/to=<carol@example\.test>, orig_to=<info@example\.test>, relay=virtual.*status=sent/);
  await srv.waitForLog(/to=<bob\+lists@mx\.test>, relay=local.*status=sent \(delivered to maildir\)/);
  const bob = maildirMessages(join(mail, 'local-bob'));
  assert.equal(bob.length, 1);
  assert.ok(bob[0]!.text.startsWith('Return-Path: <p@remote.example>\nX-Original-To: bob+lists@mx.test\nDelivered-To: bob+lists@mx.test\nReceived: from client.test'));
  // smtplib dot-stuffs the lone "." line; we unstuff it; 8-bit bytes arrive unchanged.
  assert.ok(bob[0]!.text.endsWith('Subject: smtplib\n\nGrüße aus Python\n.\nend\n'), bob[0]!.text);
  assert.equal(maildirMessages(join(mail, 'example.test/carol')).length, 1);
});

test('unknown users are refused at RCPT with Postfix wording and log lines; postmaster is always accepted', async () => {
  const c = await SmtpDialog.connect(port);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<s@remote.example>')).raw, '250 2.1.0 Ok');
  assert.equal((await c.cmd('RCPT TO:<nosuch@example.test>')).raw, '550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown in virtual mailbox table');
  assert.equal((await c.cmd('RCPT TO:<nosuchuser@mx.test>')).raw, '550 5.1.1 <nosuchuser@mx.test>: Recipient address rejected: User unknown in local recipient table');
  assert.equal((await c.cmd('RCPT TO:<postmaster@mx.test>')).raw, '250 2.1.5 Ok');
  assert.equal((await c.cmd('RCPT TO:<postmaster>')).raw, '250 2.1.5 Ok');
  assert.equal((await c.cmd('RCPT TO:<root@mx.test>')).raw, '250 2.1.5 Ok', 'a UNIX account is a local recipient');
  assert.equal((await c.cmd('RSET')).raw, '250 2.0.0 Ok');
  assert.equal((await c.cmd('QUIT')).code, 221);
  await srv.waitForLog(/NOQUEUE: reject: RCPT from client\.test\[127\.0\.0\.1\]: 550 5\.1\.1 <nosuchuser@mx\.test>: Recipient address rejected: User unknown in local recipient table; from=<s@remote\.example> to=<nosuchuser@mx\.test> proto=ESMTP helo=<client\.test>/);
  await srv.waitForLog(/disconnect from client\.test\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=3\/5 rset=1 quit=1 commands=7\/9/);
});

test('mail for a foreign domain from mynetworks is accepted and waits in the queue (defer_transports), shown by `postern queue`', async () => {
  const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 'alice@example.test', '--to', 'someone@elsewhere.example']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const id = /queued as ([0-9A-F]+)/.exec(r.stdout)![1]!;
  await srv.waitForLog(new RegExp(`${id}: to=<someone@elsewhere\\.example>, relay=none, .*dsn=4\\.3\\.2, status=deferred \\(deferred transport\\)`));
  const q = await run(process.execPath, [BIN, '-c', srv.configDir, 'queue']);
  assert.equal(q.code, 0, q.stderr);
  assert.match(q.stdout, /^-Queue ID-  --Size-- ----Arrival Time---- -Sender\/Recipient-------$/m);
  assert.match(q.stdout, new RegExp(`^${id}\\s+\\d+ \\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d  alice@example\\.test$`, 'm'));
  assert.match(q.stdout, /^\s*\(deferred transport\)$/m); // right-aligned as in mailq
  assert.match(q.stdout, /^\s+someone@elsewhere\.example$/m);
  assert.match(q.stdout, /^-- \d+ Kbytes in 1 Request\.$/m);
});
