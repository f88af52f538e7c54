/**
 * The SMTP/LMTP agent against scripted in-process peers (test-peer.ts): pipelining batches,
 * per-recipient results, Postfix's failure texts, timeouts, SIZE, DSN, LMTP, connection
 * reuse, MX fallback and session limits, opportunistic TLS falling back to plain text.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { startDnsServer, type DnsServer } from '../../../test/support/dns-server.js';
import { createDns } from '../../dns/resolver.js';
import type { Dns } from '../../dns/types.js';
import { paramsFrom } from '../../config/test-params.js';
import { MailLog } from '../../log/maillog.js';
import type { QueuedMessage } from '../../queue/types.js';
import type { RoutedRecipient, TransportOutcome } from '../types.js';
import { createSmtpAgent, type SmtpAgent } from './agent.js';
import { startPeer, type PeerOptions, type ScriptedPeer } from './test-peer.js';

let dnsServer: DnsServer;
let dns: Dns;
const tmp = mkdtempSync(join(tmpdir(), 'postern-smtp-agent-'));
const peers: ScriptedPeer[] = [];
const agents: SmtpAgent[] = [];

before(async () => {
  dnsServer = await startDnsServer({
    'two.test': { MX: [{ priority: 10, exchange: 'mx1.two.test' }, { priority: 20, exchange: 'mx2.two.test' }] },
    'mx1.two.test': { A: ['127.0.0.2'] },
    'mx2.two.test': { A: ['127.0.0.3'] },
    'three.test': { MX: [1, 2, 3].map((i) => ({ priority: i, exchange: `mx${i}.three.test` })) },
    'mx1.three.test': { A: ['127.0.0.4'] },
    'mx2.three.test': { A: ['127.0.0.5'] },
    'mx3.three.test': { A: ['127.0.0.6'] },
    'dead.test': { MX: [{ priority: 10, exchange: 'mx.dead.test' }] },
    'mx.dead.test': { A: ['127.0.0.7'] },
    'nullmx.test': { MX: [{ priority: 0, exchange: '.' }] },
  });
  dns = createDns({ servers: [dnsServer.address], timeoutMs: 300, tries: 1 });
});

after(async () => {
  for (const a of agents) await a.close();
  for (const p of peers) await p.close();
  await dnsServer.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function peer(opts: PeerOptions = {}): Promise<ScriptedPeer> {
  const p = await startPeer(opts);
  peers.push(p);
  return p;
}

function agent(lmtp = false, log?: MailLog): SmtpAgent {
  const a = createSmtpAgent({ dns, lmtp, queueDirectory: tmp, ...(log ? { log } : {}), random: () => 0 });
  agents.push(a);
  return a;
}

function message(data = 'Subject: test\r\n\r\nhello\r\n', over: Partial<QueuedMessage> = {}): QueuedMessage {
  return { id: '4TESTID', arrival: Date.now(), sender: 'sender@src.test', recipients: [], data: Buffer.from(data), client: 'client.src.test[192.0.2.9]', nextAttempt: 0, attempts: 0, ...over };
}

const rcpt = (recipient: string, extra: Partial<RoutedRecipient> = {}): RoutedRecipient => ({ recipient, originalRecipient: recipient, ...extra });

async function send(a: SmtpAgent, nexthop: string, rcpts: RoutedRecipient[], params: Record<string, string> = {}, msg = message()): Promise<TransportOutcome[]> {
  return a.deliver({ msg, transport: 'smtp', nexthop, params: paramsFrom({ myhostname: 'client.test', ...params }), args: [], recipients: rcpts });
}

/** Two listeners on one port at two loopback addresses (MX tests use smtp_tcp_port). */
async function twoPeers(hosts: [string, string], a: PeerOptions, b: PeerOptions): Promise<[ScriptedPeer, ScriptedPeer]> {
  for (let tries = 0; ; tries++) {
    const p1 = await peer({ ...a, host: hosts[0] });
    try {
      const p2 = await startPeerOn(hosts[1], p1.port, b);
      return [p1, p2];
    } catch (err) {
      if (tries > 5) throw err;
    }
  }
}

