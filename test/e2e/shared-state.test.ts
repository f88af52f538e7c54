/**
 * Two Postern servers sharing one real redis-server (postern_state_backend = redis://…),
 * as two MX hosts of one domain (B8): a triplet greylisted on the first passes on the second
 * after the delay, a ban made by failures on one refuses the client on the other, and the
 * message rate counts across both. Then Redis is stopped mid-test: mail keeps flowing
 * (greylisting accepts), bans fall back to each host's memory, one warning is logged, no
 * crash — and the servers notice when Redis is back.
 * The hosts listen on 127.0.0.1:P and 127.0.0.2:P (one port, two addresses, like two MX).
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { startRedis, type Redis } from '../support/redis.js';
import { postern } from '../support/cli.js';

let redis: Redis;
let a: Postern;
let b: Postern;
let port: number;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const HOST = { a: '127.0.0.1', b: '127.0.0.2' } as const;

async function startHost(name: 'a' | 'b'): Promise<Postern> {
  const dir = mkdtempSync(join(tmpdir(), `postern-mx-${name}-`));
  writeFileSync(join(dir, 'users'), 'alice@example.test:{PLAIN}alice-pw\n');
  const srv = await startPostern({
    dir,
    ports: [],
    mainCf: baseMainCf(dir, {
      myhostname: `mx-${name}.test`,
      mynetworks: '127.0.0.1/32', postern_ban_exceptions: '$mynetworks',
      postern_state_backend: redis.url,
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'inline:{ alice@example.test=example.test/alice/ }', virtual_mailbox_base: join(dir, 'mail'),
      smtpd_recipient_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, check_greylist',
      postern_greylist_delay: '2s',
      postern_ban_maxretry: '2', postern_ban_findtime: '1d', postern_ban_bantime: '7d',
      smtpd_client_message_rate_limit: '3',
      smtpd_sasl_auth_enable: 'yes', smtpd_sasl_type: 'passwd-file', smtpd_sasl_path: join(dir, 'users'), postern_auth_failure_delay: '0s',
    }),
    masterCf: `${HOST[name]}:${port} inet n - n - - smtpd\n`,
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      (await SmtpDialog.connect(port, HOST[name])).close();
      return srv;
    } catch {
      if (Date.now() > deadline) throw new Error(`host ${name} did not listen`);
      await sleep(50);
    }
  }
}

before(async () => {
  redis = await startRedis();
  port = await freePort();
  a = await startHost('a');
  b = await startHost('b');
});

after(async () => {
  await a?.stop();
  await b?.stop();
  await redis?.remove();
  a?.cleanup();
  b?.cleanup();
});

async function open(host: 'a' | 'b', from: string): Promise<{ c: SmtpDialog; greeting: string }> {
  const c = await SmtpDialog.connect(port, HOST[host], from);
  return { c, greeting: (await c.reply()).raw };
}

async function send(host: 'a' | 'b', from: string, to: string, data = false): Promise<string> {
  const { c, greeting } = await open(host, from);
  assert.match(greeting, /^220 /);
  await c.cmd('EHLO sender.test');
  const m = await c.cmd('MAIL FROM:<list@remote.example>');
  if (m.code !== 250) {
    c.close();
    return m.raw;
  }
  let r = (await c.cmd(`RCPT TO:<${to}>`)).raw;
  if (data && r.startsWith('250')) {
    assert.equal((await c.cmd('DATA')).code, 354);
    r = (await c.cmd('Subject: t\r\n\r\nbody\r\n.')).raw;
  }
  await c.cmd('QUIT');
  c.close();
  return r;
}

test('a triplet greylisted on one host passes on the other after the delay', async () => {
  // Four addresses of one /24 (a sender's pool): one triplet, each address with its own message rate.
  assert.match(await send('a', '127.0.50.1', 'alice@example.test'), /^450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted, try again in 2 seconds$/);
  assert.match(await send('b', '127.0.50.2', 'alice@example.test'), /^450 4\.2\.0 .*try again in [12] seconds$/, 'B knows the first attempt');
  await sleep(2100);
  assert.equal(await send('b', '127.0.50.3', 'alice@example.test'), '250 2.1.5 Ok');
  assert.equal(await send('a', '127.0.50.4', 'alice@example.test'), '250 2.1.5 Ok');
});

test('a ban made by failures on one host refuses the client on the other', async () => {
  const { c } = await open('a', '127.0.0.41');
  await c.cmd('EHLO guesser.test');
  assert.match((await c.cmd(`AUTH PLAIN ${b64('\0alice@example.test\0guess-1')}`)).raw, /^535 /);
  assert.match((await c.cmd(`AUTH PLAIN ${b64('\0alice@example.test\0guess-2')}`)).raw, /^421 4\.7\.0 .*banned until/);
  const { greeting } = await open('b', '127.0.0.41');
  assert.match(greeting, /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.41\] blocked: banned until .* UTC \(2 failed AUTH attempts within 1d\)$/);
  const st = await postern(b.configDir, ['bans']);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`^Status for the built-in ban jail \\(state: redis://127\\.0\\.0\\.1:${redis.port}/0\\)\\n`));
  assert.match(st.stdout, /Banned IP list:\t127\.0\.0\.41\n/);
  // Unbanned from host B's command line: host A lets it in at once.
  assert.equal((await postern(b.configDir, ['bans', 'unban', '127.0.0.41'])).code, 0);
  assert.match((await open('a', '127.0.0.41')).greeting, /^220 /);
});

test('the message rate limit counts across both hosts', async () => {
  const mails = async (host: 'a' | 'b'): Promise<string> => {
    const { c } = await open(host, '127.0.0.42');
    await c.cmd('EHLO bulk.test');
    const r = (await c.cmd('MAIL FROM:<bulk@remote.example>')).raw;
    c.close();
    return r;
  };
  assert.equal(await mails('a'), '250 2.1.0 Ok');
  assert.equal(await mails('b'), '250 2.1.0 Ok');
  assert.equal(await mails('a'), '250 2.1.0 Ok');
  assert.equal(await mails('b'), '450 4.7.1 Error: too much mail from 127.0.0.42');
  await b.waitForLog(/warning: Message delivery request rate limit exceeded: 4 from unknown\[127\.0\.0\.42\] for service 127\.0\.0\.2:\d+\n/);
});

test('Redis stopped: mail keeps flowing, bans use local memory, one warning, no crash; Redis back is noticed', async () => {
  await redis.stop();
  for (let i = 0; i < 3; i++) assert.match(await send('a', '127.0.0.43', 'alice@example.test', true), /^250 2\.0\.0 Ok: queued as /, 'greylisting fails open, the message is accepted');
  await a.waitForLog(new RegExp(`postfix/state\\[\\d+\\]: warning: state store redis://127\\.0\\.0\\.1:${redis.port}/0 unavailable \\(.*\\): bans and rate limits use this host's memory, greylisting accepts mail\\n`));
  assert.equal(a.log().match(/warning: state store redis:.* unavailable/g)?.length, 1, 'once per minute, not per event');
  // A ban still works, in host A's memory.
  const { c } = await open('a', '127.0.0.44');
  await c.cmd('EHLO guesser.test');
  await c.cmd(`AUTH PLAIN ${b64('\0alice@example.test\0guess-1')}`);
  assert.match((await c.cmd(`AUTH PLAIN ${b64('\0alice@example.test\0guess-2')}`)).raw, /^421 4\.7\.0 .*banned until/);
  assert.match((await open('a', '127.0.0.44')).greeting, /^554 5\.7\.1 /);
  assert.match((await open('b', '127.0.0.44')).greeting, /^220 /, 'host B never heard of it');
  assert.equal(a.proc.exitCode, null);
  assert.equal(b.proc.exitCode, null);
  const st = await postern(a.configDir, ['bans']);
  assert.equal(st.code, 1);
  assert.match(st.stderr, /postern: bans: redis:\/\/127\.0\.0\.1:\d+\/0: /);

  await redis.start();
  const deadline = Date.now() + 15_000;
  while (!/postfix\/state\[\d+\]: state store redis:.* is available again/.test(a.log()) && Date.now() < deadline) {
    await send('a', '127.0.0.45', 'alice@example.test');
    await sleep(200);
  }
  assert.match(a.log(), /postfix\/state\[\d+\]: state store redis:\/\/127\.0\.0\.1:\d+\/0 is available again\n/);
  assert.match(await send('a', '127.0.0.46', 'alice@example.test'), /^450 4\.2\.0 /, 'greylisting again');
});
