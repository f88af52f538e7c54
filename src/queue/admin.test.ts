/**
 * Unit tests of the queue's administrative operations (what `postern queue hold|release|
 * delete|requeue|flush` use) and of the queue-ID split between the daemon and local
 * submission, on a real SQLite queue in a temporary directory.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openQueueStore } from './store.js';
import { QueueWriteError, type QueuedMessage } from './types.js';
import { newQueueId, newLocalQueueId, isLocalQueueId } from './queue-id.js';

function message(id: string, over: Partial<QueuedMessage> = {}): QueuedMessage {
  return {
    id, arrival: 1_700_000_000_000, sender: 's@example.org',
    recipients: [{ address: 'a@example.test', status: 'done' }, { address: 'b@example.test', status: 'deferred', reason: 'connect timeout' }],
    data: Buffer.from('Subject: x\r\n\r\nx\r\n'), client: 'local', nextAttempt: 1_800_000_000_000, attempts: 3, ...over,
  };
}

test('hold, release, flush, requeue and delete change only what they should and report what they changed', async () => {
  const store = openQueueStore(join(mkdtempSync(join(tmpdir(), 'postern-admin-')), 'q'));
  try {
    const [a, b] = [newQueueId(), newQueueId()];
    await store.enqueue(message(a));
    await store.enqueue(message(b));
    const now = 1_750_000_000_000;

    assert.deepEqual(await store.admin.hold([a, 'NOSUCH']), [a]);
    assert.equal(store.isHeld(a), true);
    assert.deepEqual(await store.admin.hold([a]), [], 'already held: not counted');
    assert.deepEqual(store.due(now, 10).map((m) => m.id), [], 'held, and b not due yet');
    assert.deepEqual(await store.admin.flush([a, b], now), [b], 'flush leaves held mail alone');
    assert.deepEqual(store.due(now, 10).map((m) => m.id), [b]);

    assert.deepEqual(await store.admin.release([a, b], now), [a], 'b was not held');
    assert.equal(store.isHeld(a), false);
    assert.equal(store.get(a)!.nextAttempt, now, 'released mail is due at once');

    await store.admin.hold([b]);
    assert.deepEqual(await store.admin.requeue([b], now + 5), [b]);
    const rb = store.get(b)!;
    assert.equal(store.isHeld(b), false, 'requeue takes mail off hold, as postsuper -r');
    assert.equal(rb.nextAttempt, now + 5);
    assert.deepEqual(rb.recipients, [{ address: 'a@example.test', status: 'done' }, { address: 'b@example.test', status: 'pending' }]);
    assert.equal(rb.attempts, 3);

    assert.deepEqual(await store.admin.delete([a, 'NOSUCH']), [a]);
    assert.equal(store.exists(a), false);
    assert.equal(store.isHeld(a), false);
    assert.equal(store.exists(b), true);
    // The scheduler's record-keeping after a delete changes nothing (no resurrection).
    await store.updateRecipients(a, [{ address: 'x@example.test', status: 'deferred' }], now, 9);
    await store.remove(a);
    assert.equal(store.exists(a), false);
    assert.equal(store.count(), 1);
  } finally {
    store.close();
  }
});

test('the read-only view refuses administrative changes', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'postern-admin-')), 'q');
  openQueueStore(dir).close();
  const ro = openQueueStore(dir, { readonly: true });
  try {
    await assert.rejects(ro.admin.hold(['X']), QueueWriteError);
  } finally {
    ro.close();
  }
});

test('queue IDs: the daemon never hands out an ID of the local-submission slot, at any rate', () => {
  const now = Date.now() + 10_000;
  for (let i = 0; i < 2000; i++) assert.equal(isLocalQueueId(newQueueId(now)), false);
  const local = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const id = newLocalQueueId(now);
    assert.match(id, /^[0-9A-F]{10,12}$/);
    assert.equal(isLocalQueueId(id), true);
    local.add(id);
  }
  assert.equal(local.size, 50);
});

test('an ID already in the queue is refused with kind "exists" (local submission then retries)', async () => {
  const store = openQueueStore(join(mkdtempSync(join(tmpdir(), 'postern-admin-')), 'q'));
  try {
    const id = newLocalQueueId();
    await store.enqueue(message(id));
    await assert.rejects(store.enqueue(message(id)), (e: unknown) => e instanceof QueueWriteError && e.kind === 'exists');
  } finally {
    store.close();
  }
});

test('a reserved ID stays taken after its message is delivered and removed (two sendmail processes in one millisecond)', async () => {
  const store = openQueueStore(join(mkdtempSync(join(tmpdir(), 'postern-admin-')), 'q'));
  try {
    const id = newLocalQueueId();
    await store.enqueue(message(id), { reserveId: true });
    await store.remove(id);
    assert.equal(store.exists(id), false);
    await assert.rejects(store.enqueue(message(id), { reserveId: true }), (e: unknown) => e instanceof QueueWriteError && e.kind === 'exists');
    await store.enqueue(message(newLocalQueueId(Date.now() + 5)), { reserveId: true });
  } finally {
    store.close();
  }
});
