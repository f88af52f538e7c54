/**
 * Routing through master.cf transports, end to end: transport_maps sends one domain to a
 * discard service, one to error (with the admin's text), one to a service master.cf does
 * not have (deferred, never dropped), and one to the built-in retry transport; a -o override
 * on the master.cf line (syslog_name) shows the service's own parameters are used.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, run, BIN, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';

let srv: Postern;
let port: number;

before(async () => {
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-transports-'));
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      transport_maps: 'texthash:$config_directory/transport',
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    }),
    masterCf: smtpService(port) + [
      'blackhole unix - - n - - discard',
      '  -o syslog_name=postfix/blackhole',
      'refuse   unix - - n - - error',
    ].join('\n') + '\n',
    files: {
      transport: [
        'drop.example    blackhole:dropped on purpose',
        'gone.example    refuse:5.1.2 this domain is gone',
        'later.example   retry:4.3.2 maintenance window',
        'typo.example    nosuchservice:',
      ].join('\n') + '\n',
    },
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

async function send(to: string): Promise<string> {
  const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 'alice@mx.test', '--to', to]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return /queued as ([0-9A-F]+)/.exec(r.stdout)![1]!;
}

test('discard: the master.cf service (with its -o syslog_name) reports the message delivered with the next hop as reason', async () => {
  const id = await send('x@drop.example');
  await srv.waitForLog(new RegExp(`postfix/blackhole/discard\\[\\d+\\]: ${id}: to=<x@drop\\.example>, relay=none, .*dsn=2\\.0\\.0, status=sent \\(dropped on purpose\\)`));
  await srv.waitForLog(new RegExp(`${id}: removed`));
});

test('error: bounced with the admin\'s DSN code and text', async () => {
  const id = await send('x@gone.example');
  await srv.waitForLog(new RegExp(`postfix/error\\[\\d+\\]: ${id}: to=<x@gone\\.example>, relay=none, .*dsn=5\\.1\\.2, status=bounced \\(this domain is gone\\)`));
});

test('retry and an unknown transport: deferred and kept in the queue, never dropped', async () => {
  const later = await send('x@later.example');
  const typo = await send('x@typo.example');
  await srv.waitForLog(new RegExp(`${later}: to=<x@later\\.example>, relay=none, .*dsn=4\\.3\\.2, status=deferred \\(maintenance window\\)`));
  await srv.waitForLog(new RegExp(`${typo}: to=<x@typo\\.example>, relay=none, .*dsn=4\\.3\\.0, status=deferred \\(mail transport unavailable: no master.cf service "nosuchservice"\\)`));
  const q = await run(process.execPath, [BIN, '-c', srv.configDir, 'queue']);
  assert.match(q.stdout, new RegExp(`^${later}\\s`, 'm'));
  assert.match(q.stdout, new RegExp(`^${typo}\\s`, 'm'));
});
