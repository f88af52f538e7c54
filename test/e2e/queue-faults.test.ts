/**
 * A failing queue write answers 451 4.3.0 (I/O error) or 452 4.3.1 (disk full), is logged,
 * loses nothing accepted before, and the server recovers when the disk does. Faults are
 * injected through the queue's one durable-write helper (POSTERN_TEST_FAULTS=1 and a
 * "fault" file in queue_directory).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';

async function send(port: number, subject: string): Promise<string> {
  const c = await SmtpDialog.connect(port);
  await c.reply();
  await c.cmd('EHLO client.test');
  await c.cmd('MAIL FROM:<s@remote.example>');
  await c.cmd('RCPT TO:<alice@example.test>');
  await c.cmd('DATA');
  c.sendRaw(`Subject: ${subject}\r\n\r\nbody\r\n.\r\n`);
  const r = await c.reply();
  c.close();
  return r.raw;
}

test('queue write failures give 451/452, lose nothing already accepted, and recover', async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-fault-'));
  const mail = join(dir, 'mail');
  const srv = await startPostern({
    dir,
    env: { POSTERN_TEST_FAULTS: '1' },
    mainCf: baseMainCf(dir, { virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail }),
    masterCf: smtpService(port),
    files: { vmailbox: 'alice@example.test example.test/alice/\n' },
  });
  const fault = join(dir, 'queue', 'fault');
  try {
    assert.match(await send(port, 'before'), /^250 2\.0\.0 Ok: queued as/);
    writeFileSync(fault, 'eio');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(await send(port, 'io-error'), '451 4.3.0 Error: queue file write error');
    writeFileSync(fault, 'enospc');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(await send(port, 'disk-full'), '452 4.3.1 Insufficient system storage');
    rmSync(fault);
    await new Promise((r) => setTimeout(r, 150));
    assert.match(await send(port, 'after'), /^250 2\.0\.0 Ok: queued as/);
    await srv.waitForLog(/warning: [0-9A-F]+: queue file write error: injected fault: I\/O error/);
    await srv.waitForLog(/warning: [0-9A-F]+: queue file write error: injected fault: no space left on device/);
    const deadline = Date.now() + 10_000;
    let subjects: string[] = [];
    while (Date.now() < deadline) {
      subjects = maildirMessages(join(mail, 'example.test/alice')).map((m) => /Subject: (\S+)/.exec(m.text)![1]!).sort();
      if (subjects.length >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(subjects, ['after', 'before']);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
