/**
 * The auto-ban's rules on a memory store with a controlled clock: maxretry in a sliding
 * findtime, kinds counted apart, bantime increment up to maxtime, stale passwords counted
 * once per findtime, events switched off, unban, and the status view's numbers.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bans, formatBanStatus, formatDuration, type BanSettings } from './bans.js';
import { MemoryStore } from './memory.js';

const MIN = 60_000;
const S: BanSettings = { maxretry: 3, findtimeMs: 10 * MIN, bantimeMs: 60 * MIN, increment: true, maxtimeMs: 180 * MIN, events: new Set(['auth', 'relay', 'unknown_recipient', 'protocol']) };

function setup(s: Partial<BanSettings> = {}): { bans: Bans; tick(ms: number): void; now(): number } {
  let now = Date.UTC(2025, 0, 1);
  const clock = (): number => now;
  return { bans: new Bans(new MemoryStore(clock), { ...S, ...s }, clock), tick: (ms) => void (now += ms), now: clock };
}

test('maxretry failures of one kind within findtime ban; kinds are counted apart; old failures slide out', async () => {
  const { bans, tick } = setup();
  assert.equal(await bans.failure('192.0.2.1', 'relay'), undefined);
  assert.equal(await bans.failure('192.0.2.1', 'unknown_recipient'), undefined);
  assert.equal(await bans.failure('192.0.2.1', 'relay'), undefined);
  tick(11 * MIN);
  assert.equal(await bans.failure('192.0.2.1', 'relay'), undefined, 'the first two slid out of the window');
  assert.equal(await bans.failure('192.0.2.1', 'relay'), undefined);
  const ban = await bans.failure('192.0.2.1', 'relay');
  assert.equal(ban?.reason, '3 relay attempts within 10m');
  assert.equal(ban?.until, ban!.since + 60 * MIN);
  assert.equal((await bans.lookup('192.0.2.1'))?.nth, 1);
  assert.equal(await bans.lookup('192.0.2.2'), undefined);
});

test('repeat bans double, up to maxtime; a lapsed ban is no ban', async () => {
  const { bans, tick } = setup();
  const lengths: number[] = [];
  for (let i = 0; i < 4; i++) {
    let b;
    for (let j = 0; j < 3; j++) b = await bans.failure('192.0.2.1', 'auth');
    assert.ok(b);
    lengths.push((b.until - b.since) / MIN);
    tick(b.until - b.since + 1);
    assert.equal(await bans.lookup('192.0.2.1'), undefined);
  }
  assert.deepEqual(lengths, [60, 120, 180, 180]);
  const flat = setup({ increment: false });
  for (let i = 0; i < 2; i++) {
    let b;
    for (let j = 0; j < 3; j++) b = await flat.bans.failure('192.0.2.1', 'auth');
    assert.equal((b!.until - b!.since) / MIN, 60);
    flat.tick(61 * MIN);
  }
});

test('the same user and wrong password counts once per findtime; a new password counts', async () => {
  const { bans, tick } = setup();
  for (let i = 0; i < 10; i++) assert.equal(await bans.authFailure('192.0.2.9', 'alice', 'old-pw'), undefined);
  let st = await bans.status();
  assert.equal(st.totalFailed, 1);
  assert.deepEqual(st.stale.map((s) => [s.addr, s.user, s.repeats]), [['192.0.2.9', 'alice', 10]]);
  assert.equal(await bans.authFailure('192.0.2.9', 'alice', 'guess-2'), undefined);
  assert.ok(await bans.authFailure('192.0.2.9', 'alice', 'guess-3'), 'three different passwords ban');
  tick(11 * MIN);
  st = await bans.status();
  assert.equal(st.currentlyBanned, 1);
  assert.match(formatBanStatus(st, 'memory'), /Banned IP list:\t192\.0\.2\.9\n/);
});

test('events not listed in postern_ban_events are not counted; unban lifts and forgets', async () => {
  const { bans } = setup({ events: new Set(['auth']) });
  for (let i = 0; i < 5; i++) assert.equal(await bans.failure('192.0.2.1', 'relay'), undefined);
  assert.equal((await bans.status()).totalFailed, 0);
  const b = await bans.ban('192.0.2.3', 5 * MIN, 'banned by the administrator');
  assert.equal(b.until - b.since, 5 * MIN);
  assert.ok(await bans.lookup('192.0.2.3'));
  assert.equal(await bans.unban('192.0.2.3'), true);
  assert.equal(await bans.lookup('192.0.2.3'), undefined);
  assert.equal(await bans.unban('192.0.2.3'), false);
});

test('formatDuration', () => {
  assert.equal(formatDuration(600_000), '10m');
  assert.equal(formatDuration(86_400_000), '1d');
  assert.equal(formatDuration(7 * 86_400_000), '1w');
  assert.equal(formatDuration(90_000), '90s');
});
