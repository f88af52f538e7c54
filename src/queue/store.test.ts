/**
 * Unit tests of the durable queue: records round-trip, due/held/exclude, recipient state,
 * removal, group commit, injected write faults (POSTERN_TEST_FAULTS), the read-only view
 * used by `postern queue`, and a real kill -9 of a child process that is enqueuing.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openQueueStore } from './store.js';
import { QueueWriteError, type QueuedMessage } from './types.js';
import { newQueueId } from './queue-id.js';

// The fault switch is read when a store opens; tests without a fault file are unaffected.
process.env.POSTERN_TEST_FAULTS = '1';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'postern-queue-'));
}

function message(over: Partial<QueuedMessage> = {}): QueuedMessage {
  const id = over.id ?? newQueueId();
  return {
    id, arrival: 1_700_000_000_000, sender: 'sender@example.org',
    recipients: [{ address: 'a@example.test', status: 'pending' }, { address: 'b@example.test', orcpt: 'rfc822;b@example.test', notify: ['FAILURE'], status: 'pending' }],
    data: Buffer.from(`Subject: ${id}\r\n\r\nbody of ${id}\r\n`), client: 'mx.example.org[192.0.2.1]',
    envid: 'ENV1', ret: 'HDRS', bodyType: '8BITMIME', smtputf8: false,
    nextAttempt: 1_700_000_000_000, attempts: 0, ...over,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('enqueue, get, count and list round-trip every field; the directory is created 0700', async () => {
  const dir = join(tempDir(), 'spool');
  const store = openQueueStore(dir);
  try {
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const m = message({ hold: 'held by test' });
    await store.enqueue(m);
    const back = store.get(m.id)!;
    assert.deepEqual(back.data, m.data);
    assert.equal(back.sender, m.sender);
    assert.deepEqual(back.recipients, m.recipients);
    assert.equal(back.envid, 'ENV1');
    assert.equal(back.ret, 'HDRS');
    assert.equal(back.bodyType, '8BITMIME');
    assert.equal(back.client, m.client);
    assert.equal(back.hold, 'held by test');
    assert.equal(store.count(), 1);
    assert.deepEqual(store.list(), [{ id: m.id, size: m.data.length, arrival: m.arrival, sender: m.sender, recipients: m.recipients, held: true }]);
    assert.equal(store.get('NOSUCHID'), undefined);
  } finally {
    store.close();
  }
});

test('due() returns unheld messages whose time has come, soonest first, within limit and minus exclusions', async () => {
  const store = openQueueStore(tempDir());
  try {
    const a = message({ nextAttempt: 300 });
    const b = message({ nextAttempt: 100 });
    const c = message({ nextAttempt: 200 });
    const later = message({ nextAttempt: 5000 });
    const held = message({ nextAttempt: 0, hold: '' });
    await Promise.all([a, b, c, later, held].map((m) => store.enqueue(m)));
    assert.deepEqual(store.due(1000, 10).map((m) => m.id), [b.id, c.id, a.id]);
    assert.deepEqual(store.due(1000, 2).map((m) => m.id), [b.id, c.id]);
    assert.deepEqual(store.due(1000, 2, new Set([b.id])).map((m) => m.id), [c.id, a.id]);
    assert.deepEqual(store.due(150, 10).map((m) => m.id), [b.id]);
    assert.equal(store.due(10_000, 10).length, 4, 'the held message is never due');
  } finally {
    store.close();
  }
});

test('updateRecipients stores per-recipient state and the next attempt; remove deletes', async () => {
  const dir = tempDir();
  let store = openQueueStore(dir);
  const m = message({ nextAttempt: 0 });
  await store.enqueue(m);
  store.updateRecipients(m.id, [{ address: 'a@example.test', status: 'done' }, { address: 'b@example.test', status: 'deferred', reason: 'mailbox busy' }], 9000, 1);
  store.close();
  store = openQueueStore(dir); // what the update wrote survives a reopen
  try {
    const back = store.get(m.id)!;
    assert.equal(back.nextAttempt, 9000);
    assert.equal(back.attempts, 1);
    assert.deepEqual(back.recipients.map((r) => [r.status, r.reason]), [['done', undefined], ['deferred', 'mailbox busy']]);
    assert.equal(store.due(8999, 10).length, 0);
    assert.equal(store.due(9000, 10).length, 1);
    await store.remove(m.id);
    assert.equal(store.get(m.id), undefined);
    assert.equal(store.count(), 0);
    assert.deepEqual(store.list(), []);
  } finally {
    store.close();
  }
});

test('group commit: 500 enqueues in one turn all resolve, in few transactions, and all are stored', async () => {
  const dir = tempDir();
  const store = openQueueStore(dir, { groupCommitMax: 64 });
  const msgs = Array.from({ length: 500 }, () => message());
  let resolved = 0;
  await Promise.all(msgs.map((m) => store.enqueue(m).then(() => resolved++)));
  assert.equal(resolved, 500);
  assert.equal(store.count(), 500);
  store.close();
  const again = openQueueStore(dir);
  try {
    for (const m of msgs) assert.deepEqual(again.get(m.id)?.data, m.data);
  } finally {
    again.close();
  }
});

test('a removal with no new message to share its sync still resolves (after its own sync); next to an enqueue it shares one', async () => {
  const dir = tempDir();
  const store = openQueueStore(dir);
  const reader = openQueueStore(dir, { readonly: true });
  const within = <T>(p: Promise<T>, what: string): Promise<T> =>
    Promise.race([p, sleep(3000).then((): never => assert.fail(`${what} never resolved`))]);
  try {
    const [a, b, c] = [message(), message(), message()];
    await store.enqueue(a);
    await store.enqueue(b);
    await within(store.remove(a.id), 'a removal alone');
    assert.equal(reader.get(a.id), undefined);
    await within(Promise.all([store.remove(b.id), store.enqueue(c)]), 'a removal next to an enqueue');
    assert.equal(reader.get(b.id), undefined);
    assert.deepEqual(reader.get(c.id)?.data, c.data);
    // Several removals in a row, each alone, while earlier ones may still be syncing.
    const more = Array.from({ length: 20 }, () => message());
    await Promise.all(more.map((m) => store.enqueue(m)));
    await within(Promise.all(more.map(async (m, i) => {
      await sleep(i * 3);
      await store.remove(m.id);
    })), 'staggered removals');
    assert.equal(store.count(), 1);
  } finally {
    reader.close();
    store.close();
  }
});

test('a promise resolves only after its message is readable from a second connection', async () => {
  const dir = tempDir();
  const store = openQueueStore(dir);
  const reader = openQueueStore(dir, { readonly: true });
  try {
    const m = message();
    const p = store.enqueue(m);
    assert.equal(reader.get(m.id), undefined, 'nothing is written before the batch runs');
    await p;
    assert.deepEqual(reader.get(m.id)?.data, m.data);
  } finally {
    reader.close();
    store.close();
  }
});

test('injected faults: eio → QueueWriteError io, enospc → nospace; earlier messages intact; recovers when cleared', async () => {
  const dir = tempDir();
  const store = openQueueStore(dir);
  try {
    const before = message();
    await store.enqueue(before);
    writeFileSync(join(dir, 'fault'), 'eio\n');
    await sleep(150); // the fault file is read at most every 100 ms
    const failed = message();
    await assert.rejects(store.enqueue(failed), (e: unknown) => e instanceof QueueWriteError && e.kind === 'io');
    writeFileSync(join(dir, 'fault'), 'enospc');
    await sleep(150);
    const batch = [message(), message(), message()];
    const results = await Promise.allSettled(batch.map((m) => store.enqueue(m)));
    for (const r of results) assert.ok(r.status === 'rejected' && r.reason instanceof QueueWriteError && r.reason.kind === 'nospace');
    // A removal during the fault is not lost: it is retried after the fault clears.
    const removed = store.remove(before.id);
    rmSync(join(dir, 'fault'));
    await sleep(150);
    const after = message();
    await store.enqueue(after);
    await removed;
    assert.equal(store.get(before.id), undefined);
    assert.ok(store.get(after.id));
    assert.equal(store.get(failed.id), undefined);
    for (const m of batch) assert.equal(store.get(m.id), undefined);
  } finally {
    store.close();
  }
});

test('read-only store: lists without writing anything, refuses enqueue, fails when there is no queue', async () => {
  const dir = tempDir();
  assert.throws(() => openQueueStore(dir, { readonly: true }));
  assert.equal(existsSync(join(dir, 'queue.db')), false, 'a read-only open creates nothing');
  const store = openQueueStore(dir);
  const m = message();
  await store.enqueue(m);
  store.close();
  const ro = openQueueStore(dir, { readonly: true });
  try {
    assert.deepEqual(ro.list().map((e) => e.id), [m.id]);
    await assert.rejects(ro.enqueue(message()), QueueWriteError);
  } finally {
    ro.close();
  }
});

test('kill -9 while enqueuing: every message whose promise resolved is there after reopening', async () => {
  const dir = tempDir();
  const storeUrl = new URL('./store.ts', import.meta.url).href;
  // The child enqueues in bursts of 20 with varied sizes and prints each ID once it is durable.
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
    import { openQueueStore } from ${JSON.stringify(storeUrl)};
    const store = openQueueStore(${JSON.stringify(dir)});
    let n = 0;
    for (let round = 0; round < 100000; round++) {
      await Promise.all(Array.from({ length: 20 }, () => {
        const id = 'C' + String(++n).padStart(8, '0');
        const data = Buffer.alloc(1000 + (n % 7) * 3000, id);
        return store.enqueue({ id, arrival: Date.now(), sender: 's@x.test', recipients: [{ address: 'r@y.test', status: 'pending' }],
          data, client: 'c[192.0.2.1]', nextAttempt: Date.now(), attempts: 0 }).then(() => process.stdout.write(id + '\\n'));
      }));
    }
  `], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    const limit = setTimeout(() => reject(new Error('child acknowledged too few messages in 60 s')), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      acked.push(...lines);
      if (acked.length >= 300 && child.exitCode === null && !child.killed) {
        clearTimeout(limit);
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`child exited by itself: ${code}`));
    });
  });
  acked.push(...buf.split('\n').filter(Boolean));
  const store = openQueueStore(dir);
  try {
    for (const id of acked) {
      const m = store.get(id);
      assert.ok(m, `${id} was acknowledged but is missing after kill -9`);
      const n = Number(id.slice(1));
      assert.deepEqual(m.data, Buffer.alloc(1000 + (n % 7) * 3000, id), `${id} is intact`);
    }
    assert.ok(store.count() >= acked.length);
    // Recovery: everything accepted is due again at once.
    assert.equal(store.due(Date.now(), 100_000).length, store.count());
  } finally {
    store.close();
  }
});

test('queue IDs: upper-case hex, 10–12 characters, unique and increasing even within one millisecond', async () => {
  const seen = new Set<string>();
  let prev = '';
  const now = Date.now();
  for (let i = 0; i < 5000; i++) {
    const id = newQueueId(now);
    assert.match(id, /^[0-9A-F]{10,12}$/);
    assert.ok(id.length > prev.length || id > prev, `${id} after ${prev}`);
    assert.ok(!seen.has(id));
    seen.add(id);
    prev = id;
  }
  // A later clock never goes back behind IDs borrowed from the future.
  const next = newQueueId(now + 1);
  assert.ok(next > prev);
});
