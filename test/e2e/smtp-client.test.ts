/**
 * The SMTP and LMTP delivery agents against real peers, at the agent level (the agent is
 * called with a QueuedMessage, as the scheduler does): a private Postfix instance (Debian's
 * postfix) as the remote MX — by [host]:port, by MX lookup on port 25 (tests run as root),
 * by MX lookup with smtp_tcp_port — with STARTTLS at levels may/encrypt/verify, and a
 * private Dovecot LMTP on a UNIX socket (stopped → deferred, back → delivered). Delivered
 * files are compared byte for byte with what was sent, apart from the trace headers the
 * peer adds in front.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/ports.js';
import { startPostfixPeer, type PostfixPeer } from '../support/postfix-peer.js';
import { startDovecotLmtp, type DovecotLmtp } from '../support/dovecot-lmtp.js';
import { createDns } from '../../src/dns/resolver.js';
import type { Dns } from '../../src/dns/types.js';
import { paramsFrom } from '../../src/config/test-params.js';
import { MailLog } from '../../src/log/maillog.js';
import type { QueuedMessage } from '../../src/queue/types.js';
import type { RoutedRecipient, TransportOutcome } from '../../src/delivery/types.js';
import { createSmtpAgent, type SmtpAgent } from '../../src/delivery/smtp/agent.js';

const tmp = mkdtempSync(join(tmpdir(), 'postern-smtp-peers-'));
let dnsServer: DnsServer;
let dns: Dns;
let postfix: PostfixPeer;
let port: number;
// A loopback address of our own for the port-25 listener, so parallel runs do not collide.
const mxAddr = `127.0.25.${2 + (process.pid % 250)}`;
const agents: SmtpAgent[] = [];

const MESSAGE = [
  'From: Sender <sender@src.test>',
  'To: alice@peer.test, bob@peer.test',
  'Subject: outbound test',
  'Date: Mon, 1 Jan 2024 00:00:00 +0000',
  'Message-ID: <outbound-1@src.test>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'Line one.',
  '.A line that starts with a dot.',
  '..and one with two.',
  '',
  'x'.repeat(900),
  '',
].join('\r\n');

before(async () => {
  // Postfix's daemons (user postfix) and Dovecot's deliveries (nobody) must traverse it.
  chmodSync(tmp, 0o755);
  port = await freePort();
  postfix = await startPostfixPeer(join(tmp, 'postfix'), {
    listen: [{ host: '127.0.0.1', port }, { host: mxAddr, port: 25 }],
    domain: 'peer.test', users: ['alice', 'bob'], tlsName: 'mx.peer.test',
  });
  dnsServer = await startDnsServer({
    'peer.test': { MX: [{ priority: 10, exchange: 'mx.peer.test' }] },
    'mx.peer.test': { A: [mxAddr] },
    'alt.test': { MX: [{ priority: 10, exchange: 'mx.alt.test' }] },
    'mx.alt.test': { A: ['127.0.0.1'] },
  });
  dns = createDns({ servers: [dnsServer.address], timeoutMs: 500, tries: 2 });
});

after(async () => {
  for (const a of agents) await a.close();
  await postfix?.stop();
  await dnsServer?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function agent(opts: { lmtp?: boolean; log?: MailLog; queueDirectory?: string } = {}): SmtpAgent {
  const a = createSmtpAgent({ dns, lmtp: opts.lmtp ?? false, queueDirectory: opts.queueDirectory ?? tmp, ...(opts.log ? { log: opts.log } : {}) });
  agents.push(a);
  return a;
}

function message(id: string, data = MESSAGE): QueuedMessage {
  return { id, arrival: Date.now(), sender: 'sender@src.test', recipients: [], data: Buffer.from(data), client: 'client.src.test[192.0.2.9]', nextAttempt: 0, attempts: 0 };
}

const rcpt = (recipient: string): RoutedRecipient => ({ recipient, originalRecipient: recipient });

function deliver(a: SmtpAgent, nexthop: string, rcpts: string[], params: Record<string, string> = {}, msg = message('4SMTPTEST')): Promise<TransportOutcome[]> {
  return a.deliver({ msg, transport: 'smtp', nexthop, params: paramsFrom({ myhostname: 'out.src.test', ...params }), args: [], recipients: rcpts.map(rcpt) });
}

/** The delivered file is the sent message (LF line ends in a Maildir) after trace headers only. */
function assertSameMessage(file: string, sent: string, traceHeaders: RegExp): void {
  const got = readFileSync(file, 'latin1');
  const want = sent.replace(/\r\n/g, '\n');
  assert.ok(got.endsWith(want), `delivered file ends with the message as sent:\n${got}`);
  const prefix = got.slice(0, got.length - want.length);
  const names = prefix.split('\n').filter((l) => l && !/^[ \t]/.test(l)).map((l) => l.slice(0, l.indexOf(':')));
  for (const n of names) assert.match(n, traceHeaders, `only trace headers are added in front, not "${n}"`);
}