async function startPeerOn(host: string, port: number, opts: PeerOptions): Promise<ScriptedPeer> {
  // startPeer binds port 0; to share a port, probe that it is free first and then bind the peer there.
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, host, () => s.close(() => resolve()));
  });
  const p = await startPeer({ ...opts, host, port });
  peers.push(p);
  return p;
}

test('one message, two recipients: MAIL, both RCPTs and DATA leave in one write; sent with the peer\'s reply', async () => {
  const p = await peer();
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test'), rcpt('b@dst.test')]);
  assert.deepEqual(out.map((o) => [o.status, o.dsn, o.text, o.relay]), [
    ['sent', '2.0.0', '250 2.0.0 Ok: queued as 4PEER', `127.0.0.1[127.0.0.1]:${p.port}`],
    ['sent', '2.0.0', '250 2.0.0 Ok: queued as 4PEER', `127.0.0.1[127.0.0.1]:${p.port}`],
  ]);
  assert.equal(out[0]!.remoteMta, 'dns; 127.0.0.1');
  assert.ok(p.chunks.some((c) => /^MAIL FROM:<sender@src\.test> SIZE=\d+\r\nRCPT TO:<a@dst\.test> ORCPT=rfc822;a@dst\.test\r\nRCPT TO:<b@dst\.test> ORCPT=rfc822;b@dst\.test\r\nDATA\r\n$/.test(c)), `one chunk holds the group: ${JSON.stringify(p.chunks)}`);
  assert.equal(p.commands[0], 'EHLO client.test');
  assert.equal(p.messages[0]!.data.toString(), 'Subject: test\r\n\r\nhello\r\n');
});

test('a peer without PIPELINING gets one command at a time', async () => {
  const p = await peer({ keywords: ['SIZE 1000000', '8BITMIME'] });
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test'), rcpt('b@dst.test')]);
  assert.deepEqual(out.map((o) => o.status), ['sent', 'sent']);
  const cmdChunks = p.chunks.filter((c) => /^(MAIL|RCPT|DATA)/.test(c));
  assert.equal(cmdChunks.length, 4);
  for (const c of cmdChunks) assert.equal(c.split('\r\n').filter(Boolean).length, 1, `one command per write: ${JSON.stringify(c)}`);
});

test('5xx at RCPT bounces that recipient only; the other is delivered', async () => {
  const p = await peer({ reply: (cmd) => (cmd.startsWith('RCPT TO:<nobody@') ? '550 5.1.1 <nobody@dst.test>: Recipient address rejected: User unknown' : undefined) });
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('nobody@dst.test'), rcpt('ok@dst.test')]);
  assert.deepEqual(out[0], {
    recipient: rcpt('nobody@dst.test'), status: 'bounced', dsn: '5.1.1',
    text: `host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nobody@dst.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)`,
    relay: `127.0.0.1[127.0.0.1]:${p.port}`, remoteMta: 'dns; 127.0.0.1',
    diagnostic: 'smtp; 550 5.1.1 <nobody@dst.test>: Recipient address rejected: User unknown', connectSeconds: out[0]!.connectSeconds,
  });
  assert.equal(out[1]!.status, 'sent');
  assert.deepEqual(p.messages[0]!.rcpts, ['ok@dst.test']);
});

