/**
 * Greylisting rules (postgrey's) on a store with a controlled clock, and the shipped
 * whitelist tables loading and matching through the table layer.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Greylist, normaliseSender, clientNetwork, type GreylistSettings } from './greylist.js';
import { MemoryStore } from './memory.js';
import { TableRegistry } from '../tables/open.js';
import { lookupClient } from '../tables/lookup-order.js';

const S: GreylistSettings = { delayMs: 300_000, maxAgeMs: 35 * 86_400_000, retryWindowMs: 2 * 86_400_000, v4prefix: 24, v6prefix: 64, awlClients: 2, awlIntervalMs: 3_600_000 };

function setup(s: Partial<GreylistSettings> = {}): { g: Greylist; tick(ms: number): void } {
  let now = Date.UTC(2025, 0, 1);
  const clock = (): number => now;
  return { g: new Greylist(new MemoryStore(clock), { ...S, ...s }, clock), tick: (ms) => void (now += ms) };
}

test('normaliseSender: VERP numbers, +extensions and BATV as postgrey', () => {
  assert.equal(normaliseSender('bounce-12345@lists.example'), 'bounce-#@lists.example');
  assert.equal(normaliseSender('list+user=example.org@lists.example'), 'list@lists.example');
  assert.equal(normaliseSender('prvs=1234567890=alice@example.org'), 'alice@example.org');
  assert.equal(normaliseSender('prvs=alice=1234567890@example.org'), 'alice@example.org');
  assert.equal(normaliseSender('user42@example.org'), 'user42@example.org', 'digits inside a word stay');
  assert.equal(normaliseSender('msg.2024.77@example.org'), 'msg.#.#@example.org');
  assert.equal(normaliseSender(''), '');
});

test('clientNetwork: /24 and /64', () => {
  assert.equal(clientNetwork('192.0.2.77', 24, 64), '192.0.2.0');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6', 24, 64), '2001:db8:1:2::');
});

test('a new triplet waits the delay, then passes and keeps passing; a client in the same /24 shares it', async () => {
  const { g, tick } = setup();
  assert.deepEqual(await g.check('192.0.2.1', 'a@remote.example', 'u@local.example'), { kind: 'greylist', remainingS: 300, reason: 'new' });
  tick(100_000);
  assert.deepEqual(await g.check('192.0.2.1', 'a@remote.example', 'u@local.example'), { kind: 'greylist', remainingS: 200, reason: 'early-retry' });
  tick(200_000);
  assert.deepEqual(await g.check('192.0.2.9', 'A@Remote.Example', 'U@local.example'), { kind: 'pass', reason: 'triplet', delayedS: 300 });
  tick(86_400_000);
  assert.deepEqual(await g.check('192.0.2.1', 'a@remote.example', 'u@local.example'), { kind: 'pass', reason: 'triplet' });
  assert.equal((await g.check('198.51.100.1', 'a@remote.example', 'u@local.example')).kind, 'greylist', 'another network is another triplet');
  assert.deepEqual(await g.counts(), { pending: 1, passed: 1, autoWhitelisted: 0, awlCandidates: 1 });
});

test('a first retry after the retry window starts over', async () => {
  const { g, tick } = setup();
  await g.check('192.0.2.1', 'a@r.example', 'u@l.example');
  tick(3 * 86_400_000);
  assert.equal((await g.check('192.0.2.1', 'a@r.example', 'u@l.example')).kind, 'greylist');
});

test('auto-whitelisting: after N counted passes (one per interval) the client is not greylisted', async () => {
  const { g, tick } = setup();
  for (const rcpt of ['u1@l.example', 'u2@l.example']) {
    await g.check('192.0.2.1', 'a@r.example', rcpt);
    tick(300_000);
    assert.equal((await g.check('192.0.2.1', 'a@r.example', rcpt)).kind, 'pass');
    tick(3_600_000);
  }
  assert.deepEqual(await g.check('192.0.2.1', 'new@r.example', 'u3@l.example'), { kind: 'pass', reason: 'client AWL' });
  assert.equal((await g.check('192.0.2.2', 'new@r.example', 'u3@l.example')).kind, 'greylist', 'the auto-whitelist is per address');
  assert.equal((await g.counts()).autoWhitelisted, 1);
  assert.ok((await g.clear()) > 0);
  assert.deepEqual(await g.counts(), { pending: 0, passed: 0, autoWhitelisted: 0, awlCandidates: 0 });
});

test('two passes within the interval count once toward the auto-whitelist', async () => {
  const { g, tick } = setup();
  for (const rcpt of ['u1@l.example', 'u2@l.example']) await g.check('192.0.2.1', 'a@r.example', rcpt);
  tick(300_000);
  for (const rcpt of ['u1@l.example', 'u2@l.example']) assert.equal((await g.check('192.0.2.1', 'a@r.example', rcpt)).kind, 'pass');
  assert.equal((await g.check('192.0.2.1', 'a@r.example', 'u3@l.example')).kind, 'greylist');
});

test('the shipped whitelist (pcre names, cidr addresses) loads and matches names, subdomains, addresses and networks', async () => {
  const share = fileURLToPath(new URL('../../share', import.meta.url));
  const tables = new TableRegistry({ baseDir: share });
  const pcre = tables.open(`pcre:${join(share, 'greylist-whitelist-clients.pcre')}`);
  const cidr = tables.open(`cidr:${join(share, 'greylist-whitelist-clients.cidr')}`);
  const opts = { delimiter: '', parentMatches: true };
  const hit = async (name: string, addr: string): Promise<boolean> =>
    (await lookupClient(pcre, { name, addr }, opts)) !== undefined || (await lookupClient(cidr, { name, addr }, opts)) !== undefined;
  assert.equal(await hit('amazon.com', '192.0.2.1'), true);
  assert.equal(await hit('smtp-out-7.amazon.com', '192.0.2.1'), true, 'a name under a listed domain');
  assert.equal(await hit('notamazon.com', '192.0.2.1'), false);
  assert.equal(await hit('mail12.telekom.de', '192.0.2.1'), true, 'a postgrey regexp');
  assert.equal(await hit('unknown', '66.216.126.174'), true, 'a listed address');
  assert.equal(await hit('unknown', '205.201.130.7'), true, 'inside a listed network (/20)');
  assert.equal(await hit('unknown', '2a01:4180:4051:800::25'), true, 'inside a listed IPv6 network');
  assert.equal(await hit('host.example.org', '192.0.2.1'), false);
  await tables.closeAll();
});