function logOf(file: string): string {
  return readFileSync(file, 'utf8');
}

test('Postfix as the remote MX by [host]:port: accepted per recipient, the Maildir file is the message byte for byte', async () => {
  const out = await deliver(agent(), `[127.0.0.1]:${port}`, ['alice@peer.test', 'nobody@peer.test']);
  assert.equal(out[0]!.status, 'sent');
  assert.match(out[0]!.text, /^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+$/);
  assert.equal(out[0]!.relay, `127.0.0.1[127.0.0.1]:${port}`);
  assert.deepEqual([out[1]!.status, out[1]!.dsn, out[1]!.text], ['bounced', '5.1.1',
    'host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nobody@peer.test>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)']);
  assert.equal(out[1]!.diagnostic, 'smtp; 550 5.1.1 <nobody@peer.test>: Recipient address rejected: User unknown in virtual mailbox table');
  const [file] = await postfix.waitFor('alice', 1);
  assertSameMessage(file!, MESSAGE, /^(Return-Path|Delivered-To|X-Original-To|Received)$/);
  assert.match(postfix.log(), /postfix\/smtpd\[\d+\]: connect from .*\[127\.0\.0\.1\]/);
});

test('MX lookup to port 25 (as root), and MX lookup with smtp_tcp_port: relay names the MX host', async () => {
  const before = postfix.delivered('bob').length;
  const out = await deliver(agent(), 'peer.test', ['bob@peer.test']);
  assert.deepEqual([out[0]!.status, out[0]!.relay, out[0]!.remoteMta], ['sent', `mx.peer.test[${mxAddr}]:25`, 'dns; mx.peer.test']);
  const out2 = await deliver(agent(), 'alt.test', ['bob@peer.test'], { smtp_tcp_port: String(port) });
  assert.deepEqual([out2[0]!.status, out2[0]!.relay], ['sent', `mx.alt.test[127.0.0.1]:${port}`]);
  await postfix.waitFor('bob', before + 2);
});

test('STARTTLS may: Untrusted TLS line as Postfix writes it; the peer saw TLS', async () => {
  const logFile = join(tmp, 'tls-may.log');
  const log = new MailLog({ file: logFile, hostname: 'out.src.test' });
  const out = await deliver(agent({ log }), `[127.0.0.1]:${port}`, ['alice@peer.test'], { smtp_tls_security_level: 'may', smtp_tls_loglevel: '1' });
  log.close();
  assert.equal(out[0]!.status, 'sent');
  assert.match(logOf(logFile), new RegExp(`postfix/smtp\\[\\d+\\]: Untrusted TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${port}: TLSv1\\.3 with cipher TLS_AES_256_GCM_SHA384 \\(256/256 bits\\)`));
  assert.match(postfix.log(), /postfix\/smtpd\[\d+\]: \w+ TLS connection established from \S+\[127\.0\.0\.1\]: TLSv1\.3/);
});

