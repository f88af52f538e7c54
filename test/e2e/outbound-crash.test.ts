/**
 * kill -9 during outbound delivery under load (issue 8): messages relayed to an SMTP peer
 * while the server is killed at random moments and restarted. Every message that got a 250
 * reaches the peer; no message is logged status=sent twice (a delivery that was logged is
 * never repeated — duplicates only for a crash in the middle of a delivery).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { sendUntilStopped } from '../support/load.js';
import { startPeer } from '../../src/delivery/smtp/test-peer.js';


test('kill -9 while relaying: nothing accepted is lost, nothing logged as sent is sent again', { timeout: 120_000 }, async () => {
  const peer = await startPeer();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-outcrash-'));
  const srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      transport_maps: `inline:{ sink.test=smtp:[127.0.0.1]:${peer.port} }`,
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
      minimal_backoff_time: '1s', maximal_backoff_time: '2s', queue_run_delay: '1s',
    }),
    masterCf: smtpService(port),
  });
  const confirmed = new Set<number>();
  let counter = 0;
  try {
    for (let round = 0; round < 4; round++) {
      const stop = { now: false };
      const senders = Array.from({ length: 4 }, () => sendUntilStopped(port, (n) => ({ rcpt: `r${n % 3}@sink.test`, body: `Subject: relay ${n}\r\nMessage-ID: <relay-${n}@load.test>\r\n\r\nbody ${n}\r\n` }), () => ++counter, confirmed, stop));
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 700)));
      await srv.kill9();
      stop.now = true;
      await Promise.all(senders);
      await srv.restart();
    }
    assert.ok(confirmed.size >= 20, `too little load: ${confirmed.size}`);
    const deadline = Date.now() + 40_000;
    let missing: number[] = [];
    for (;;) {
      const seen = new Set(peer.messages.map((m) => Number(/relay-(\d+)@/.exec(m.data.toString('latin1'))?.[1])));
      missing = [...confirmed].filter((n) => !seen.has(n));
      if (missing.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(missing, [], `confirmed but never relayed (of ${confirmed.size})`);
    const log = srv.log();
    const idOf = new Map([...log.matchAll(/ ([0-9A-F]+): message-id=<relay-(\d+)@load\.test>/g)].map((m) => [m[1]!, Number(m[2])]));
    const sent = new Map<number, number>();
    for (const m of log.matchAll(/ ([0-9A-F]+): to=<r\d@sink\.test>.*status=sent/g)) {
      const n = idOf.get(m[1]!);
      if (n !== undefined) sent.set(n, (sent.get(n) ?? 0) + 1);
    }
    assert.ok(sent.size >= 20, `too few logged deliveries: ${sent.size}`);
    assert.deepEqual([...sent].filter(([, k]) => k > 1).map(([n]) => n), [], 'logged status=sent twice');
  } finally {
    await srv.stop();
    await peer.close();
    srv.cleanup();
  }
});
