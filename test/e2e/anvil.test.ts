/**
 * anvil's client limits on the real server, each exceeded with Postfix's exact reply and
 * warning, while 127.0.0.1 (in mynetworks, hence in smtpd_client_event_limit_exceptions)
 * is never limited. Clients come from other 127.0.0.0/8 addresses (bound on loopback).
 * Then anvil's "statistics: max …" lines at shutdown, and IPv4 prefix aggregation.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { startPostern, baseMainCf, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';

let srv: Postern;
let dir: string;
const ports = { count: 0, rate: 0, msg: 0, rcpt: 0, auth: 0, tls: 0, agg: 0, smtps: 0 };
const svc = (p: number): string => `127.0.0.1:${p}`;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-anvil-'));
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  writeFileSync(join(dir, 'users'), 'alice@mx.test:{PLAIN}right-password\n');
  const o = (kv: Record<string, string>): string => Object.entries(kv).map(([k, v]) => `  -o ${k}=${v}`).join('\n');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      mynetworks: '127.0.0.1/32',
      smtpd_tls_cert_file: join(dir, 'cert.pem'), smtpd_tls_key_file: join(dir, 'key.pem'), postern_tls_self_signed: 'yes',
      smtpd_sasl_type: 'passwd-file', smtpd_sasl_path: join(dir, 'users'), postern_auth_failure_delay: '0s',
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination', smtpd_reject_unlisted_recipient: 'no',
    }),
    masterCf: [
      `${svc(ports.count)} inet n - n - - smtpd`, o({ smtpd_client_connection_count_limit: '2' }),
      `${svc(ports.rate)} inet n - n - - smtpd`, o({ smtpd_client_connection_rate_limit: '3' }),
      `${svc(ports.msg)} inet n - n - - smtpd`, o({ smtpd_client_message_rate_limit: '2' }),
      `${svc(ports.rcpt)} inet n - n - - smtpd`, o({ smtpd_client_recipient_rate_limit: '2' }),
      `${svc(ports.auth)} inet n - n - - smtpd`, o({ smtpd_client_auth_rate_limit: '1', smtpd_sasl_auth_enable: 'yes' }),
      `${svc(ports.tls)} inet n - n - - smtpd`, o({ smtpd_client_new_tls_session_rate_limit: '1', smtpd_tls_security_level: 'may' }),
      `${svc(ports.agg)} inet n - n - - smtpd`, o({ smtpd_client_connection_rate_limit: '2', smtpd_client_ipv4_prefix_length: '24' }),
      `${svc(ports.smtps)} inet n - n - - smtpd`, o({ smtpd_client_new_tls_session_rate_limit: '1', smtpd_tls_wrappermode: 'yes', smtpd_tls_security_level: 'encrypt' }),
    ].join('\n') + '\n',
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

async function greeted(port: number, from: string): Promise<SmtpDialog> {
  const c = await SmtpDialog.connect(port, '127.0.0.1', from);
  const r = await c.reply();
  assert.equal(r.code, 220, c.transcript.join('\n'));
  return c;
}

test('smtpd_client_connection_count_limit: the third simultaneous connection gets 421 4.7.0, the exception none', async () => {
  const open = [await greeted(ports.count, '127.0.0.2'), await greeted(ports.count, '127.0.0.2')];
  const third = await SmtpDialog.connect(ports.count, '127.0.0.1', '127.0.0.2');
  const r = await third.reply();
  assert.equal(r.raw, '421 4.7.0 mx.test Error: too many connections from 127.0.0.2');
  await third.expectClosed();
  await srv.waitForLog(new RegExp(`postfix/smtpd\\[\\d+\\]: warning: Connection concurrency limit exceeded: 3 from unknown\\[127\\.0\\.0\\.2\\] for service ${svc(ports.count).replace(/\./g, '\\.')}\\n`));
  // 127.0.0.1 is in mynetworks: four at once are fine.
  const mine = [];
  for (let i = 0; i < 4; i++) mine.push(await greeted(ports.count, '127.0.0.1'));
  // Closing one of the two frees a slot.
  open[0]!.close();
  await srv.waitForLog(/(?:disconnect from unknown\[127\.0\.0\.2\] commands=0\n[^]*){2}/); // the refused one and the closed one
  const again = await greeted(ports.count, '127.0.0.2');
  for (const c of [...open, ...mine, again]) c.close();
});

test('smtpd_client_connection_rate_limit: the fourth connection in the window is refused, and the count goes on', async () => {
  const disconnects = (n: number): RegExp => new RegExp(`(?:disconnect from unknown\\[127\\.0\\.0\\.3\\] commands=0\\n[^]*){${n}}`);
  for (let i = 0; i < 3; i++) (await greeted(ports.rate, '127.0.0.3')).close();
  await srv.waitForLog(disconnects(3));
  for (const n of [4, 5]) {
    const c = await SmtpDialog.connect(ports.rate, '127.0.0.1', '127.0.0.3');
    assert.equal((await c.reply()).raw, '421 4.7.0 mx.test Error: too many connections from 127.0.0.3');
    await c.expectClosed();
    await srv.waitForLog(disconnects(n));
  }
  // Postfix's order for a refused client: connect, the warning, disconnect (no session).
  const mine = srv.log().split('\n').filter((l) => l.includes('[127.0.0.3]')).map((l) => l.replace(/^.*?\]: /, ''));
  const first = mine.findIndex((l) => l.startsWith('warning: '));
  const service = svc(ports.rate);
  assert.deepEqual(mine.slice(first - 1), [
    'connect from unknown[127.0.0.3]', `warning: Connection rate limit exceeded: 4 from unknown[127.0.0.3] for service ${service}`, 'disconnect from unknown[127.0.0.3] commands=0',
    'connect from unknown[127.0.0.3]', `warning: Connection rate limit exceeded: 5 from unknown[127.0.0.3] for service ${service}`, 'disconnect from unknown[127.0.0.3] commands=0',
  ]);
  for (let i = 0; i < 5; i++) (await greeted(ports.rate, '127.0.0.1')).close();
});

test('smtpd_client_message_rate_limit: the third MAIL FROM gets 450 4.7.1 Error: too much mail from ADDR', async () => {
  const c = await greeted(ports.msg, '127.0.0.4');
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  for (let i = 0; i < 2; i++) {
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 250);
    assert.equal((await c.cmd('RSET')).code, 250);
  }
  assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).raw, '450 4.7.1 Error: too much mail from 127.0.0.4');
  await srv.waitForLog(new RegExp(`warning: Message delivery request rate limit exceeded: 3 from unknown\\[127\\.0\\.0\\.4\\] for service ${svc(ports.msg).replace(/\./g, '\\.')}\\n`));
  c.close();
  const mine = await greeted(ports.msg, '127.0.0.1');
  await mine.cmd('EHLO me.test');
  for (let i = 0; i < 4; i++) {
    assert.equal((await mine.cmd('MAIL FROM:<a@remote.test>')).code, 250);
    await mine.cmd('RSET');
  }
  mine.close();
});

test('smtpd_client_recipient_rate_limit: the third RCPT gets 450 4.7.1 Error: too many recipients from ADDR', async () => {
  const c = await greeted(ports.rcpt, '127.0.0.5');
  await c.cmd('EHLO client.test');
  await c.cmd('MAIL FROM:<a@remote.test>');
  assert.equal((await c.cmd('RCPT TO:<x@mx.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<y@mx.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<z@mx.test>')).raw, '450 4.7.1 Error: too many recipients from 127.0.0.5');
  await srv.waitForLog(/warning: Recipient address rate limit exceeded: 3 from unknown\[127\.0\.0\.5\] for service /);
  c.close();
});

test('smtpd_client_auth_rate_limit: the second AUTH gets 450 4.7.1 Error: too many AUTH commands from ADDR', async () => {
  const c = await greeted(ports.auth, '127.0.0.6');
  await c.cmd('EHLO client.test');
  assert.equal((await c.cmd(`AUTH PLAIN ${b64('\0alice@mx.test\0wrong')}`)).code, 535);
  assert.equal((await c.cmd(`AUTH PLAIN ${b64('\0alice@mx.test\0right-password')}`)).raw, '450 4.7.1 Error: too many AUTH commands from 127.0.0.6');
  await srv.waitForLog(/warning: AUTH command rate limit exceeded: 2 from unknown\[127\.0\.0\.6\] for service /);
  c.close();
});

test('smtpd_client_new_tls_session_rate_limit: the second STARTTLS gets 421 4.7.0 …too many new TLS sessions; implicit TLS is closed', async () => {
  const first = await greeted(ports.tls, '127.0.0.7');
  await first.cmd('EHLO client.test');
  assert.equal((await first.cmd('STARTTLS')).code, 220);
  first.close();
  const second = await greeted(ports.tls, '127.0.0.7');
  await second.cmd('EHLO client.test');
  assert.equal((await second.cmd('STARTTLS')).raw, '421 4.7.0 mx.test Error: too many new TLS sessions from 127.0.0.7');
  await second.expectClosed();
  await srv.waitForLog(/warning: New TLS session rate limit exceeded: 2 from unknown\[127\.0\.0\.7\] for service /);

  const handshake = (): Promise<string> => new Promise((resolve) => {
    const raw = netConnect({ port: ports.smtps, host: '127.0.0.1', localAddress: '127.0.0.8' });
    raw.on('error', () => undefined);
    const s = tlsConnect({ socket: raw, rejectUnauthorized: false });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', () => resolve(`error:${got}`));
    s.on('close', () => resolve(got));
    setTimeout(() => s.end(), 1000);
  });
  assert.match(await handshake(), /^220 /);
  assert.doesNotMatch(await handshake(), /220/, 'over the limit: no greeting');
  await srv.waitForLog(/warning: New TLS session rate limit exceeded: 2 from unknown\[127\.0\.0\.8\] for service /);
});

test('smtpd_client_ipv4_prefix_length = 24: clients of one /24 share the connection rate', async () => {
  (await greeted(ports.agg, '127.0.9.1')).close();
  (await greeted(ports.agg, '127.0.9.2')).close();
  const c = await SmtpDialog.connect(ports.agg, '127.0.0.1', '127.0.9.3');
  assert.equal((await c.reply()).raw, '421 4.7.0 mx.test Error: too many connections from 127.0.9.3');
  (await greeted(ports.agg, '127.0.10.1')).close(); // another /24
});

test('anvil logs its statistics lines at shutdown', async () => {
  await srv.stop();
  const log = srv.log();
  assert.match(log, /postfix\/anvil\[\d+\]: statistics: max connection rate \d+\/60s for \(127\.0\.0\.1:\d+:127\.0\.\d+\.\d+\) at [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d\n/);
  assert.match(log, /postfix\/anvil\[\d+\]: statistics: max connection count [3-9] for \(127\.0\.0\.1:\d+:127\.0\.0\.\d+\) at /);
  assert.match(log, /postfix\/anvil\[\d+\]: statistics: max message rate 3\/60s for \(127\.0\.0\.1:\d+:127\.0\.0\.4\) at /);
  assert.match(log, /postfix\/anvil\[\d+\]: statistics: max recipient rate 3\/60s for /);
  assert.match(log, /postfix\/anvil\[\d+\]: statistics: max newtls rate 2\/60s for /);
  assert.match(log, /postfix\/anvil\[\d+\]: statistics: max auth rate 2\/60s for /);
  assert.match(log, /postfix\/anvil\[\d+\]: statistics: max cache size \d+ at /);
});
