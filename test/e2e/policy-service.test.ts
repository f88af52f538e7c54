/**
 * check_policy_service end to end: seed 004's recipient restrictions against the REAL
 * postgrey (Debian package, started here on loopback with a temporary --dbdir and a short
 * --delay): the first attempt gets postgrey's greylisting reply, a retry after the delay is
 * accepted and carries postgrey's X-Greylist header; postgrey stopped → the default action.
 * A small policy server written here records every request for attribute-by-attribute
 * checks, counts connections (reuse), and answers REJECT, PREPEND or garbage on demand.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { startPostern, baseMainCf, smtpService, maildirMessages, run, ROOT, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { program } from '../support/packages.js';
import { startDnsServer, ptrName, type DnsServer } from '../support/dns-server.js';

const SEEDS = join(ROOT, 'test', 'fixtures', 'seed-configs');

let dns: DnsServer;
let postgrey: ChildProcess | undefined;
let postgreyPort = 0;
let grey: Postern;
let rec: Postern;
const ports = { grey: 0, rec: 0 };
let mail = '';

/** The recording policy server. */
const requests: Map<string, string>[] = [];
let connections = 0;
let policyServer: Server;
let policyPort = 0;
const openSockets = new Set<Socket>();

function startRecorder(): Promise<void> {
  policyServer = createServer((s) => {
    connections++;
    openSockets.add(s);
    s.on('close', () => openSockets.delete(s));
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        const req = new Map(buf.slice(0, end).split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
        buf = buf.slice(end + 2);
        requests.push(req);
        const rcpt = req.get('recipient') ?? '';
        if (rcpt.startsWith('garbage@')) s.write('this is not a policy answer\n\n');
        else if (rcpt.startsWith('block@')) s.write('action=REJECT go away, says the policy server\n\n');
        else if (rcpt.startsWith('slow@')) s.write('action=DUNNO\n'); // never finishes the answer
        else if (req.get('protocol_state') === 'RCPT' && rcpt.startsWith('user@')) s.write('action=PREPEND X-Policy-Checked: yes\n\n');
        else s.write('action=DUNNO\n\n');
      }
    });
    s.on('error', () => undefined);
  });
  return new Promise((r) => policyServer.listen(0, '127.0.0.1', () => {
    policyPort = (policyServer.address() as { port: number }).port;
    r();
  }));
}

function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tryOnce = (): void => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        if (Date.now() > deadline) reject(new Error(`port ${port} never opened`));
        else setTimeout(tryOnce, 100);
      });
    };
    tryOnce();
  });
}

before(async () => {
  dns = await startDnsServer({
    [ptrName('127.0.0.2')]: { PTR: ['mail.clean.test'] }, 'mail.clean.test': { A: ['127.0.0.2'] },
    'good.test': { MX: [{ priority: 10, exchange: 'mx.good.test' }] }, 'mx.good.test': { A: ['192.0.2.25'] },
  });
  // postgrey, private: its own db directory, port, short delay, empty whitelists; stopped by PID.
  const pg = mkdtempSync(join(tmpdir(), 'postern-postgrey-'));
  chmodSync(pg, 0o777);
  writeFileSync(join(pg, 'whitelist_clients'), '');
  writeFileSync(join(pg, 'whitelist_recipients'), '');
  postgreyPort = await freePort();
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  postgrey = spawn(program('postgrey'), [
    `--inet=127.0.0.1:${postgreyPort}`, `--dbdir=${pg}`, '--delay=2', `--pidfile=${join(pg, 'postgrey.pid')}`,
    `--user=${uid === 0 ? 65534 : uid}`, `--group=${uid === 0 ? 65534 : gid}`,
    `--whitelist-clients=${join(pg, 'whitelist_clients')}`, `--whitelist-recipients=${join(pg, 'whitelist_recipients')}`,
  ], { stdio: 'ignore' });
  await waitPort(postgreyPort);
  await startRecorder();

  // Seed 004's own recipient and sender restrictions, pointed at this postgrey.
  const seed = readFileSync(join(SEEDS, '004-amavis-postgrey.main.cf'), 'utf8');
  const line = (p: string): string => new RegExp(`^${p} = .*$`, 'm').exec(seed)![0];
  ports.grey = await freePort();
  const gdir = mkdtempSync(join(tmpdir(), 'postern-policy-grey-'));
  mail = join(gdir, 'mail');
  grey = await startPostern({
    dir: gdir,
    mainCf: baseMainCf(gdir, {
      mynetworks: '127.0.0.1/32', virtual_mailbox_domains: 'vhost.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail,
      smtpd_relay_restrictions: '', dns_timeout: '300ms', dns_tries: '1',
    }, dns.port) + line('smtpd_sender_restrictions') + '\n' + line('smtpd_recipient_restrictions').replace('inet:127.0.0.1:10023', `inet:127.0.0.1:${postgreyPort}`) + '\n',
    masterCf: smtpService(ports.grey),
    files: { vmailbox: 'user@vhost.test vhost.test/user/\n' },
  });

  ports.rec = await freePort();
  const rdir = mkdtempSync(join(tmpdir(), 'postern-policy-rec-'));
  rec = await startPostern({
    dir: rdir,
    mainCf: baseMainCf(rdir, {
      mynetworks: '127.0.0.1/32', virtual_mailbox_domains: 'vhost.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: join(rdir, 'mail'),
      smtpd_relay_restrictions: '', smtpd_recipient_restrictions: `check_policy_service inet:127.0.0.1:${policyPort}, reject_unauth_destination`,
      smtpd_end_of_data_restrictions: `check_policy_service inet:127.0.0.1:${policyPort}`,
      smtpd_policy_service_policy_context: 'seed-004', smtpd_policy_service_timeout: '1s', smtpd_policy_service_try_limit: '2', smtpd_policy_service_retry_delay: '100ms',
      dns_timeout: '300ms', dns_tries: '1',
    }, dns.port),
    masterCf: smtpService(ports.rec),
    files: { vmailbox: 'user@vhost.test vhost.test/user/\nblock@vhost.test vhost.test/block/\ngarbage@vhost.test vhost.test/garbage/\nslow@vhost.test vhost.test/slow/\n' },
  });
});

