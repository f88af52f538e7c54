/**
 * Routing through master.cf transports, end to end: transport_maps sends one domain to a
 * discard service, one to error (with the admin's text), one to a service master.cf does
 * not have (deferred, never dropped), and one to the built-in retry transport; a -o override
 * on the master.cf line (syslog_name) shows the service's own parameters are used. The
 * bounce comes back to the sender's Maildir as an RFC 3464 report that Python's email
 * package parses.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, run, BIN, maildirMessages, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';

let srv: Postern;
let port: number;
let mail: string;

before(async () => {
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-transports-'));
  mail = join(dir, 'mail');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_mailbox_base: mail,
      transport_maps: 'texthash:$config_directory/transport',
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    }),
    masterCf: smtpService(port) + [
      'blackhole unix - - n - - discard',
      '  -o syslog_name=postfix/blackhole',
      'refuse   unix - - n - - error',
    ].join('\n') + '\n',
    files: {
      vmailbox: 'alice@example.test example.test/alice/\n',
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
  const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 'alice@example.test', '--to', to, '--header', 'Subject: to be returned']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return /queued as ([0-9A-F]+)/.exec(r.stdout)![1]!;
}

test('discard: the master.cf service (with its -o syslog_name) reports the message delivered with the next hop as reason', async () => {
  const id = await send('x@drop.example');
  await srv.waitForLog(new RegExp(`postfix/blackhole/discard\\[\\d+\\]: ${id}: to=<x@drop\\.example>, relay=none, .*dsn=2\\.0\\.0, status=sent \\(dropped on purpose\\)`));
  await srv.waitForLog(new RegExp(`${id}: removed`));
});

test('error: bounced with the admin\'s DSN code and text; the sender gets an RFC 3464 report', async () => {
  const id = await send('x@gone.example');
  await srv.waitForLog(new RegExp(`postfix/error\\[\\d+\\]: ${id}: to=<x@gone\\.example>, relay=none, .*dsn=5\\.1\\.2, status=bounced \\(this domain is gone\\)`));
  const notice = await srv.waitForLog(new RegExp(`postfix/bounce\\[\\d+\\]: ${id}: sender non-delivery notification: ([0-9A-F]+)`));
  await srv.waitForLog(new RegExp(`${notice[1]}: to=<alice@example\\.test>, relay=virtual, .*status=sent`));
  const box = join(mail, 'example.test/alice');
  const files = maildirMessages(box).filter((m) => m.text.includes(`X-Postfix-Queue-ID: ${id}`));
  assert.equal(files.length, 1, srv.log());
  const py = `
import sys, email
from email import policy
m = email.message_from_string(open(sys.argv[1]).read(), policy=policy.compat32)
print(m.get_content_type(), m.get_param('report-type'))
print(m['From'], '|', m['To'], '|', m['Subject'], '|', m['Auto-Submitted'])
parts = m.get_payload()
print([p.get_content_type() for p in parts])
blocks = parts[1].get_payload()
print(blocks[0]['Reporting-MTA'], '|', blocks[0]['X-Postfix-Sender'])
print(blocks[1]['Final-Recipient'], '|', blocks[1]['Action'], '|', blocks[1]['Status'], '|', blocks[1]['Diagnostic-Code'])
print(parts[2].get_payload()[0]['Subject'])
`;
  const file = join(box, 'new', maildirMessages(box).find((m) => m.text.includes(`X-Postfix-Queue-ID: ${id}`))!.name);
  const r = await run('python3', ['-c', py, file]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'multipart/report delivery-status');
  assert.match(lines[1]!, /^Mail Delivery System <MAILER-DAEMON@mx\.test> \| alice@example\.test \| Undelivered Mail Returned to Sender \| auto-replied$/);
  assert.equal(lines[2], "['text/plain', 'message/delivery-status', 'message/rfc822']");
  assert.equal(lines[3], 'dns; mx.test | rfc822; alice@example.test');
  assert.equal(lines[4], 'rfc822; x@gone.example | failed | 5.1.2 | X-Postfix; this domain is gone');
  assert.equal(lines[5], 'to be returned');
  assert.match(srv.log(), /from=<>, size=\d+, nrcpt=1 \(queue active\)/);
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
