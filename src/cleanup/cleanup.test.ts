/**
 * Unit tests of cleanup: the Received: header in Postfix's layout, Message-ID logging,
 * PREPEND/HOLD/DISCARD/REDIRECT effects, the 250 only after the store resolved, and the
 * 451/452 replies for failed writes (the promise never rejects).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCleanup, findMessageId } from './cleanup.js';
import { receivedHeader, rfc5322Date, withProtocol } from './received.js';
import type { Submission } from './types.js';
import type { QueueStore } from '../queue/store.js';
import { QueueWriteError, type QueuedMessage } from '../queue/types.js';
import type { MailLog } from '../log/maillog.js';
import type { SessionFacts } from '../policy/types.js';
import { paramsFrom } from '../config/test-params.js';
import { formatReply } from '../protocol/reply.js';

const params = paramsFrom({ myhostname: 'mx.example.test', syslog_name: 'postfix' });

function facts(over: Partial<SessionFacts> = {}): SessionFacts {
  return {
    client: { addr: '192.0.2.7', port: 40000, name: 'client.example.org', reverseName: 'client.example.org', nameStatus: 'ok' },
    serviceName: 'smtp', params, helo: 'helo.example.org', protocol: 'ESMTP', tls: false,
    recipientCount: 1, unauthPipelining: false, ...over,
  };
}

function fakeLog(): MailLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    line: (p: string, m: string) => void lines.push(`${p}: ${m}`),
    warning: (p: string, m: string) => void lines.push(`${p}: warning: ${m}`),
    error: (p: string, m: string) => void lines.push(`${p}: error: ${m}`),
  } as unknown as MailLog & { lines: string[] };
}

function fakeStore(fail?: QueueWriteError): QueueStore & { stored: QueuedMessage[] } {
  const stored: QueuedMessage[] = [];
  return {
    stored,
    enqueue: async (m: QueuedMessage) => {
      await new Promise((r) => setImmediate(r));
      if (fail) throw fail;
      stored.push(m);
    },
  } as unknown as QueueStore & { stored: QueuedMessage[] };
}

function submission(over: Partial<Submission> = {}): Submission {
  return {
    queueId: 'ABCDEF12345', sender: 'alice@example.org', recipients: [{ address: 'bob@example.test' }],
    data: Buffer.from('Message-ID: <m1@example.org>\r\nSubject: hi\r\n\r\nhello\r\n'),
    facts: facts(), effects: { prepend: [] }, clientLabel: 'client.example.org[192.0.2.7]', ...over,
  };
}

const DATE = /(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([^)]+\)/.source;

test('Received: one recipient → "for <rcpt>; date" on the third line (Postfix layout)', () => {
  const h = receivedHeader(facts(), { myhostname: 'mx.example.test', mailName: 'Postern', queueId: 'ABC', recipients: ['bob@example.test'], date: new Date() });
  assert.match(h, new RegExp(`^Received: from helo\\.example\\.org \\(client\\.example\\.org \\[192\\.0\\.2\\.7\\]\\)\\r\\n\\tby mx\\.example\\.test \\(Postern\\) with ESMTP id ABC\\r\\n\\tfor <bob@example\\.test>; ${DATE}\\r\\n$`));
});

test('Received: several recipients → "id ID;" then the date alone; no HELO → client name; IPv6 tag', () => {
  const f = facts({ helo: undefined, client: { addr: '2001:db8::1', port: 1, name: 'unknown', reverseName: 'unknown', nameStatus: 'unknown' } });
  const h = receivedHeader(f, { myhostname: 'mx', mailName: 'Postern', queueId: 'ABC', recipients: ['a@x', 'b@x'], date: new Date() });
  assert.match(h, new RegExp(`^Received: from unknown \\(unknown \\[IPv6:2001:db8::1\\]\\)\\r\\n\\tby mx \\(Postern\\) with ESMTP id ABC;\\r\\n\\t${DATE}\\r\\n$`));
});

test('Received: protocol names per RFC 3848 (ESMTPS, ESMTPA, ESMTPSA; plain SMTP for HELO)', () => {
  assert.equal(withProtocol(facts()), 'ESMTP');
  assert.equal(withProtocol(facts({ tls: true })), 'ESMTPS');
  assert.equal(withProtocol(facts({ saslUsername: 'u' })), 'ESMTPA');
  assert.equal(withProtocol(facts({ tls: true, saslUsername: 'u' })), 'ESMTPSA');
  assert.equal(withProtocol(facts({ protocol: 'SMTP', tls: true })), 'SMTP');
});

test('rfc5322Date: weekday, date, time, numeric zone and zone name, in local time', () => {
  const d = new Date(Date.UTC(2026, 10, 22, 9, 45, 1));
  const s = rfc5322Date(d);
  assert.match(s, new RegExp(`^${DATE}$`));
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  assert.ok(s.includes(`${sign}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')} (`));
  assert.ok(s.includes(`${String(d.getHours()).padStart(2, '0')}:45:01`));
});

test('findMessageId: the header value, unfolded, case-insensitive; "" when absent or only in the body', () => {
  assert.equal(findMessageId(Buffer.from('Subject: x\r\nmessage-ID:\r\n  <a@b>\r\n\r\nbody')), '<a@b>');
  assert.equal(findMessageId(Buffer.from('Subject: x\r\n\r\nMessage-ID: <body@b>\r\n')), '');
});

test('submit: Received + prepends before the data, 250 after the store resolved, Postfix log lines', async () => {
  const store = fakeStore();
  const log = fakeLog();
  const woken: string[] = [];
  const cleanup = createCleanup({ store, log, params, scheduler: { submitted: (m) => void woken.push(m.id) } });
  const s = submission({ effects: { prepend: ['X-Tag: one', 'X-Multi: a\n\tb'] } });
  const r = await cleanup.submit(s);
  assert.equal(formatReply(r), '250 2.0.0 Ok: queued as ABCDEF12345\r\n');
  assert.equal(store.stored.length, 1);
  const m = store.stored[0]!;
  const text = m.data.toString();
  assert.ok(text.startsWith('X-Tag: one\r\nX-Multi: a\r\n\tb\r\nReceived: from helo.example.org (client.example.org [192.0.2.7])\r\n\tby mx.example.test (Postern) with ESMTP id ABCDEF12345\r\n\tfor <bob@example.test>; '));
  assert.ok(m.data.subarray(m.data.length - s.data.length).equals(s.data), 'the client data follows unchanged');
  assert.deepEqual(m.recipients, [{ address: 'bob@example.test', status: 'pending' }]);
  assert.equal(m.client, 'client.example.org[192.0.2.7]');
  assert.deepEqual(woken, ['ABCDEF12345']);
  assert.deepEqual(log.lines, [
    'postfix/cleanup: ABCDEF12345: message-id=<m1@example.org>',
    `postfix/qmgr: ABCDEF12345: from=<alice@example.org>, size=${m.data.length}, nrcpt=1 (queue active)`,
  ]);
});

test('submit: no Message-ID logs "message-id=<>" as Postfix; null sender logs from=<>', async () => {
  const log = fakeLog();
  const cleanup = createCleanup({ store: fakeStore(), log, params, scheduler: { submitted: () => undefined } });
  await cleanup.submit(submission({ sender: '', data: Buffer.from('Subject: none\r\n\r\nx\r\n') }));
  assert.equal(log.lines[0], 'postfix/cleanup: ABCDEF12345: message-id=<>');
  assert.match(log.lines[1]!, /: from=<>, size=\d+, nrcpt=1 \(queue active\)$/);
});

test('submit: HOLD stores the message held and does not hand it to the scheduler', async () => {
  const store = fakeStore();
  const log = fakeLog();
  const woken: string[] = [];
  const cleanup = createCleanup({ store, log, params, scheduler: { submitted: (m) => void woken.push(m.id) } });
  const r = await cleanup.submit(submission({ effects: { prepend: [], hold: 'suspicious' } }));
  assert.equal(r.code, 250);
  assert.equal(store.stored[0]!.hold, 'suspicious');
  assert.deepEqual(woken, []);
  assert.equal(log.lines[1], 'postfix/cleanup: ABCDEF12345: hold: suspicious');
});

test('submit: DISCARD answers 250 without storing; REDIRECT replaces the recipients', async () => {
  const store = fakeStore();
  const log = fakeLog();
  const cleanup = createCleanup({ store, log, params, scheduler: { submitted: () => undefined } });
  const r = await cleanup.submit(submission({ effects: { prepend: [], discard: 'spam' } }));
  assert.equal(formatReply(r), '250 2.0.0 Ok: queued as ABCDEF12345\r\n');
  assert.equal(store.stored.length, 0);
  assert.deepEqual(log.lines.slice(1), ['postfix/cleanup: ABCDEF12345: discard: spam', 'postfix/qmgr: ABCDEF12345: removed']);
  await cleanup.submit(submission({ recipients: [{ address: 'a@x' }, { address: 'b@x' }], effects: { prepend: [], redirect: 'trap@example.test' } }));
  assert.deepEqual(store.stored[0]!.recipients.map((x) => x.address), ['trap@example.test']);
});

test('submit: write errors → 451 4.3.0, full disk → 452 4.3.1, a warning, never a rejection', async () => {
  for (const [err, want] of [
    [new QueueWriteError('disk I/O error', 'io'), '451 4.3.0 Error: queue file write error\r\n'],
    [new QueueWriteError('database or disk is full', 'nospace'), '452 4.3.1 Insufficient system storage\r\n'],
    [new Error('unexpected'), '451 4.3.0 Error: queue file write error\r\n'],
  ] as const) {
    const log = fakeLog();
    const woken: string[] = [];
    const cleanup = createCleanup({ store: fakeStore(err as QueueWriteError), log, params, scheduler: { submitted: (m) => void woken.push(m.id) } });
    const r = await cleanup.submit(submission());
    assert.equal(formatReply(r), want);
    assert.deepEqual(woken, []);
    assert.equal(log.lines.at(-1), `postfix/cleanup: warning: ABCDEF12345: queue file write error: ${err.message}`);
  }
});

test('newQueueId gives distinct upper-case hex IDs', () => {
  const cleanup = createCleanup({ store: fakeStore(), log: fakeLog(), params, scheduler: { submitted: () => undefined } });
  const ids = new Set(Array.from({ length: 100 }, () => cleanup.newQueueId()));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[0-9A-F]{10,12}$/);
});