after(async () => {
  for (const s of [grey, rec]) {
    await s?.stop();
    s?.cleanup();
  }
  if (postgrey && postgrey.exitCode === null) {
    const gone = new Promise((r) => postgrey!.once('exit', r));
    postgrey.kill('SIGTERM');
    await gone;
  }
  for (const s of openSockets) s.destroy();
  await new Promise((r) => policyServer?.close(r));
  await dns?.close();
});

test('seed 004 with the real postgrey: greylisted first (450 with postgrey\'s text), accepted after the delay with its X-Greylist header', async () => {
  const first = await SmtpDialog.connect(ports.grey, '127.0.0.1', '127.0.0.2');
  await first.reply();
  await first.cmd('EHLO mail.clean.test');
  assert.equal((await first.cmd('MAIL FROM:<sender@good.test>')).code, 250);
  assert.equal((await first.cmd('RCPT TO:<user@vhost.test>')).raw, '450 4.2.0 <user@vhost.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/vhost.test.html');
  first.close();
  await grey.waitForLog(/NOQUEUE: reject: RCPT from mail\.clean\.test\[127\.0\.0\.2\]: 450 4\.2\.0 <user@vhost\.test>: Recipient address rejected: Greylisted, see http:\/\/postgrey\.schweikert\.ch\/help\/vhost\.test\.html; from=<sender@good\.test> to=<user@vhost\.test> proto=ESMTP helo=<mail\.clean\.test>/);
  await new Promise((r) => setTimeout(r, 2500));
  const retry = await run('swaks', ['--server', `127.0.0.1:${ports.grey}`, '--local-interface', '127.0.0.2', '--helo', 'mail.clean.test', '--from', 'sender@good.test', '--to', 'user@vhost.test', '--header', 'Subject: greylisting']);
  assert.equal(retry.code, 0, retry.stdout);
  await grey.waitForLog(/status=sent/);
  const msgs = maildirMessages(join(mail, 'vhost.test/user'));
  assert.equal(msgs.length, 1);
  assert.match(msgs[0]!.text, /^X-Greylist: delayed \d+ seconds by postgrey-[\d.]+ at /m);
});

test('seed 004: unknown recipient domains are refused before postgrey is asked', async () => {
  const c = await SmtpDialog.connect(ports.grey, '127.0.0.1', '127.0.0.2');
  await c.reply();
  await c.cmd('EHLO mail.clean.test');
  await c.cmd('MAIL FROM:<sender@good.test>');
  assert.equal((await c.cmd('RCPT TO:<x@nowhere.test>')).raw, '450 4.1.2 <x@nowhere.test>: Recipient address rejected: Domain not found');
  c.close();
});

