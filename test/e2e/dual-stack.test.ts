/**
 * IPv4 clients on an IPv6 socket: listeners bound to [::ffff:127.0.0.1] (an AF_INET6 socket
 * that takes IPv4 connections, as a dual-stack [::] listener does, but on loopback only), so
 * every IPv4 client reaches Postern as ::ffff:127.0.0.x. Postern must log it as 127.0.0.x, as
 * Postfix does, and trust it through mynetworks = 127.0.0.0/8 and through seed 004's
 * [::ffff:127.0.0.0]/104 alone; a cidr client table matches it in either notation. Driven by
 * swaks over IPv4; a listener with mynetworks = [::1]/128 is the control that refuses.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, run, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';

let srv: Postern;
const ports = { v4net: 0, mappedNet: 0, v6only: 0, plainV4: 0 };

before(async () => {
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-dualstack-'));
  const svc = (host: string, port: number, opts: Record<string, string>): string =>
    `${host}:${port} inet n - n - - smtpd\n` + Object.entries(opts).map(([k, v]) => `  -o ${k}=${v}\n`).join('');
  const relay = { smtpd_relay_restrictions: 'permit_mynetworks,reject_unauth_destination' };
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, { mynetworks: '192.0.2.0/24', smtpd_client_restrictions: 'check_client_access cidr:$config_directory/clients.cidr' }),
    masterCf: [
      svc('[::ffff:127.0.0.1]', ports.v4net, { ...relay, mynetworks: '127.0.0.0/8', syslog_name: 'postfix/v4net' }),
      svc('[::ffff:127.0.0.1]', ports.mappedNet, { ...relay, mynetworks: '[::ffff:127.0.0.0]/104', syslog_name: 'postfix/mapped' }),
      svc('[::ffff:127.0.0.1]', ports.v6only, { ...relay, mynetworks: '[::1]/128', syslog_name: 'postfix/v6only' }),
      svc('127.0.0.1', ports.plainV4, { ...relay, mynetworks: '[::ffff:127.0.0.0]/104', syslog_name: 'postfix/plain' }),
    ].join(''),
    // Two clients listed, one per notation: each must match the other notation's client.
    files: { 'clients.cidr': '[::ffff:127.0.0.2] REJECT listed as mapped\n127.0.0.3/32 REJECT listed as IPv4\n' },
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

const swaks = (port: number, extra: string[] = []) =>
  run('swaks', ['--server', '127.0.0.1', '--port', String(port), '--helo', 'client.example', '--from', 'someone@example.org',
    '--to', 'friend@elsewhere.example', '--quit-after', 'RCPT', ...extra]);

test('the listener socket is IPv6: an IPv4 client arrives mapped, and is logged as 127.0.0.1', async () => {
  const r = await swaks(ports.v4net);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await srv.waitForLog(/postfix\/v4net\/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.1\]/);
  assert.match(srv.log(), /postfix\/v4net\/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.1\]\n/);
  assert.doesNotMatch(srv.log(), /::ffff:/i);
});

test('mynetworks = 127.0.0.0/8 trusts the mapped IPv4 client: relaying allowed by permit_mynetworks', async () => {
  const r = await swaks(ports.v4net);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, / -> RCPT TO:<friend@elsewhere\.example>\n<- {2}250 2\.1\.5 Ok/);
});

test('mynetworks = [::ffff:127.0.0.0]/104 alone (seed 004) trusts the same client, on the dual-stack and on a plain IPv4 listener', async () => {
  for (const port of [ports.mappedNet, ports.plainV4]) {
    const r = await swaks(port);
    assert.equal(r.code, 0, `port ${port}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, / -> RCPT TO:<friend@elsewhere\.example>\n<- {2}250 2\.1\.5 Ok/);
  }
});

test('control: mynetworks = [::1]/128 does not trust the IPv4 client, which gets Postfix\'s relay refusal', async () => {
  const r = await swaks(ports.v6only);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /<\*\* 554 5\.7\.1 <friend@elsewhere\.example>: Relay access denied/);
  await srv.waitForLog(/postfix\/v6only\/smtpd\[\d+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <friend@elsewhere\.example>: Relay access denied;/);
});

test('check_client_access cidr: a mapped entry matches the IPv4 client and an IPv4 entry matches the mapped client', async () => {
  const two = await swaks(ports.v4net, ['--local-interface', '127.0.0.2']);
  assert.match(two.stdout, /<\*\* 554 5\.7\.1 <unknown\[127\.0\.0\.2\]>: Client host rejected: listed as mapped/, two.stdout + two.stderr);
  const three = await swaks(ports.v4net, ['--local-interface', '127.0.0.3']);
  assert.match(three.stdout, /<\*\* 554 5\.7\.1 <unknown\[127\.0\.0\.3\]>: Client host rejected: listed as IPv4/, three.stdout + three.stderr);
  // And on the plain IPv4 listener the mapped entry still matches.
  const plain = await swaks(ports.plainV4, ['--local-interface', '127.0.0.2']);
  assert.match(plain.stdout, /<\*\* 554 5\.7\.1 <unknown\[127\.0\.0\.2\]>: Client host rejected: listed as mapped/, plain.stdout + plain.stderr);
  assert.doesNotMatch(srv.log(), /::ffff:/i);
});
