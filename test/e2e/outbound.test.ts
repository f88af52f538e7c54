/**
 * Outbound mail end to end, through the running server (issue 8): a client in mynetworks
 * submits mail for remote domains; Postern looks up the MX in the local test DNS server and
 * delivers to a real Postfix (Debian's, a private instance) on port 25 of its own loopback
 * address — one recipient accepted (the file compared byte for byte apart from trace
 * headers), one refused with 550, which comes back to the sender as an RFC 3464 bounce in
 * the sender's Maildir. Scripted peers prove retries: 4xx then 2xx (delivered once, after
 * the backoff), a connection dropped in the middle of DATA (deferred, then delivered once).
 * mailbox_transport = lmtp:unix:… (seed 002) delivers a local user through a real Dovecot LMTP.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages, run, type Postern } from '../support/server.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/ports.js';
import { startPostfixPeer, type PostfixPeer } from '../support/postfix-peer.js';
import { startDovecotLmtp, type DovecotLmtp } from '../support/dovecot-lmtp.js';
import { startPeer, type ScriptedPeer } from '../../src/delivery/smtp/test-peer.js';

const tmp = mkdtempSync(join(tmpdir(), 'postern-outbound-'));
const mxAddr = `127.0.26.${2 + (process.pid % 250)}`;
let dns: DnsServer;
let postfix: PostfixPeer;
let flaky: ScriptedPeer;
let dropper: ScriptedPeer;
let lmtp: DovecotLmtp;
let srv: Postern;
let port: number;
let mail: string;
let flakyTries = 0;
let dropTries = 0;

const BODY = ['From: Alice <alice@example.test>', 'To: Remote <carol@peer.test>', 'Subject: outbound through Postern', 'Message-ID: <outbound-e2e-1@example.test>', 'Date: Mon, 30 Nov 2026 04:00:00 +0000', '',
  'Hello over SMTP.', '.a line with a leading dot', 'end'].join('\n');

before(async () => {
  chmodSync(tmp, 0o755);
  postfix = await startPostfixPeer(join(tmp, 'postfix'), { listen: [{ host: mxAddr, port: 25 }], domain: 'peer.test', users: ['carol'] });
  flaky = await startPeer({ reply: (cmd) => (cmd.startsWith('RCPT') && ++flakyTries === 1 ? '451 4.3.0 try again later' : undefined) });
  dropper = await startPeer({ dropAfterBodyBytes: 10 });
  dns = await startDnsServer({
    'peer.test': { MX: [{ priority: 10, exchange: 'mx.peer.test' }] },
    'mx.peer.test': { A: [mxAddr] },
  });
  lmtp = await startDovecotLmtp(join(tmp, 'dovecot'), ['nobody@mx.test']);
  port = await freePort();
  mail = join(tmp, 'mail');
  srv = await startPostern({
    dir: join(tmp, 'postern'),
    mainCf: baseMainCf(join(tmp, 'postern'), {
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_mailbox_base: mail,
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
      transport_maps: 'texthash:$config_directory/transport',
      mailbox_transport: `lmtp:unix:${lmtp.socket}`,
      local_recipient_maps: '',
      minimal_backoff_time: '1s',
      maximal_backoff_time: '2s',
      queue_run_delay: '1s',
      smtp_connect_timeout: '5s',
    }, dns.port),
    masterCf: smtpService(port),
    files: {
      vmailbox: 'alice@example.test example.test/alice/\n',
      transport: `flaky.test smtp:[127.0.0.1]:${flaky.port}\ndrop.test smtp:[127.0.0.1]:${dropper.port}\n`,
    },
  });
});

after(async () => {
  await srv?.stop();
  await postfix?.stop();
  await flaky?.close();
  await dropper?.close();
  await lmtp?.stop();
  await dns?.close();
  srv?.cleanup();
});

async function submit(to: string[], data?: string): Promise<string> {
  const args = ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 'alice@example.test', '--to', to.join(',')];
  if (data) {
    const f = join(tmp, `msg-${Date.now()}.txt`);
    writeFileSync(f, data);
    args.push('--data', f);
  }
  const r = await run('swaks', args);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return /queued as ([0-9A-F]+)/.exec(r.stdout)![1]!;
}

test('MX delivery to a real Postfix: one recipient delivered byte for byte, the refused one bounced to the sender as a DSN', async () => {
  const id = await submit(['carol@peer.test', 'nobody@peer.test'], BODY);
  await srv.waitForLog(new RegExp(`postfix/smtp\\[\\d+\\]: ${id}: to=<carol@peer\\.test>, relay=mx\\.peer\\.test\\[${mxAddr.replace(/\./g, '\\.')}\\]:25, delay=[\\d.]+, delays=[\\d./]+, dsn=2\\.0\\.0, status=sent \\(250 2\\.0\\.0 Ok: queued as \\w+\\)`));
  await srv.waitForLog(new RegExp(`${id}: to=<nobody@peer\\.test>, relay=mx\\.peer\\.test\\[[\\d.]+\\]:25, .*dsn=5\\.1\\.1, status=bounced \\(host mx\\.peer\\.test\\[[\\d.]+\\] said: 550 5\\.1\\.1 <nobody@peer\\.test>: Recipient address rejected: .* \\(in reply to RCPT TO command\\)\\)`));
  const notice = await srv.waitForLog(new RegExp(`postfix/bounce\\[\\d+\\]: ${id}: sender non-delivery notification: ([0-9A-F]+)`));
  await srv.waitForLog(new RegExp(`${notice[1]}: to=<alice@example\\.test>, relay=virtual, .*status=sent`));
  const [file] = await postfix.waitFor('carol', 1);
  const got = readFileSync(file!, 'latin1');
  const from = got.indexOf('From: Alice');
  assert.ok(from > 0, got);
  assert.equal(got.slice(from), BODY + '\n', 'the message arrives as submitted after the trace headers');
  const trace = got.slice(0, from).split('\n').filter((l) => l && !/^[ \t]/.test(l)).map((l) => l.slice(0, l.indexOf(':')));
  for (const h of trace) assert.match(h, /^(Return-Path|Delivered-To|X-Original-To|Received)$/);
  assert.match(got, /Received: from client\.test .*\n\s+by mx\.test \(Postern\)/, 'our Received header travelled with it');
  const bounce = maildirMessages(join(mail, 'example.test/alice')).find((m) => m.text.includes(`X-Postfix-Queue-ID: ${id}`));
  assert.ok(bounce, 'the bounce is in the sender\'s Maildir');
  assert.match(bounce.text, /^Final-Recipient: rfc822; nobody@peer\.test$/m);
  assert.match(bounce.text, /^Action: failed$/m);
  assert.match(bounce.text, /^Remote-MTA: dns; mx\.peer\.test$/m);
  assert.match(bounce.text, /^Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@peer\.test>/m);
  assert.doesNotMatch(bounce.text, /^Final-Recipient: rfc822; carol@peer\.test$/m, 'the delivered recipient is not in the bounce');
});

test('a peer that answers 451 first: deferred, retried after the backoff, delivered exactly once', async () => {
  const id = await submit(['dave@flaky.test']);
  await srv.waitForLog(new RegExp(`${id}: to=<dave@flaky\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${flaky.port}, .*dsn=4\\.3\\.0, status=deferred \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 451 4\\.3\\.0 try again later \\(in reply to RCPT TO command\\)\\)`));
  await srv.waitForLog(new RegExp(`${id}: to=<dave@flaky\\.test>, .*status=sent`), 20_000);
  await srv.waitForLog(new RegExp(`${id}: removed`));
  assert.equal(flaky.messages.filter((m) => m.rcpts.includes('dave@flaky.test')).length, 1);
});

test('a connection dropped in the middle of DATA: deferred with Postfix\'s text, never lost', async () => {
  const id = await submit(['erin@drop.test']);
  await srv.waitForLog(new RegExp(`${id}: to=<erin@drop\\.test>, .*dsn=4\\.4\\.2, status=deferred \\(lost connection with 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] while sending (message body|end of data)`));
  dropTries = dropper.connections;
  assert.ok(dropTries >= 1);
  const q = await run(process.execPath, [join(process.cwd(), 'bin', 'postern.js'), '-c', srv.configDir, 'queue']);
  assert.match(q.stdout, new RegExp(`^${id}\\s`, 'm'), 'still queued');
});

test('mailbox_transport = lmtp:unix:… (seed 002): a local user is delivered by a real Dovecot LMTP', async () => {
  const id = await submit(['nobody@mx.test'], BODY.replace('carol@peer.test', 'nobody@mx.test'));
  await srv.waitForLog(new RegExp(`postfix/lmtp\\[\\d+\\]: ${id}: to=<nobody@mx\\.test>, relay=.*lmtp.*, .*dsn=2\\.0\\.0, status=sent`));
  const files = lmtp.delivered('nobody@mx.test');
  assert.equal(files.length, 1);
  assert.ok(readFileSync(files[0]!, 'latin1').endsWith(BODY.replace('carol@peer.test', 'nobody@mx.test') + '\n'));
});
