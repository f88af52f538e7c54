/**
 * Durability: under a bounded load, the server is killed with SIGKILL at random moments
 * and restarted. Every message that got "250 … queued as" must end up delivered, exactly
 * as sent (at-least-once; a crash mid-delivery may duplicate, never lose), and a recipient
 * whose delivery was logged status=sent is never delivered a second time after a restart.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { sendUntilStopped } from '../support/load.js';

function body(n: number): string {
  return `Subject: crash test ${n}\r\nMessage-ID: <crash-${n}@load.test>\r\n\r\n${`line ${n} `.repeat(40)}\r\n.dotted ${n}\r\nend ${n}\r\n`;
}


test('kill -9 at random moments under load loses no message that got a 250', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-crash-'));
  const mail = join(dir, 'mail');
  const srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, { virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail }),
    masterCf: smtpService(port),
    files: { vmailbox: 'alice@example.test example.test/alice/\n' },
  });
  const confirmed = new Set<number>();
  let counter = 0;
  const next = (): number => ++counter;
  try {
    for (let round = 0; round < 4; round++) {
      const stop = { now: false };
      const senders = Array.from({ length: 4 }, () => sendUntilStopped(port, (n) => ({ rcpt: 'alice@example.test', body: body(n) }), next, confirmed, stop));
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 700)));
      await srv.kill9();
      stop.now = true;
      await Promise.all(senders);
      await srv.restart();
    }
    assert.ok(confirmed.size >= 20, `too little load to prove anything: ${confirmed.size} messages confirmed`);
    // Wait (bounded) until every confirmed message is in the Maildir.
    const deadline = Date.now() + 30_000;
    let missing: number[] = [];
    let files: { name: string; text: string }[] = [];
    for (;;) {
      files = maildirMessages(join(mail, 'example.test/alice'));
      const seen = new Set(files.map((f) => Number(/crash-(\d+)@/.exec(f.text)?.[1])));
      missing = [...confirmed].filter((n) => !seen.has(n));
      if (missing.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(missing, [], `confirmed but never delivered (of ${confirmed.size})`);
    // status=sent is logged only after the queue recorded it, so a delivery that was logged is
    // never repeated after a restart: no message has two status=sent lines. (A crash between
    // the Maildir write and that record may deliver twice — at-least-once — but logs once.)
    const log = srv.log();
    const idOf = new Map([...log.matchAll(/ ([0-9A-F]+): message-id=<crash-(\d+)@load\.test>/g)].map((m) => [m[1]!, Number(m[2])]));
    const sentLines = new Map<number, number>();
    for (const m of log.matchAll(/ ([0-9A-F]+): to=<alice@example\.test>.*status=sent/g)) {
      const n = idOf.get(m[1]!);
      if (n !== undefined) sentLines.set(n, (sentLines.get(n) ?? 0) + 1);
    }
    assert.ok(sentLines.size >= 20, `too few logged deliveries: ${sentLines.size}`);
    assert.deepEqual([...sentLines].filter(([, k]) => k > 1).map(([n]) => n), [], 'logged status=sent, then delivered and logged again after a restart');
    for (const f of files) {
      const n = Number(/crash-(\d+)@/.exec(f.text)![1]);
      const expected = body(n).replace(/\r\n/g, '\n');
      assert.ok(f.text.endsWith('\n' + expected), `message ${n} altered:\n${f.text}`);
    }
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
