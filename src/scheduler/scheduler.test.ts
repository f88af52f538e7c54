/**
 * Unit tests of the scheduler with a real queue store (temporary directory), a fake
 * resolver and a fake Maildir agent: outcomes and their log lines, per-recipient state
 * across retries, remote mail kept deferred, bounces, recovery at start, held mail,
 * bounded concurrency, stop() waiting, backoff and Postfix's delay rounding.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScheduler, REMOTE_NOT_AVAILABLE, type Scheduler, type Notifier } from './scheduler.js';
import { nextRetryDelay } from './backoff.js';
import { openQueueStore, type QueueStore } from '../queue/store.js';
import { newQueueId } from '../queue/queue-id.js';
import type { QueuedMessage } from '../queue/types.js';
import type { AddressResolver, DeliveryTarget } from '../resolve/types.js';
import type { DeliveryAgent, DeliveryOutcome } from '../delivery/types.js';
import type { MailLog } from '../log/maillog.js';
import { fmtDelay } from '../log/queue-events.js';
import { paramsFrom } from '../config/test-params.js';

const MIN = 300_000;
const MAX = 4_000_000;

function fakeLog(): MailLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    line: (p: string, m: string) => void lines.push(`${p}: ${m}`),
    warning: (p: string, m: string) => void lines.push(`${p}: warning: ${m}`),
    error: (p: string, m: string) => void lines.push(`${p}: error: ${m}`),
  } as unknown as MailLog & { lines: string[] };
}

/** Resolver by table: address → targets (default: a virtual Maildir for the address). */
function fakeResolver(table: Record<string, DeliveryTarget[] | Error> = {}): AddressResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    classify: async () => { throw new Error('not used'); },
    checkRecipient: async () => ({ known: true }),
    expand: async (address: string) => {
      asked.push(address);
      const t = table[address];
      if (t instanceof Error) throw t;
      return t ?? [{ kind: 'maildir', via: 'virtual', path: `/m/${address}/`, recipient: address, originalRecipient: address }];
    },
  };
}

/** Agent that records calls; per-recipient outcome from `fail`, optional delay to test concurrency. */
function fakeAgent(opts: { fail?: Record<string, 'deferred' | 'bounced'>; delayMs?: number } = {}): DeliveryAgent & { calls: string[][]; maxInFlight: number } {
  let inFlight = 0;
  const agent = {
    name: 'maildir', calls: [] as string[][], maxInFlight: 0,
    async deliver(_msg: QueuedMessage, targets: readonly DeliveryTarget[]): Promise<DeliveryOutcome[]> {
      agent.calls.push(targets.map((t) => t.recipient));
      inFlight++;
      agent.maxInFlight = Math.max(agent.maxInFlight, inFlight);
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      inFlight--;
      return targets.map((t) => {
        const f = opts.fail?.[t.recipient];
        const relay = t.kind === 'maildir' ? t.via : 'local';
        if (f === 'deferred') return { target: t, status: 'deferred', dsn: '4.2.0', text: 'mailbox busy', relay };
        if (f === 'bounced') return { target: t, status: 'bounced', dsn: '5.2.2', text: 'mailbox full', relay };
        return { target: t, status: 'sent', dsn: '2.0.0', text: 'delivered to maildir', relay };
      });
    },
  };
  return agent;
}

function message(rcpts: string[], over: Partial<QueuedMessage> = {}): QueuedMessage {
  const now = Date.now();
  return {
    id: newQueueId(), arrival: now, sender: 's@example.org', recipients: rcpts.map((address) => ({ address, status: 'pending' as const })),
    data: Buffer.from('Subject: t\r\n\r\nx\r\n'), client: 'c[192.0.2.1]', nextAttempt: now, attempts: 0, ...over,
  };
}

interface Rig { store: QueueStore; log: MailLog & { lines: string[] }; sched: Scheduler; agent: ReturnType<typeof fakeAgent>; resolver: ReturnType<typeof fakeResolver> }