test('the request carries every attribute Postfix sends; one connection is reused; instance is stable per message', async () => {
  requests.length = 0;
  const before = connections;
  const c = await SmtpDialog.connect(ports.rec, '127.0.0.1', '127.0.0.2');
  await c.reply();
  await c.cmd('EHLO mail.clean.test');
  assert.equal((await c.cmd('MAIL FROM:<sender@good.test> SIZE=321')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<user@vhost.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<block@vhost.test>')).raw, '554 5.7.1 <block@vhost.test>: Recipient address rejected: go away, says the policy server');
  assert.equal((await c.cmd('DATA')).code, 354);
  assert.equal((await c.cmd('Subject: policy\r\n\r\nhello\r\n.')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<sender@good.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<user@vhost.test>')).code, 250);
  await c.cmd('QUIT');
  c.close();
  const [r1, r2, eod, r3] = requests.filter((r) => r.get('protocol_state') !== 'DATA');
  assert.ok(r1 && r2 && eod && r3, `4 requests, got ${requests.length}`);
  const local = r1.get('server_port');
  assert.deepEqual([...r1.keys()], ['request', 'protocol_state', 'protocol_name', 'helo_name', 'queue_id', 'sender', 'recipient', 'recipient_count', 'client_address',
    'client_name', 'reverse_client_name', 'instance', 'sasl_method', 'sasl_username', 'sasl_sender', 'size', 'ccert_subject', 'ccert_issuer', 'ccert_fingerprint',
    'ccert_pubkey_fingerprint', 'encryption_protocol', 'encryption_cipher', 'encryption_keysize', 'etrn_domain', 'stress', 'client_port', 'policy_context',
    'server_address', 'server_port', 'compatibility_level', 'mail_version']);
  assert.deepEqual(Object.fromEntries([...r1].filter(([k]) => !['instance', 'client_port', 'mail_version'].includes(k))), {
    request: 'smtpd_access_policy', protocol_state: 'RCPT', protocol_name: 'ESMTP', helo_name: 'mail.clean.test', queue_id: '', sender: 'sender@good.test',
    recipient: 'user@vhost.test', recipient_count: '0', client_address: '127.0.0.2', client_name: 'mail.clean.test', reverse_client_name: 'mail.clean.test',
    sasl_method: '', sasl_username: '', sasl_sender: '', size: '321', ccert_subject: '', ccert_issuer: '', ccert_fingerprint: '', ccert_pubkey_fingerprint: '',
    encryption_protocol: '', encryption_cipher: '', encryption_keysize: '0', etrn_domain: '', stress: '', policy_context: 'seed-004',
    server_address: '127.0.0.1', server_port: String(ports.rec), compatibility_level: '3.6',
  });
  assert.equal(local, String(ports.rec));
  assert.match(r1.get('client_port')!, /^\d+$/);
  assert.match(r1.get('mail_version')!, /^\d+\.\d+\.\d+/);
  // The second recipient: same instance, queue ID now known.
  assert.equal(r2.get('instance'), r1.get('instance'));
  assert.match(r2.get('queue_id')!, /^[0-9A-F]{6,}$/);
  assert.deepEqual([eod.get('protocol_state'), eod.get('recipient'), eod.get('recipient_count'), eod.get('instance')], ['END-OF-MESSAGE', 'user@vhost.test', '1', r1.get('instance')]);
  // A new transaction: a new instance.
  assert.notEqual(r3.get('instance'), r1.get('instance'));
  assert.equal(connections - before, 1, 'one connection for all requests of the session');
  // The PREPEND answered at RCPT reached the message.
  await rec.waitForLog(/status=sent/);
  const msgs = maildirMessages(join(rec.dir, 'mail', 'vhost.test/user'));
  assert.match(msgs[0]!.text, /^X-Policy-Checked: yes$/m);
});

test('a server that answers garbage or too slowly: smtpd_policy_service_default_action (451 4.3.5) and a warning naming it', async () => {
  const c = await SmtpDialog.connect(ports.rec, '127.0.0.1', '127.0.0.2');
  await c.reply();
  await c.cmd('EHLO mail.clean.test');
  await c.cmd('MAIL FROM:<sender@good.test>');
  // Postfix uses the default action as an access table result: "<rcpt>: Recipient address rejected: …".
  assert.equal((await c.cmd('RCPT TO:<garbage@vhost.test>')).raw, '451 4.3.5 <garbage@vhost.test>: Recipient address rejected: Server configuration problem');
  assert.equal((await c.cmd('RCPT TO:<slow@vhost.test>', 8000)).raw, '451 4.3.5 <slow@vhost.test>: Recipient address rejected: Server configuration problem');
  assert.equal((await c.cmd('RCPT TO:<user@vhost.test>')).code, 250);
  c.close();
  await rec.waitForLog(new RegExp(`warning: problem talking to server 127\\.0\\.0\\.1:${policyPort}: malformed answer: "this is not a policy answer`));
  await rec.waitForLog(new RegExp(`warning: problem talking to server 127\\.0\\.0\\.1:${policyPort}: read timeout`));
});

test('postgrey stopped: the default action, never an accept', async () => {
  const gone = new Promise((r) => postgrey!.once('exit', r));
  postgrey!.kill('SIGTERM');
  await gone;
  const c = await SmtpDialog.connect(ports.grey, '127.0.0.1', '127.0.0.2');
  await c.reply();
  await c.cmd('EHLO mail.clean.test');
  await c.cmd('MAIL FROM:<other@good.test>');
  assert.equal((await c.cmd('RCPT TO:<user@vhost.test>', 10_000)).raw, '451 4.3.5 <user@vhost.test>: Recipient address rejected: Server configuration problem');
  c.close();
  await grey.waitForLog(new RegExp(`warning: problem talking to server 127\\.0\\.0\\.1:${postgreyPort}: (Connection refused|connection closed by server|connection lost)`));
});
