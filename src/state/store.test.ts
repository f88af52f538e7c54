/**
 * One suite for every StateStore: memory, SQLite (the embedded default) and Redis (a real
 * redis-server on a loopback port). Then the fallback policy: Redis stopped → the resilient
 * view keeps counting in memory with one warning, and says when Redis is back.
 */

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from './memory.js';
import { SqliteStore } from './sqlite.js';
import { RedisStore } from './redis.js';
import { withFallback } from './shared.js';
import { StoreUnavailable, type StateStore } from './types.js';
import { startRedis, type Redis } from '../../test/support/redis.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let redis: Redis;
const dir = mkdtempSync(join(tmpdir(), 'postern-state-'));

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const factories: [string, () => Promise<StateStore>][] = [
  ['memory', async () => new MemoryStore()],
  ['sqlite', async () => new SqliteStore(join(dir, `s-${Math.random()}.db`))],
  ['redis', async () => {
    const r = new RedisStore({ url: redis.url });
    await r.connect();
    return r;
  }],
];

for (const [kind, make] of factories) {
  describe(`StateStore: ${kind}`, () => {
    test('increment is a fixed window that opens with the first event', async () => {
      const s = await make();
      const k = `w:${Math.random()}`;
      assert.equal(await s.increment(k, 1, 300), 1);
      assert.equal(await s.increment(k, 2, 300), 3);
      await sleep(120);
      assert.equal(await s.increment(k, 1, 300), 4, 'the TTL is not refreshed by later events');
      await sleep(250);
      assert.equal(await s.increment(k, 1, 300), 1, 'a new window after the first one ended');
      const total = `t:${Math.random()}`;
      assert.equal(await s.increment(total, 5, 0), 5);
      assert.equal(await s.increment(total, 5, 0), 10);
      await s.close();
    });

    test('addEvent / countEvents keep a sliding window', async () => {
      const s = await make();
      const k = `e:${Math.random()}`;
      const t0 = Date.now();
      assert.equal(await s.addEvent(k, t0, 1000), 1);
      assert.equal(await s.addEvent(k, t0 + 500, 1000), 2);
      assert.equal(await s.countEvents(k, t0 + 900, 1000), 2);
      assert.equal(await s.countEvents(k, t0 + 1200, 1000), 1, 'the first event slid out');
      assert.equal(await s.addEvent(k, t0 + 1600, 1000), 1);
      await s.close();
    });

    test('get/set with TTL, delete, keys by prefix', async () => {
      const s = await make();
      const p = `kv${Math.random()}:`;
      await s.set(p + 'a', 'one', 0);
      await s.set(p + 'b', 'two', 150);
      await s.addEvent(p + 'c', Date.now(), 10_000);
      assert.equal(await s.get(p + 'a'), 'one');
      assert.equal(await s.get(p + 'b'), 'two');
      assert.deepEqual((await s.keys(p)).sort(), [p + 'a', p + 'b', p + 'c']);
      await sleep(200);
      assert.equal(await s.get(p + 'b'), undefined, 'expired');
      assert.deepEqual((await s.keys(p)).sort(), [p + 'a', p + 'c']);
      await s.delete([p + 'a', p + 'c']);
      assert.equal(await s.get(p + 'a'), undefined);
      assert.deepEqual(await s.keys(p), []);
      assert.equal(await s.get('never-set'), undefined);
      await s.close();
    });
  });
}

test('SQLite keeps its state across a reopen (bans and counters survive a restart)', async () => {
  const file = join(dir, 'persist.db');
  const a = new SqliteStore(file);
  await a.set('ban:192.0.2.1', '{"until":1}', 60_000);
  await a.increment('total', 3, 0);
  await a.close();
  const b = new SqliteStore(file);
  assert.equal(await b.get('ban:192.0.2.1'), '{"until":1}');
  assert.equal(await b.increment('total', 1, 0), 4);
  await b.close();
});

test('Redis down: commands fail fast with StoreUnavailable; the resilient view uses memory and warns once', async () => {
  const r2 = await startRedis();
  const store = new RedisStore({ url: r2.url, timeoutMs: 300 });
  await store.connect();
  const warnings: string[] = [];
  const infos: string[] = [];
  const shared = withFallback(store, { warning: (m) => warnings.push(m), info: (m) => infos.push(m) });
  assert.equal(await shared.resilient.increment('x', 1, 60_000), 1);
  await r2.stop();
  await sleep(100);
  const t0 = Date.now();
  await assert.rejects(shared.primary.get('x'), StoreUnavailable);
  assert.ok(Date.now() - t0 < 1000, 'fails fast');
  assert.equal(await shared.resilient.increment('x', 1, 60_000), 1, 'memory starts its own count');
  assert.equal(await shared.resilient.increment('x', 1, 60_000), 2);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /^state store redis:\/\/127\.0\.0\.1:\d+\/0 unavailable \(.*\): bans and rate limits use this host's memory, greylisting accepts mail$/);
  await r2.start();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await shared.primary.get('x');
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('never reconnected');
      await sleep(100);
    }
  }
  assert.match(infos.join('\n'), /is available again/);
  await shared.close();
  await r2.remove();
});
