/**
 * Unit tests of local submission through cleanup (pickup.ts) on a real queue: pickup's
 * Received header, missing headers added in Postfix's order and form, Bcc dropped, a
 * message without headers, and the retry when another process holds the queue ID.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openQueueStore } from '../queue/store.js';
import { newLocalQueueId } from '../queue/queue-id.js';
import { paramsFrom } from '../config/test-params.js';
import { submitLocal } from './pickup.js';
import { displayName } from './missing-headers.js';

const params = paramsFrom({ myhostname: 'mx.test', mail_name: 'Postern' });

function store() {
  return openQueueStore(join(mkdtempSync(join(tmpdir(), 'postern-pickup-')), 'q'));
}

test('Received by pickup on top, Bcc/Return-Path dropped, Message-Id, Date and From appended in that order', async () => {
  const s = store();
  try {
    const data = Buffer.from('Subject: hi\r\nBcc: hidden@example.test\r\nReturn-Path: <x@y>\r\nTo: a@example.test\r\n\r\nbody\r\n');
    const id = await submitLocal({ store: s, params }, { uid: 1000, givenSender: 'joe', sender: 'joe@mx.test', fullname: 'Joe, Jr.', recipients: [{ address: 'a@example.test' }], data });
    const m = s.get(id)!;
    const text = m.data.toString();
    assert.match(text, new RegExp(`^Received: by mx\\.test \\(Postern, from userid 1000\\)\\r\\n\\tid ${id}; \\w{3}, \\d+ \\w{3} \\d{4} [\\d:]{8} [+-]\\d{4} \\(\\w+\\)\\r\\n` +
      `Subject: hi\\r\\nTo: a@example\\.test\\r\\nMessage-Id: <\\d{14}\\.${id}@mx\\.test>\\r\\nDate: .+\\r\\nFrom: "Joe, Jr\\." <joe@mx\\.test>\\r\\n\\r\\nbody\\r\\n$`));
    assert.equal(m.sender, 'joe@mx.test');
    assert.deepEqual(m.recipients, [{ address: 'a@example.test', status: 'pending' }]);
    assert.equal(m.bodyType, '7BIT');
    assert.equal(m.hold, undefined);
  } finally {
    s.close();
  }
});

test('a message without a header section gets the headers and the empty line before its body; <> becomes MAILER-DAEMON', async () => {
  const s = store();
  try {
    const id = await submitLocal({ store: s, params }, { uid: 0, givenSender: '', sender: '', recipients: [{ address: 'a@example.test' }], data: Buffer.from('just a body line\r\n\xe9\r\n', 'latin1') });
    const text = s.get(id)!.data.toString('latin1');
    assert.match(text, /\r\nFrom: MAILER-DAEMON\r\n\r\njust a body line\r\n\xe9\r\n$/);
    assert.equal(s.get(id)!.bodyType, '8BITMIME');
  } finally {
    s.close();
  }
});

test('an ID taken by another process is skipped: a new ID, the other message untouched', async () => {
  const s = store();
  try {
    // Take the next few local IDs as another sendmail process would have.
    const probe = newLocalQueueId();
    const base = Number.parseInt(probe, 16);
    const taken = [16, 32, 48].map((d) => (base + d).toString(16).toUpperCase());
    for (const id of taken) {
      await s.enqueue({ id, arrival: 1, sender: 'other@x', recipients: [{ address: 'o@x', status: 'pending' }], data: Buffer.from('other\r\n'), client: 'local', nextAttempt: 1, attempts: 0 });
    }
    const id = await submitLocal({ store: s, params }, { uid: 0, givenSender: 'root', sender: 'root@mx.test', recipients: [{ address: 'a@example.test' }], data: Buffer.from('Subject: mine\r\n\r\nx\r\n') });
    assert.ok(!taken.includes(id));
    assert.match(s.get(id)!.data.toString(), new RegExp(`id ${id};[\\s\\S]*Subject: mine`));
    for (const t of taken) assert.equal(s.get(t)!.data.toString(), 'other\r\n');
  } finally {
    s.close();
  }
});

test('display names are quoted only when they hold specials', () => {
  assert.equal(displayName('Cron Daemon'), 'Cron Daemon');
  assert.equal(displayName('Joe, Jr.'), '"Joe, Jr."');
  assert.equal(displayName('say "hi"'), '"say \\"hi\\""');
});