function rig(opts: { table?: Record<string, DeliveryTarget[] | Error>; agent?: ReturnType<typeof fakeAgent>; params?: Record<string, string>; store?: QueueStore; notify?: Notifier } = {}): Rig {
  const store = opts.store ?? openQueueStore(mkdtempSync(join(tmpdir(), 'postern-sched-')));
  const log = fakeLog();
  const agent = opts.agent ?? fakeAgent();
  const resolver = fakeResolver(opts.table);
  const params = paramsFrom({ syslog_name: 'postfix', ...opts.params });
  const sched = createScheduler({ store, resolver, agents: { maildir: agent }, log, params, ...(opts.notify ? { notify: opts.notify } : {}) });
  return { store, log, sched, agent, resolver };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function done(r: Rig): Promise<void> {
  await r.sched.stop();
  r.store.close();
}

const DELAYS = String.raw`delay=[\d.]+, delays=[\d.]+/[\d.]+/0/[\d.]+`;

test('a fresh message is delivered, logged as Postfix does, and removed from the queue', async () => {
  const r = rig();
  r.sched.start();
  const m = message(['alice@kit.test']);
  await r.store.enqueue(m);
  r.sched.submitted(m);
  await until('removal', () => r.store.count() === 0 && r.log.lines.some((l) => l.endsWith(': removed')));
  assert.deepEqual(r.agent.calls, [['alice@kit.test']]);
  assert.equal(r.log.lines.length, 2);
  assert.match(r.log.lines[0]!, new RegExp(`^postfix/virtual: ${m.id}: to=<alice@kit\\.test>, relay=virtual, ${DELAYS}, dsn=2\\.0\\.0, status=sent \\(delivered to maildir\\)$`));
  assert.equal(r.log.lines[1], `postfix/qmgr: ${m.id}: removed`);
  await done(r);
});

test('aliases: one queue recipient, several targets, orig_to only where the address changed', async () => {
  const table: Record<string, DeliveryTarget[]> = {
    'team@kit.test': [
      { kind: 'maildir', via: 'local', path: '/home/a/Maildir/', recipient: 'a@kit.test', originalRecipient: 'team@kit.test' },
      { kind: 'maildir', via: 'local', path: '/home/b/Maildir/', recipient: 'b@kit.test', originalRecipient: 'team@kit.test' },
    ],
  };
  const r = rig({ table });
  r.sched.start();
  const m = message(['team@kit.test', 'c@kit.test']);
  await r.store.enqueue(m);
  r.sched.submitted(m);
  await until('removal', () => r.store.count() === 0 && r.log.lines.some((l) => l.endsWith(': removed')));
  assert.deepEqual(r.agent.calls, [['a@kit.test', 'b@kit.test', 'c@kit.test']], 'one agent call for the whole message');
  const lines = r.log.lines.join('\n');
  assert.match(lines, new RegExp(`postfix/local: ${m.id}: to=<a@kit\\.test>, orig_to=<team@kit\\.test>, relay=local, `));
  assert.match(lines, new RegExp(`postfix/local: ${m.id}: to=<b@kit\\.test>, orig_to=<team@kit\\.test>, relay=local, `));
  assert.match(lines, new RegExp(`postfix/virtual: ${m.id}: to=<c@kit\\.test>, relay=virtual, `));
  await done(r);
});

test('remote and deferred recipients stay queued with their reason; delivered ones are not redelivered on retry', async () => {
  const table: Record<string, DeliveryTarget[] | Error> = {
    'far@remote.example': [{ kind: 'remote', recipient: 'far@remote.example', originalRecipient: 'far@remote.example' }],
    'broken@kit.test': new Error('table unavailable'),
  };
  const r = rig({ table, agent: fakeAgent({ fail: { 'busy@kit.test': 'deferred' } }) });
  r.sched.start();
  const m = message(['ok@kit.test', 'far@remote.example', 'busy@kit.test', 'broken@kit.test']);
  await r.store.enqueue(m);
  const before = Date.now();
  r.sched.submitted(m);
  await until('the attempt and its log lines', () => r.store.get(m.id)?.attempts === 1 && r.log.lines.filter((l) => l.includes(m.id)).length >= 4);
  const q = r.store.get(m.id)!;
  assert.deepEqual(q.recipients.map((x) => [x.address, x.status, x.reason]), [
    ['ok@kit.test', 'done', undefined],
    ['far@remote.example', 'deferred', REMOTE_NOT_AVAILABLE],
    ['busy@kit.test', 'deferred', 'mailbox busy'],
    ['broken@kit.test', 'deferred', 'address resolution failed: table unavailable'],
  ]);
  // A young message waits minimal_backoff_time (Postfix: time in queue, at least the minimum).
  assert.ok(q.nextAttempt >= before + MIN && q.nextAttempt <= Date.now() + MIN, `next attempt ${q.nextAttempt - before} ms later`);
  const lines = r.log.lines.join('\n');
  assert.match(lines, new RegExp(`postfix/qmgr: ${m.id}: to=<far@remote\\.example>, relay=none, ${DELAYS}, dsn=4\\.4\\.1, status=deferred \\(delivery to remote domains not available yet\\)`));
  assert.match(lines, new RegExp(`postfix/virtual: ${m.id}: to=<busy@kit\\.test>, relay=virtual, ${DELAYS}, dsn=4\\.2\\.0, status=deferred \\(mailbox busy\\)`));
  assert.match(lines, new RegExp(`${m.id}: to=<broken@kit\\.test>, relay=local, ${DELAYS}, dsn=4\\.3\\.0, status=deferred \\(address resolution failed: table unavailable\\)`));
  assert.doesNotMatch(lines, /removed/);
  await r.sched.stop();

  // Retry from the store (as after the backoff): only the three deferred recipients are tried.
  r.store.updateRecipients(m.id, q.recipients, 0, q.attempts);
  const r2 = rig({ store: r.store, table: { 'far@remote.example': table['far@remote.example']! } });
  r2.sched.start();
  await until('the second attempt', () => r2.store.get(m.id)?.attempts === 2);
  assert.deepEqual(r2.resolver.asked, ['far@remote.example', 'busy@kit.test', 'broken@kit.test']);
  assert.deepEqual(r2.agent.calls, [['busy@kit.test', 'broken@kit.test']]);
  assert.deepEqual(r2.store.get(m.id)!.recipients.filter((x) => x.status !== 'done').map((x) => x.address), ['far@remote.example']);
  await done(r2);
});

test('bounced recipients leave the queue with status=bounced', async () => {
  const table: Record<string, DeliveryTarget[]> = {
    'gone@kit.test': [{ kind: 'bounce', recipient: 'gone@kit.test', originalRecipient: 'gone@kit.test', dsn: '5.1.1', text: 'unknown user: "gone"' }],
  };
  const r = rig({ table, agent: fakeAgent({ fail: { 'full@kit.test': 'bounced' } }) });
  r.sched.start();
  const m = message(['gone@kit.test', 'full@kit.test']);
  await r.store.enqueue(m);
  r.sched.submitted(m);
  await until('removal', () => r.store.count() === 0 && r.log.lines.some((l) => l.endsWith(': removed')));
  const lines = r.log.lines.join('\n');
  assert.match(lines, new RegExp(`postfix/local: ${m.id}: to=<gone@kit\\.test>, relay=local, ${DELAYS}, dsn=5\\.1\\.1, status=bounced \\(unknown user: "gone"\\)`));
  assert.match(lines, new RegExp(`postfix/virtual: ${m.id}: to=<full@kit\\.test>, relay=virtual, ${DELAYS}, dsn=5\\.2\\.2, status=bounced \\(mailbox full\\)`));
  assert.equal(r.log.lines.at(-1), `postfix/qmgr: ${m.id}: removed`);
  await done(r);
});

test('recovery: at start every due message in the store is delivered; held and future ones are not', async () => {
  const r = rig();
  const due = Array.from({ length: 30 }, () => message(['x@kit.test']));
  const held = message(['held@kit.test'], { hold: 'by policy' });
  const later = message(['later@kit.test'], { nextAttempt: Date.now() + 3_600_000 });
  await Promise.all([...due, held, later].map((m) => r.store.enqueue(m)));
  r.sched.start();
  await until('recovery', () => r.store.count() === 2);
  assert.equal(r.agent.calls.length, 30);
  assert.ok(r.store.get(held.id) && r.store.get(later.id));
  await done(r);
});

test('bounded concurrency: never more than postern_delivery_concurrency_limit deliveries at once', async () => {
  const agent = fakeAgent({ delayMs: 20 });
  const r = rig({ agent, params: { postern_delivery_concurrency_limit: '3' } });
  r.sched.start();
  const msgs = Array.from({ length: 12 }, () => message(['x@kit.test']));
  await Promise.all(msgs.map((m) => r.store.enqueue(m)));
  for (const m of msgs) r.sched.submitted(m);
  await until('all delivered', () => r.store.count() === 0);
  assert.equal(agent.calls.length, 12, 'each message delivered exactly once');
  assert.equal(agent.maxInFlight, 3);
  await done(r);
});

test('a delivered message waiting for its removal to be committed holds no delivery slot, and is logged only after it', async () => {
  const store = openQueueStore(mkdtempSync(join(tmpdir(), 'postern-sched-')));
  // The removal's group commit held back (as when it waits for the next WAL fdatasync).
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const realRemove = store.remove.bind(store);
  store.remove = async (id: string) => {
    await gate;
    return realRemove(id);
  };
  const r = rig({ store, params: { postern_delivery_concurrency_limit: '1' } });
  r.sched.start();
  const a = message(['a@kit.test']);
  const b = message(['b@kit.test']);
  await store.enqueue(a);
  await store.enqueue(b);
  r.sched.submitted(a);
  r.sched.submitted(b);
  await until('the second message delivered while the first one\'s removal is pending', () => r.agent.calls.length === 2);
  assert.doesNotMatch(r.log.lines.join('\n'), /status=sent/, 'nothing is logged sent before its removal is on disk');
  release();
  await until('both removed', () => store.count() === 0 && r.log.lines.filter((l) => l.includes('status=sent')).length === 2);
  assert.deepEqual(r.agent.calls, [['a@kit.test'], ['b@kit.test']], 'each delivered exactly once');
  await done(r);
});

test('stop() waits for deliveries in flight and starts no new ones', async () => {
  const agent = fakeAgent({ delayMs: 100 });
  const r = rig({ agent, params: { postern_delivery_concurrency_limit: '1' } });
  r.sched.start();
  const a = message(['a@kit.test']);
  const b = message(['b@kit.test']);
  await r.store.enqueue(a);
  await r.store.enqueue(b);
  r.sched.submitted(a);
  r.sched.submitted(b);
  await until('first delivery started', () => agent.calls.length === 1);
  await r.sched.stop();
  assert.match(r.log.lines.join('\n'), /status=sent/, 'the delivery in flight finished before stop() resolved');
  await new Promise((res) => setTimeout(res, 150));
  assert.equal(agent.calls.length, 1, 'nothing new after stop()');
  r.store.close();
});

test('without a notifier, past maximal_queue_lifetime a deferred message is kept with a warning (never dropped)', async () => {
  const table: Record<string, DeliveryTarget[]> = { 'far@remote.example': [{ kind: 'remote', recipient: 'far@remote.example', originalRecipient: 'far@remote.example' }] };
  const r = rig({ table });
  const old = message(['far@remote.example'], { arrival: Date.now() - 6 * 86_400_000, nextAttempt: 0, attempts: 40 });
  await r.store.enqueue(old);
  r.sched.start();
  await until('the attempt', () => r.store.get(old.id)?.attempts === 41 && r.log.lines.some((l) => l.includes('maximal_queue_lifetime exceeded')));
  assert.match(r.log.lines.join('\n'), new RegExp(`postfix/qmgr: warning: ${old.id}: from=<s@example\\.org>, maximal_queue_lifetime exceeded; kept in the queue`));
  const q = r.store.get(old.id)!;
  assert.ok(q.nextAttempt - Date.now() > MAX - 5000, 'an old message waits maximal_backoff_time');
  await done(r);
});

test('past maximal_queue_lifetime the deferred recipients are returned to the sender (expired), then the message is removed', async () => {
  const table: Record<string, DeliveryTarget[]> = { 'far@remote.example': [{ kind: 'defer', recipient: 'far@remote.example', originalRecipient: 'far@remote.example', dsn: '4.4.1', text: 'connect to mx.remote.example[192.0.2.1]:25: Connection refused' }] };
  const calls: { expired: boolean; rcpts: string[] }[] = [];
  const notify: Notifier = async (_msg, results, opts) => {
    calls.push({ expired: opts.expired, rcpts: results.map((x) => `${x.outcome.recipient.recipient}:${x.outcome.status}`) });
    return () => undefined;
  };
  const r = rig({ table, notify });
  const old = message(['far@remote.example'], { arrival: Date.now() - 6 * 86_400_000, nextAttempt: 0, attempts: 40 });
  await r.store.enqueue(old);
  r.sched.start();
  await until('removal', () => r.store.count() === 0 && r.log.lines.some((l) => l.endsWith(': removed')));
  assert.deepEqual(calls, [{ expired: false, rcpts: ['far@remote.example:deferred'] }, { expired: true, rcpts: ['far@remote.example:bounced'] }]);
  assert.match(r.log.lines.join('\n'), new RegExp(`postfix/qmgr: ${old.id}: from=<s@example\\.org>, status=expired, returned to sender\npostfix/qmgr: ${old.id}: removed`));
  await done(r);
});

test('a notice that cannot be queued keeps the recipients for a retry: a failure is never recorded without its bounce', async () => {
  const table: Record<string, DeliveryTarget[]> = { 'gone@kit.test': [{ kind: 'bounce', recipient: 'gone@kit.test', originalRecipient: 'gone@kit.test', dsn: '5.1.1', text: 'unknown user' }] };
  const notify: Notifier = async () => {
    throw new Error('disk full');
  };
  const r = rig({ table, notify });
  const m = message(['gone@kit.test']);
  await r.store.enqueue(m);
  r.sched.start();
  await until('the attempt', () => r.store.get(m.id)?.attempts === 1 && r.log.lines.some((l) => l.includes('cannot queue')));
  assert.equal(r.store.count(), 1, 'the message stays queued');
  assert.match(r.log.lines.join('\n'), /warning: .*cannot queue a delivery status notification: disk full; will retry/);
  await done(r);
});

test('a looping message (hopcount_limit Received: headers) is bounced, not delivered', async () => {
  const r = rig({ params: { hopcount_limit: '3' } });
  r.sched.start();
  const m = message(['alice@kit.test'], { data: Buffer.from('Received: a\r\nReceived: b\r\nReceived: c\r\nSubject: loop\r\n\r\nbody\r\n') });
  await r.store.enqueue(m);
  r.sched.submitted(m);
  await until('removal', () => r.store.count() === 0 && r.log.lines.some((l) => l.endsWith(': removed')));
  assert.deepEqual(r.agent.calls, [], 'nothing delivered');
  assert.match(r.log.lines.join('\n'), /to=<alice@kit\.test>, relay=local, .*dsn=5\.4\.6, status=bounced \(too many hops \(3 Received: headers, hopcount_limit = 3\)\)/);
  await done(r);
});

test('backoff: time in queue, clamped to minimal and maximal backoff (Postfix qmgr)', () => {
  assert.equal(nextRetryDelay(0, MIN, MAX), MIN);
  assert.equal(nextRetryDelay(1_000_000, MIN, MAX), 1_000_000);
  assert.equal(nextRetryDelay(86_400_000, MIN, MAX), MAX);
  assert.equal(nextRetryDelay(10, 5000, 1000), 5000, 'a maximum below the minimum does not shorten the wait');
});

test('fmtDelay: Postfix rounding (0 under 10 ms, two significant digits, whole seconds from 10 s)', () => {
  assert.equal(fmtDelay(0), '0');
  assert.equal(fmtDelay(0.004), '0');
  assert.equal(fmtDelay(0.012), '0.01');
  assert.equal(fmtDelay(0.26), '0.26');
  assert.equal(fmtDelay(1.234), '1.2');
  assert.equal(fmtDelay(9.87), '9.9');
  assert.equal(fmtDelay(12.6), '13');
  assert.equal(fmtDelay(3600.4), '3600');
});