test('STARTTLS encrypt with smtp_tls_CAfile: Trusted; verify with a matching name: Verified; a wrong name is deferred 4.7.5', async () => {
  const logFile = join(tmp, 'tls-verify.log');
  const log = new MailLog({ file: logFile, hostname: 'out.src.test' });
  const ca = postfix.certFile!;
  const o1 = await deliver(agent({ log }), `[127.0.0.1]:${port}`, ['alice@peer.test'], { smtp_tls_security_level: 'encrypt', smtp_tls_CAfile: ca, smtp_tls_loglevel: '1' });
  assert.equal(o1[0]!.status, 'sent', JSON.stringify(o1));
  const policy = join(tmp, 'tls_policy');
  writeFileSync(policy, `[127.0.0.1]:${port} verify match=mx.peer.test\n[mx.alt.test]:${port} verify match=wrong.peer.test\n`);
  const o2 = await deliver(agent({ log }), `[127.0.0.1]:${port}`, ['alice@peer.test'], { smtp_tls_policy_maps: `texthash:${policy}`, smtp_tls_CAfile: ca, smtp_tls_loglevel: '1' });
  assert.equal(o2[0]!.status, 'sent', JSON.stringify(o2));
  const o3 = await deliver(agent({ log }), `[mx.alt.test]:${port}`, ['alice@peer.test'], { smtp_tls_policy_maps: `texthash:${policy}`, smtp_tls_CAfile: ca, smtp_tls_loglevel: '1' });
  log.close();
  assert.deepEqual([o3[0]!.status, o3[0]!.dsn, o3[0]!.text, o3[0]!.relay], ['deferred', '4.7.5', 'Server certificate not verified', `mx.alt.test[127.0.0.1]:${port}`]);
  const text = logOf(logFile);
  assert.match(text, new RegExp(`Trusted TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${port}: TLSv1\\.3 with cipher`));
  assert.match(text, new RegExp(`Verified TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${port}: TLSv1\\.3 with cipher`));
  assert.match(text, new RegExp(`Trusted TLS connection established to mx\\.alt\\.test\\[127\\.0\\.0\\.1\\]:${port}`));
  // Without the CA the self-signed certificate is not trusted, so verify fails too.
  const o4 = await deliver(agent(), `[127.0.0.1]:${port}`, ['alice@peer.test'], { smtp_tls_security_level: 'verify', smtp_tls_verify_cert_match: 'mx.peer.test' });
  assert.deepEqual([o4[0]!.status, o4[0]!.text], ['deferred', 'Server certificate not verified']);
});

test('two messages in a row reuse one connection to Postfix', async () => {
  const a = agent();
  const n = postfix.delivered('bob').length;
  const before = (postfix.log().match(/postfix\/smtpd\[\d+\]: connect from/g) ?? []).length;
  const o1 = await deliver(a, `[127.0.0.1]:${port}`, ['bob@peer.test'], {}, message('4REUSE1'));
  const o2 = await deliver(a, `[127.0.0.1]:${port}`, ['bob@peer.test'], {}, message('4REUSE2'));
  assert.deepEqual([o1[0]!.status, o2[0]!.status], ['sent', 'sent']);
  await postfix.waitFor('bob', n + 2);
  await a.close();
  const after = (postfix.log().match(/postfix\/smtpd\[\d+\]: connect from/g) ?? []).length;
  assert.equal(after - before, 1, 'one SMTP connection carried both messages');
});

test('LMTP to a real Dovecot: per-recipient replies; Dovecot stopped → deferred; back → delivered', async () => {
  const dir = join(tmp, 'dovecot');
  const dovecot: DovecotLmtp = await startDovecotLmtp(dir, ['carol@lmtp.test']);
  try {
    const lmtp = agent({ lmtp: true, queueDirectory: dir });
    const req = (ids: string[], id: string): Promise<TransportOutcome[]> => lmtp.deliver({
      msg: message(id), transport: 'lmtp', nexthop: 'unix:lmtp', params: paramsFrom({ myhostname: 'out.src.test' }), args: [], recipients: ids.map(rcpt),
    });
    const out = await req(['carol@lmtp.test', 'dave@lmtp.test'], '4LMTP1');
    assert.equal(out[0]!.status, 'sent', JSON.stringify(out) + dovecot.log());
    assert.match(out[0]!.text, /^250 2\.0\.0 <carol@lmtp\.test> \S+ Saved$/);
    assert.equal(out[0]!.relay, 'out.src.test[lmtp]');
    assert.equal(out[1]!.status, 'bounced');
    assert.equal(out[1]!.dsn, '5.1.1');
    assert.match(out[1]!.text, /^host out\.src\.test\[lmtp\] said: 550 5\.1\.1 <dave@lmtp\.test> User doesn't exist: dave@lmtp\.test \(in reply to RCPT TO command\)$/);
    const files = dovecot.delivered('carol@lmtp.test');
    assert.equal(files.length, 1);
    assertSameMessage(files[0]!, MESSAGE, /^(Return-Path|Delivered-To|Received)$/);

    await lmtp.close();
    await dovecot.stop();
    const down = await req(['carol@lmtp.test'], '4LMTP2');
    assert.deepEqual([down[0]!.status, down[0]!.dsn], ['deferred', '4.4.1']);
    assert.match(down[0]!.text, /^connect to out\.src\.test\[lmtp\]: (Connection refused|No such file or directory)$/);

    await dovecot.start();
    const back = await req(['carol@lmtp.test'], '4LMTP3');
    assert.equal(back[0]!.status, 'sent');
    assert.equal(dovecot.delivered('carol@lmtp.test').length, 2);
  } finally {
    await dovecot.stop();
  }
});
