/**
 * The SMTP server under bad and tricky input, over real sockets: malformed commands, long
 * lines, over-size messages, too many recipients, talking before the greeting, silence,
 * the error tarpit, pipelining, BDAT and SMTP smuggling. Each gets its precise reply and
 * log line, and a parallel well-behaved client keeps being served.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';

let srv: Postern;
let port: number; // generous limits
let strict: number; // small limits, short timeout, tarpit, bare-LF rejection
let mail: string;

before(async () => {
  port = await freePort();
  strict = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-proto-'));
  mail = join(dir, 'mail');
  const o = (kv: Record<string, string>): string => Object.entries(kv).map(([k, v]) => `  -o ${k}=${v}`).join('\n');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_mailbox_base: mail,
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    }),
    masterCf: smtpService(port, o({ smtpd_data_restrictions: 'reject_unauth_pipelining', postern_smtpd_greet_pause: '300ms' })) +
      smtpService(strict, o({
        message_size_limit: '2000', smtpd_recipient_limit: '3', smtpd_timeout: '2s', smtpd_error_sleep_time: '1s',
        smtpd_soft_error_limit: '2', smtpd_hard_error_limit: '5', smtpd_forbid_bare_newline: 'reject', syslog_name: 'postfix/strict',
      })),
    files: { vmailbox: 'alice@example.test example.test/alice/\nbob@example.test example.test/bob/\n' },
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

async function open(p: number, helo = 'EHLO client.test'): Promise<SmtpDialog> {
  const c = await SmtpDialog.connect(p);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd(helo)).code, 250);
  return c;
}

test('malformed and unknown commands get Postfix\'s replies', async () => {
  const c = await SmtpDialog.connect(port);
  assert.equal((await c.reply()).raw, '220 mx.test ESMTP Postern');
  assert.equal((await c.cmd('EHLO')).raw, '501 5.5.4 Syntax: EHLO hostname');
  assert.equal((await c.cmd('FOO bar')).raw, '502 5.5.2 Error: command not recognized');
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).raw, '503 5.5.1 Error: need MAIL command');
  assert.equal((await c.cmd('MAIL FROM:alice@')).raw, '250 2.1.0 Ok', 'bare addresses are accepted as Postfix does by default');
  assert.equal((await c.cmd('MAIL FROM:<a@b.example>')).raw, '503 5.5.1 Error: nested MAIL command');
  assert.equal((await c.cmd('RSET')).raw, '250 2.0.0 Ok');
  assert.equal((await c.cmd('MAIL FROM:<a@b.example')).raw, '501 5.5.4 Syntax: MAIL FROM:<address>');
  assert.equal((await c.cmd('MAIL FROM:<a@b.example> FOO=1')).raw, '555 5.5.4 Unsupported option: FOO');
  assert.equal((await c.cmd('MAIL FROM:<a b@b.example>')).raw, '501 5.1.7 Bad sender address syntax');
  assert.equal((await c.cmd('DATA')).raw, '503 5.5.1 Error: need RCPT command');
  assert.equal((await c.cmd('AUTH PLAIN AGZvbwBiYXI=')).raw, '503 5.5.1 Error: authentication not enabled');
  assert.equal((await c.cmd('NOOP')).raw, '250 2.0.0 Ok');
  assert.equal((await c.cmd('VRFY alice')).code, 252);
  assert.equal((await c.cmd('QUIT')).raw, '221 2.0.0 Bye');
  await c.expectClosed();
});

test('an over-long command line is refused and logged; the session goes on', async () => {
  const c = await open(port);
  const r = await c.cmd(`MAIL FROM:<${'a'.repeat(3000)}@example.test>`);
  assert.equal(r.raw, '500 5.5.0 Error: line too long');
  assert.equal((await c.cmd('NOOP')).code, 250);
  c.close();
  await srv.waitForLog(/warning: unknown\[127\.0\.0\.1\]: request longer than 2048: MAIL FROM:<aaaa/);
});

test('message size: SIZE= over the limit and an over-size body are refused with 552 5.3.4 and logged', async () => {
  const c = await open(strict);
  assert.equal((await c.cmd('MAIL FROM:<s@remote.example> SIZE=5000')).raw, '552 5.3.4 Message size exceeds fixed limit');
  assert.equal((await c.cmd('MAIL FROM:<s@remote.example>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  c.sendRaw(`Subject: big\r\n\r\n${'x'.repeat(70) + '\r\n'}`.repeat(40) + '.\r\n');
  assert.equal((await c.reply()).raw, '552 5.3.4 Message size exceeds fixed limit');
  assert.equal((await c.cmd('NOOP')).code, 250, 'the session survives');
  c.close();
  await srv.waitForLog(/postfix\/strict\/smtpd\[\d+\]: NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.1\]: 552 5\.3\.4 Message size exceeds fixed limit; from=<s@remote\.example> proto=ESMTP helo=<client\.test>/);
  await srv.waitForLog(/reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 552 5\.3\.4 Message size exceeds fixed limit \(\d+ bytes\)/);
});

test('too many recipients: 452 4.5.3 after smtpd_recipient_limit', async () => {
  const c = await open(strict);
  await c.cmd('MAIL FROM:<s@remote.example>');
  for (let i = 0; i < 3; i++) assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<bob@example.test>')).raw, '452 4.5.3 Error: too many recipients');
  c.close();
});

test('a client that talks before the greeting is noted, and reject_unauth_pipelining refuses its DATA', async () => {
  const c = await SmtpDialog.connect(port);
  c.sendRaw('EHLO early.example\r\n');
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.reply()).code, 250);
  await c.cmd('MAIL FROM:<s@remote.example>');
  await c.cmd('RCPT TO:<alice@example.test>');
  assert.equal((await c.cmd('DATA')).raw, '503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining');
  c.close();
  await srv.waitForLog(/improper command pipelining after CONNECT from unknown\[127\.0\.0\.1\]/);
  await srv.waitForLog(/[0-9A-F]+: reject: DATA from unknown\[127\.0\.0\.1\]: 503 5\.5\.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining; from=<s@remote\.example> proto=ESMTP helo=<early\.example>/);
});

test('a client that never sends anything is timed out with 421 and a log line', async () => {
  const c = await SmtpDialog.connect(strict);
  assert.equal((await c.reply()).code, 220);
  const r = await c.reply(6000);
  assert.equal(r.raw, '421 4.4.2 mx.test Error: timeout exceeded');
  await c.expectClosed();
  await srv.waitForLog(/postfix\/strict\/smtpd\[\d+\]: timeout after CONNECT from unknown\[127\.0\.0\.1\]/);
});

test('the error tarpit slows one client down without delaying another, then drops it at the hard limit', async () => {
  const bad = await open(strict, 'HELO bad.example');
  const order: string[] = [];
  const badRun = (async () => {
    const replies: string[] = [];
    for (let i = 0; i < 5; i++) replies.push((await bad.cmd('BOGUS', 8000)).raw);
    replies.push((await bad.reply(8000)).raw); // the 421 follows the fifth error without another command
    order.push('bad done');
    return replies;
  })();
  // While the bad client sleeps in the tarpit, a good client completes a whole message.
  const good = await open(port);
  await good.cmd('MAIL FROM:<good@remote.example>');
  await good.cmd('RCPT TO:<bob@example.test>');
  assert.equal((await good.cmd('DATA')).code, 354);
  good.sendRaw('Subject: good\r\n\r\nfine\r\n.\r\n');
  assert.match((await good.reply()).raw, /^250 2\.0\.0 Ok: queued as/);
  order.push('good done');
  good.close();
  const replies = await badRun;
  assert.deepEqual(order, ['good done', 'bad done']);
  assert.deepEqual(replies.slice(0, 5), Array(5).fill('502 5.5.2 Error: command not recognized'));
  assert.equal(replies[5], '421 4.7.0 mx.test Error: too many errors');
  await bad.expectClosed();
  await srv.waitForLog(/too many errors after UNKNOWN from unknown\[127\.0\.0\.1\]/);
  await srv.waitForLog(/disconnect from unknown\[127\.0\.0\.1\] helo=1 unknown=0\/5 commands=1\/6/);
});

test('a whole pipelined transaction in one write gets every reply, in order', async () => {
  const c = await SmtpDialog.connect(port);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  c.sendRaw('MAIL FROM:<p@remote.example>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n');
  const r = await c.replies(5);
  assert.deepEqual(r.map((x) => x.code), [250, 250, 550, 250, 354]);
  c.sendRaw('Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n');
  const [done, bye] = await c.replies(2);
  assert.match(done!.raw, /^250 2\.0\.0 Ok: queued as [0-9A-F]+$/);
  assert.equal(bye!.code, 221);
});

test('SMTP smuggling: bare-LF end-of-data variants never end the message; one message, the text stays inside', async () => {
  const c = await open(port);
  await c.cmd('MAIL FROM:<smuggler@remote.example>');
  await c.cmd('RCPT TO:<bob@example.test>');
  assert.equal((await c.cmd('DATA')).code, 354);
  const smuggled = 'MAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n';
  c.sendRaw(`Subject: outer\r\nMessage-ID: <smuggle-test@remote.example>\r\n\r\nhello\n.\r\n${smuggled}\r\n.\n${smuggled}\r.\r${smuggled}\n.\n${smuggled}\r\n.\r\n`);
  const r = await c.reply();
  assert.match(r.raw, /^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/);
  const id = /queued as ([0-9A-F]+)/.exec(r.raw)![1]!;
  assert.equal((await c.cmd('NOOP')).raw, '250 2.0.0 Ok', 'no stray replies: nothing after the bare-LF dots was taken as a command');
  c.close();
  await srv.waitForLog(new RegExp(`${id}: removed`));
  const log = srv.log();
  assert.doesNotMatch(log, /from=<admin@example\.test>/);
  const bob = maildirMessages(join(mail, 'example.test/bob')).find((m) => m.text.includes('smuggle-test@remote.example'));
  assert.ok(bob, 'message delivered');
  assert.equal(bob.text.split('MAIL FROM:<admin@example.test>').length - 1, 4, 'all four smuggling attempts are body text');
});

test('bare LF is refused with 521 where smtpd_forbid_bare_newline = reject', async () => {
  const c = await open(strict);
  await c.cmd('MAIL FROM:<s@remote.example>');
  await c.cmd('RCPT TO:<alice@example.test>');
  assert.equal((await c.cmd('DATA')).code, 354);
  c.sendRaw('Subject: lf\r\n\r\nbare\nline\r\n.\r\n');
  assert.equal((await c.reply()).raw, '521 5.5.2 mx.test Error: bare <LF> received');
  await c.expectClosed();
  await srv.waitForLog(/warning: unknown\[127\.0\.0\.1\]: bare <LF> received after DATA/);
});

test('BDAT chunks (RFC 3030) make one message; BDAT without MAIL is consumed and refused', async () => {
  const c = await open(port);
  const chunk1 = 'Subject: chunked\r\nMessage-ID: <bdat-1@remote.example>\r\n\r\n';
  const chunk2 = 'first part\r\n.not stuffed\r\n';
  c.sendRaw(`BDAT 5\r\nhello`);
  assert.equal((await c.reply()).raw, '503 5.5.1 Error: need MAIL command');
  await c.cmd('MAIL FROM:<b@remote.example> BODY=8BITMIME');
  await c.cmd('RCPT TO:<alice@example.test>');
  c.sendRaw(`BDAT ${Buffer.byteLength(chunk1)}\r\n${chunk1}BDAT ${Buffer.byteLength(chunk2)} LAST\r\n${chunk2}`);
  const [r1, r2] = await c.replies(2);
  assert.equal(r1!.raw, `250 2.0.0 Ok: ${Buffer.byteLength(chunk1)} bytes`);
  assert.match(r2!.raw, /^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/);
  const id = /queued as ([0-9A-F]+)/.exec(r2!.raw)![1]!;
  c.close();
  await srv.waitForLog(new RegExp(`${id}: removed`));
  const m = maildirMessages(join(mail, 'example.test/alice')).find((x) => x.text.includes('bdat-1@remote.example'));
  assert.ok(m);
  assert.ok(m.text.endsWith('\n\nfirst part\n.not stuffed\n'), m.text);
});