test('4xx at RCPT defers; the next attempt is delivered', async () => {
  let first = true;
  const p = await peer({ reply: (cmd) => (cmd.startsWith('RCPT') && first ? ((first = false), '450 4.2.0 <a@dst.test>: Recipient address rejected: Greylisted') : undefined) });
  const a = agent();
  const o1 = await send(a, `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')]);
  assert.deepEqual([o1[0]!.status, o1[0]!.dsn, o1[0]!.text], ['deferred', '4.2.0', 'host 127.0.0.1[127.0.0.1] said: 450 4.2.0 <a@dst.test>: Recipient address rejected: Greylisted (in reply to RCPT TO command)']);
  const o2 = await send(a, `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')]);
  assert.equal(o2[0]!.status, 'sent');
  assert.equal(p.messages.length, 1);
});

test('5xx at MAIL bounces all; 4xx at DATA defers all', async () => {
  const p = await peer({ reply: (cmd) => (cmd.startsWith('MAIL') ? '553 5.7.1 <sender@src.test>: Sender address rejected: not logged in' : undefined) });
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test'), rcpt('b@dst.test')]);
  assert.deepEqual(out.map((o) => [o.status, o.dsn]), [['bounced', '5.7.1'], ['bounced', '5.7.1']]);
  assert.match(out[0]!.text, /said: 553 5\.7\.1 <sender@src\.test>: Sender address rejected: not logged in \(in reply to MAIL FROM command\)$/);
  const q = await peer({ reply: (cmd) => (cmd === 'DATA' ? '451 4.3.0 Error: queue file write error' : undefined) });
  const out2 = await send(agent(), `[127.0.0.1]:${q.port}`, [rcpt('a@dst.test'), rcpt('b@dst.test')]);
  assert.deepEqual(out2.map((o) => [o.status, o.dsn]), [['deferred', '4.3.0'], ['deferred', '4.3.0']]);
  assert.match(out2[0]!.text, /\(in reply to DATA command\)$/);
  const r = await peer({ afterData: () => '554 5.7.1 Message rejected: spam' });
  const out3 = await send(agent(), `[127.0.0.1]:${r.port}`, [rcpt('a@dst.test')]);
  assert.deepEqual([out3[0]!.status, out3[0]!.text], ['bounced', `host 127.0.0.1[127.0.0.1] said: 554 5.7.1 Message rejected: spam (in reply to end of DATA command)`]);
});

test('connection lost in the middle of the body: deferred with Postfix\'s wording', async () => {
  const p = await peer({ dropAfterBodyBytes: 1000, keywords: ['PIPELINING'] });
  // Larger than what the loopback socket buffers hold, so the loss is seen while writing.
  const big = 'Subject: big\r\n\r\n' + ('x'.repeat(998) + '\r\n').repeat(24_000);
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')], {}, message(big));
  assert.deepEqual([out[0]!.status, out[0]!.dsn, out[0]!.text], ['deferred', '4.4.2', 'lost connection with 127.0.0.1[127.0.0.1] while sending message body']);
});

test('a peer that never answers: timeouts with Postfix\'s wording', async () => {
  const silent = await peer({ greeting: null });
  const t0 = Date.now();
  const out = await send(agent(), `[127.0.0.1]:${silent.port}`, [rcpt('a@dst.test')], { smtp_helo_timeout: '1s' });
  assert.deepEqual([out[0]!.status, out[0]!.dsn, out[0]!.text], ['deferred', '4.4.2', 'conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting']);
  assert.ok(Date.now() - t0 < 5000);
  const mute = await peer({ silentAfterData: true });
  const out2 = await send(agent(), `[127.0.0.1]:${mute.port}`, [rcpt('a@dst.test')], { smtp_data_done_timeout: '1s' });
  assert.equal(out2[0]!.text, 'conversation with 127.0.0.1[127.0.0.1] timed out while sending end of data -- message may be sent more than once');
});

test('connection refused: deferred, relay=none, and the connect line is logged', async () => {
  const logFile = join(tmp, 'refused.log');
  const log = new MailLog({ file: logFile, hostname: 'client.test' });
  const port = (await peer()).port;
  await peers.pop()!.close();
  const out = await send(agent(false, log), `[127.0.0.1]:${port}`, [rcpt('a@dst.test')]);
  log.close();
  assert.deepEqual([out[0]!.status, out[0]!.dsn, out[0]!.text, out[0]!.relay], ['deferred', '4.4.1', `connect to 127.0.0.1[127.0.0.1]:${port}: Connection refused`, 'none']);
  assert.match(readFileSync(logFile, 'utf8'), new RegExp(`postfix/smtp\\[\\d+\\]: connect to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${port}: Connection refused`));
});

test('SIZE: a message larger than the peer\'s limit bounces without being sent', async () => {
  const p = await peer({ keywords: ['PIPELINING', 'SIZE 100'] });
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')], {}, message('Subject: x\r\n\r\n' + 'y'.repeat(200) + '\r\n'));
  assert.deepEqual([out[0]!.status, out[0]!.dsn], ['bounced', '5.3.4']);
  assert.equal(out[0]!.text, `message size 216 exceeds size limit 100 of server 127.0.0.1[127.0.0.1]`);
  assert.ok(!p.commands.some((c) => c.startsWith('MAIL')));
});

test('DSN parameters are passed on when offered; without DSN at the peer, NOTIFY=SUCCESS makes the outcome "relayed"', async () => {
  const p = await peer();
  const msg = message(undefined, { envid: 'QQ314159', ret: 'HDRS' });
  const r = rcpt('a@dst.test', { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;A+2Bx@dst.test', originalRecipient: 'A+x@dst.test' });
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [r], {}, msg);
  assert.equal(out[0]!.status, 'sent');
  assert.equal(out[0]!.relayed, undefined);
  assert.equal(out[0]!.dsnPassedOn, true);
  assert.match(p.messages[0]!.mailArgs, /^SIZE=\d+ RET=HDRS ENVID=QQ314159$/);
  assert.equal(p.messages[0]!.rcptArgs[0], 'NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;A+2Bx@dst.test');
  const q = await peer({ keywords: ['PIPELINING'] });
  const out2 = await send(agent(), `[127.0.0.1]:${q.port}`, [r], {}, msg);
  assert.equal(out2[0]!.relayed, true);
  assert.equal(out2[0]!.dsnPassedOn, undefined);
  assert.equal(q.messages[0]!.mailArgs, '');
  assert.equal(q.messages[0]!.rcptArgs[0], '');
});

test('8BITMIME and SMTPUTF8: BODY=8BITMIME when offered; UTF-8 envelope to a peer without SMTPUTF8 bounces 5.6.7', async () => {
  const p = await peer();
  const m8 = message('Subject: caf\u00e9\r\n\r\ncaf\u00e9\r\n', { bodyType: '8BITMIME', smtputf8: true });
  await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('jos\u00e9@dst.test')], {}, m8);
  assert.match(p.messages[0]!.mailArgs, /BODY=8BITMIME SMTPUTF8/);
  assert.deepEqual(p.messages[0]!.rcpts, ['jos\u00e9@dst.test']);
  const q = await peer({ keywords: ['PIPELINING', '8BITMIME'] });
  const out = await send(agent(), `[127.0.0.1]:${q.port}`, [rcpt('jos\u00e9@dst.test')], {}, m8);
  assert.deepEqual([out[0]!.status, out[0]!.dsn], ['bounced', '5.6.7']);
  assert.match(out[0]!.text, /^message requires SMTPUTF8, but no server was found that supports SMTPUTF8\. The last attempted server was 127\.0\.0\.1\[127\.0\.0\.1\]$/);
  // ASCII envelope and headers: SMTPUTF8 was asked for but is not needed, so the message goes.
  const out2 = await send(agent(), `[127.0.0.1]:${q.port}`, [rcpt('ascii@dst.test')], {}, message('Subject: plain\r\n\r\ncaf\u00e9\r\n', { smtputf8: true, bodyType: '8BITMIME' }));
  assert.equal(out2[0]!.status, 'sent');
});

