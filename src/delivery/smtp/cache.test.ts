/**
 * Unit tests of the connection cache with a stand-in session (only what the cache touches:
 * usable, createdAt, reused, quit, conn.onClose): a session parked and taken again many
 * times is watched for close once, not once per reuse, and a close while parked still
 * drops it from the cache.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionCache } from './cache.js';
import type { SmtpSession } from './session.js';

function standIn(): { session: SmtpSession; listeners: (() => void)[] } {
  const listeners: (() => void)[] = [];
  const session = {
    usable: true, createdAt: Date.now(), reused: false, quit: () => undefined,
    conn: { onClose: (l: () => void) => void listeners.push(l) },
  } as unknown as SmtpSession;
  return { session, listeners };
}

test('a session reused many times gets one close listener, and a close while parked drops it', () => {
  const cache = new ConnectionCache();
  const { session, listeners } = standIn();
  for (let i = 0; i < 1000; i++) {
    cache.put('smtp\0[127.0.0.1]:25', session, 2000, 0);
    assert.equal(cache.take('smtp\0[127.0.0.1]:25'), session);
  }
  assert.equal(listeners.length, 1, 'one listener per connection, not one per reuse');
  cache.put('smtp\0[127.0.0.1]:25', session, 2000, 0);
  assert.equal(cache.size, 1);
  for (const l of listeners) l();
  assert.equal(cache.size, 0, 'the peer closed the parked connection: it is gone from the cache');
  cache.closeAll();
});