test('dot-stuffing on the wire; the peer gets the exact bytes', async () => {
  const p = await peer();
  const body = 'Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n';
  await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')], {}, message(body));
  assert.equal(p.messages[0]!.wire.toString(), 'Subject: dots\r\n\r\n..leading dot\r\n...two\r\n..\r\nend\r\n.\r\n');
  assert.equal(p.messages[0]!.data.toString(), body);
});

test('XFORWARD with the original client when offered and smtp_send_xforward_command = yes', async () => {
  const p = await peer({ keywords: ['PIPELINING', 'XFORWARD NAME ADDR PROTO HELO'] });
  await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')], { smtp_send_xforward_command: 'yes' });
  assert.ok(p.chunks.some((c) => c.startsWith('XFORWARD NAME=client.src.test ADDR=192.0.2.9\r\nMAIL FROM:')), JSON.stringify(p.chunks));
  const q = await peer({ keywords: ['PIPELINING', 'XFORWARD NAME ADDR PROTO HELO'] });
  await send(agent(), `[127.0.0.1]:${q.port}`, [rcpt('a@dst.test')]);
  assert.ok(!q.commands.some((c) => c.startsWith('XFORWARD')));
});

test('EHLO refused: HELO, and plain SMTP without extensions', async () => {
  const p = await peer({ reply: (cmd) => (cmd.startsWith('EHLO') ? '502 5.5.2 Error: command not recognized' : undefined) });
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test', { notify: ['SUCCESS'] })], { smtp_helo_name: 'helo.client.test' });
  assert.equal(out[0]!.status, 'sent');
  assert.deepEqual(p.commands.slice(0, 2), ['EHLO helo.client.test', 'HELO helo.client.test']);
  assert.equal(p.messages[0]!.mailArgs, '');
});

test('connection reuse: the second message to the same next hop goes over the same connection after RSET; close() quits', async () => {
  const p = await peer();
  const a = agent();
  await send(a, `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')]);
  assert.equal(a.cache.size, 1);
  const out = await send(a, `[127.0.0.1]:${p.port}`, [rcpt('b@dst.test')]);
  assert.equal(out[0]!.status, 'sent');
  assert.equal(p.connections, 1);
  assert.equal(p.messages.length, 2);
  assert.ok(p.chunks.some((c) => c.startsWith('RSET\r\nMAIL FROM:')), 'RSET is pipelined in front of the next MAIL FROM');
  await a.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(p.commands.at(-1), 'QUIT');
  assert.equal(a.cache.size, 0);
});

test('an idle connection the peer closed is not reused; a fresh one is opened', async () => {
  let conns = 0;
  const p = await peer({ afterData: (_m, st) => ((conns = st.conn), '250 2.0.0 Ok: queued as X') });
  const a = agent();
  await send(a, `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')]);
  await p.close();
  const q = await peer();
  const out = await send(a, `[127.0.0.1]:${q.port}`, [rcpt('b@dst.test')]);
  assert.equal(out[0]!.status, 'sent');
  assert.equal(conns, 1);
  // With the cache time limit at 0, nothing is kept.
  const b = agent();
  await send(b, `[127.0.0.1]:${q.port}`, [rcpt('c@dst.test')], { smtp_connection_cache_time_limit: '0' });
  assert.equal(b.cache.size, 0);
});

test('MX: a 4xx greeting at the best MX moves on to the next one; relay names the MX host', async () => {
  const [p1, p2] = await twoPeers(['127.0.0.2', '127.0.0.3'], { greeting: '421 4.3.2 Service not available' }, {});
  const logFile = join(tmp, 'mx.log');
  const log = new MailLog({ file: logFile, hostname: 'client.test' });
  const out = await send(agent(false, log), 'two.test', [rcpt('a@two.test')], { smtp_tcp_port: String(p1.port) });
  log.close();
  assert.deepEqual([out[0]!.status, out[0]!.relay], ['sent', `mx2.two.test[127.0.0.3]:${p1.port}`]);
  assert.equal(p1.messages.length, 0);
  assert.equal(p2.messages.length, 1);
  assert.match(readFileSync(logFile, 'utf8'), /postfix\/smtp\[\d+\]: 4TESTID: host mx1\.two\.test\[127\.0\.0\.2\] refused to talk to me: 421 4\.3\.2 Service not available/);
});

test('MX: all servers fail temporarily → deferred with the last reason; smtp_mx_session_limit stops after two sessions', async () => {
  const port = (await peer({ host: '127.0.0.4' })).port;
  const hits: string[] = [];
  await peers.pop()!.close();
  const opts = (h: string): PeerOptions => ({ reply: (cmd) => (cmd.startsWith('MAIL') ? (hits.push(h), `451 4.3.0 ${h} busy`) : undefined) });
  await startPeerOn('127.0.0.4', port, opts('mx1'));
  await startPeerOn('127.0.0.5', port, opts('mx2'));
  await startPeerOn('127.0.0.6', port, opts('mx3'));
  const out = await send(agent(), 'three.test', [rcpt('a@three.test')], { smtp_tcp_port: String(port) });
  assert.deepEqual(hits, ['mx1', 'mx2']);
  assert.deepEqual([out[0]!.status, out[0]!.dsn, out[0]!.relay], ['deferred', '4.3.0', `mx2.three.test[127.0.0.5]:${port}`]);
  assert.match(out[0]!.text, /said: 451 4\.3\.0 mx2 busy \(in reply to MAIL FROM command\)$/);
  hits.length = 0;
  await send(agent(), 'three.test', [rcpt('a@three.test')], { smtp_tcp_port: String(port), smtp_mx_session_limit: '0' });
  assert.deepEqual(hits, ['mx1', 'mx2', 'mx3']);
});

test('null MX bounces at once; smtp_fallback_relay takes over when the MX is down', async () => {
  const out = await send(agent(), 'nullmx.test', [rcpt('a@nullmx.test')]);
  assert.deepEqual([out[0]!.status, out[0]!.dsn, out[0]!.text, out[0]!.relay], ['bounced', '5.1.10', 'Domain nullmx.test does not accept mail (nullMX)', 'none']);
  const relay = await peer();
  const out2 = await send(agent(), 'dead.test', [rcpt('a@dead.test')], { smtp_tcp_port: '1', smtp_fallback_relay: `[127.0.0.1]:${relay.port}` });
  assert.deepEqual([out2[0]!.status, out2[0]!.relay], ['sent', `127.0.0.1[127.0.0.1]:${relay.port}`]);
  const out3 = await send(agent(), 'nxdomain.test', [rcpt('a@nxdomain.test')]);
  assert.deepEqual([out3[0]!.status, out3[0]!.dsn], ['bounced', '5.4.4']);
});

test('LMTP over a UNIX socket: LHLO, one reply per recipient after the dot', async () => {
  const path = join(tmp, 'lmtp.sock');
  const p = await peer({ lmtp: true, path, afterData: (m) => m.rcpts.map((r) => (r.startsWith('bad') ? `550 5.1.1 <${r}> User doesn't exist: ${r}` : `250 2.0.0 <${r}> nkVXJ Saved`)) });
  const out = await send(agent(true), `unix:${path}`, [rcpt('good@dst.test'), rcpt('bad@dst.test'), rcpt('fine@dst.test')], { myhostname: 'mail.client.test' });
  assert.deepEqual(out.map((o) => [o.status, o.dsn, o.relay]), [
    ['sent', '2.0.0', `mail.client.test[${path}]`],
    ['bounced', '5.1.1', `mail.client.test[${path}]`],
    ['sent', '2.0.0', `mail.client.test[${path}]`],
  ]);
  assert.equal(out[0]!.text, '250 2.0.0 <good@dst.test> nkVXJ Saved');
  assert.equal(out[1]!.text, `host mail.client.test[${path}] said: 550 5.1.1 <bad@dst.test> User doesn't exist: bad@dst.test (in reply to end of DATA command)`);
  assert.equal(p.commands[0], 'LHLO mail.client.test');
  assert.equal(out[0]!.relayed, undefined);
  const missing = await send(agent(true), `unix:${join(tmp, 'nope.sock')}`, [rcpt('a@dst.test')], { myhostname: 'mail.client.test' });
  assert.deepEqual([missing[0]!.status, missing[0]!.text], ['deferred', `connect to mail.client.test[${join(tmp, 'nope.sock')}]: No such file or directory`]);
});

test('LMTP over TCP (inet:host:port), and smtp_bind_address picks the local address', async () => {
  const p = await peer({ lmtp: true });
  const out = await send(agent(true), `inet:127.0.0.1:${p.port}`, [rcpt('a@dst.test')], { lmtp_lhlo_name: 'lhlo.client.test' });
  assert.deepEqual([out[0]!.status, out[0]!.relay, out[0]!.text], ['sent', `127.0.0.1[127.0.0.1]:${p.port}`, '250 2.0.0 <a@dst.test> Saved']);
  assert.equal(p.commands[0], 'LHLO lhlo.client.test');
  const q = await peer();
  await send(agent(), `[127.0.0.1]:${q.port}`, [rcpt('a@dst.test')], { smtp_bind_address: '127.0.0.9' });
  assert.deepEqual(q.remotes, ['127.0.0.9']);
});

test('TLS: encrypt without STARTTLS at the peer defers 4.7.4; a failed opportunistic handshake is retried in plain text', async () => {
  const p = await peer();
  const out = await send(agent(), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')], { smtp_tls_security_level: 'encrypt' });
  assert.deepEqual([out[0]!.status, out[0]!.dsn, out[0]!.text], ['deferred', '4.7.4', 'TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]']);
  // A peer that says STARTTLS and 220 but cannot do TLS: the handshake fails, Postern reconnects without TLS.
  const broken = await peer({ keywords: ['PIPELINING', 'STARTTLS'] });
  const out2 = await send(agent(), `[127.0.0.1]:${broken.port}`, [rcpt('a@dst.test')], { smtp_tls_security_level: 'may', smtp_starttls_timeout: '2s' });
  assert.equal(out2[0]!.status, 'sent');
  assert.equal(broken.connections, 2);
  const out3 = await send(agent(), `[127.0.0.1]:${broken.port}`, [rcpt('a@dst.test')], { smtp_tls_security_level: 'encrypt', smtp_starttls_timeout: '2s' });
  assert.deepEqual([out3[0]!.status, out3[0]!.dsn, out3[0]!.text], ['deferred', '4.7.5', 'Cannot start TLS: handshake failure']);
});

test('smtp_tls_note_starttls_offer logs the offer when TLS is off', async () => {
  const p = await peer({ keywords: ['PIPELINING', 'STARTTLS'] });
  const logFile = join(tmp, 'note.log');
  const log = new MailLog({ file: logFile, hostname: 'client.test' });
  await send(agent(false, log), `[127.0.0.1]:${p.port}`, [rcpt('a@dst.test')], { smtp_tls_note_starttls_offer: 'yes' });
  log.close();
  assert.match(readFileSync(logFile, 'utf8'), /postfix\/smtp\[\d+\]: Host offered STARTTLS: \[127\.0\.0\.1\]/);
});

test('a bad next hop or TLS policy defers with a configuration problem, never bounces', async () => {
  const out = await send(agent(), '[broken', [rcpt('a@dst.test')]);
  assert.deepEqual([out[0]!.status, out[0]!.dsn], ['deferred', '4.3.5']);
  const out2 = await send(agent(), '[127.0.0.1]:1', [rcpt('a@dst.test')], { smtp_tls_security_level: 'bogus' });
  assert.deepEqual([out2[0]!.status, out2[0]!.dsn, out2[0]!.text], ['deferred', '4.7.0', 'client TLS configuration problem']);
});
