/** The Maildir agent: headers, outcomes per target, forwarding loops, failure DSNs. */

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paramsFrom } from '../../config/test-params.js';
import type { QueuedMessage } from '../../queue/types.js';
import type { DeliveryTarget } from '../../resolve/types.js';
import { createMaildirAgent, failureOutcome, hasDeliveredTo } from './agent.js';

const root = mkdtempSync(join(tmpdir(), 'postern-agent-'));
const agent = createMaildirAgent({ params: paramsFrom({}) });
after(() => agent.close());

function message(data: string, sender = 'sender@remote.example'): QueuedMessage {
  return { id: 'ABC123', arrival: Date.now(), sender, recipients: [], data: Buffer.from(data), client: 'client.example[192.0.2.1]', nextAttempt: 0, attempts: 0 };
}
const md = (path: string, recipient: string, originalRecipient = recipient, via: 'local' | 'virtual' = 'virtual'): DeliveryTarget =>
  ({ kind: 'maildir', via, path, recipient, originalRecipient });
const only = (dir: string): string => {
  const files = readdirSync(join(dir, 'new'));
  assert.equal(files.length, 1);
  return readFileSync(join(dir, 'new', files[0]!), 'latin1');
};

test('delivers each target with Return-Path, X-Original-To and Delivered-To, LF endings', async () => {
  const a = join(root, 'alice/');
  const b = join(root, 'bob/');
  const out = await agent.deliver(message('Received: from x\r\nSubject: t\r\n\r\nhello\r\n'), [md(a, 'alice@mx.test', 'root@mx.test', 'local'), md(b, 'bob@example.test')]);
  assert.deepEqual(out.map((o) => [o.status, o.dsn, o.text, o.relay]), [
    ['sent', '2.0.0', 'delivered to maildir', 'local'],
    ['sent', '2.0.0', 'delivered to maildir', 'virtual'],
  ]);
  assert.equal(only(a), 'Return-Path: <sender@remote.example>\nX-Original-To: root@mx.test\nDelivered-To: alice@mx.test\nReceived: from x\nSubject: t\n\nhello\n');
  assert.equal(only(b), 'Return-Path: <sender@remote.example>\nX-Original-To: bob@example.test\nDelivered-To: bob@example.test\nReceived: from x\nSubject: t\n\nhello\n');
});

test('the null sender is written as Return-Path: <>', async () => {
  const d = join(root, 'null/');
  await agent.deliver(message('Subject: bounce\r\n\r\nx\r\n', ''), [md(d, 'u@example.test')]);
  assert.match(only(d), /^Return-Path: <>\n/);
});

test('a Delivered-To header for the recipient is a forwarding loop: bounced, nothing written', async () => {
  const d = join(root, 'loop/');
  const [o] = await agent.deliver(message('Delivered-To: Alice@MX.test\r\nSubject: x\r\n\r\nDelivered-To: other@x\r\n'), [md(d, 'alice@mx.test')]);
  assert.deepEqual([o!.status, o!.dsn, o!.text], ['bounced', '5.4.6', 'mail forwarding loop for alice@mx.test']);
  assert.throws(() => readdirSync(d));
  // A Delivered-To for someone else, or in the body, is not a loop.
  assert.equal(hasDeliveredTo(Buffer.from('Delivered-To: bob@mx.test\r\n\r\nDelivered-To: alice@mx.test\r\n'), 'alice@mx.test'), false);
  assert.equal(hasDeliveredTo(Buffer.from('Subject: a\r\nDELIVERED-TO:   <alice@mx.test>\r\n\r\n'), 'alice@mx.test'), true);
});

test('an unwritable Maildir is deferred with the error, other targets still delivered', async () => {
  const file = join(root, 'notadir');
  writeFileSync(file, '');
  const good = join(root, 'good/');
  const out = await agent.deliver(message('Subject: x\r\n\r\ny\r\n'), [md(join(file, 'Maildir/'), 'u@example.test'), md(good, 'v@example.test')]);
  assert.equal(out[0]!.status, 'deferred');
  assert.equal(out[0]!.dsn, '4.2.0');
  assert.equal(out[0]!.text, `maildir delivery failed: cannot update maildir ${join(file, 'Maildir/')}: Not a directory`);
  assert.equal(out[1]!.status, 'sent');
  only(good);
  if (process.getuid?.() !== 0) {
    // Permission denied only bites when we are not root.
    const ro = join(root, 'readonly');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    const [o] = await agent.deliver(message('S: x\r\n\r\n'), [md(join(ro, 'Maildir/'), 'w@example.test')]);
    assert.deepEqual([o!.status, o!.dsn], ['deferred', '4.2.0']);
    assert.match(o!.text, /Permission denied$/);
  }
});

test('errno → DSN: full disk 4.3.1, permissions 4.2.0, anything else 4.3.0', () => {
  const t = md('/m/', 'u@x.test');
  const err = (code: string) => Object.assign(new Error(`${code}: x`), { code });
  assert.deepEqual([failureOutcome(t, 'virtual', err('ENOSPC')).dsn, failureOutcome(t, 'virtual', err('ENOSPC')).text], ['4.3.1', 'maildir delivery failed: cannot update maildir /m/: No space left on device']);
  assert.equal(failureOutcome(t, 'virtual', err('EDQUOT')).dsn, '4.3.1');
  assert.equal(failureOutcome(t, 'virtual', err('EACCES')).dsn, '4.2.0');
  assert.equal(failureOutcome(t, 'virtual', err('EIO')).dsn, '4.3.0');
  assert.equal(failureOutcome(t, 'virtual', err('EWEIRD')).text, 'maildir delivery failed: cannot update maildir /m/: EWEIRD: x');
  assert.equal(failureOutcome(t, 'virtual', err('ENOSPC')).status, 'deferred');
});

test('a non-Maildir target is deferred, not thrown', async () => {
  const [o] = await agent.deliver(message('S: x\r\n\r\n'), [{ kind: 'remote', recipient: 'r@else.example', originalRecipient: 'r@else.example' }]);
  assert.equal(o!.status, 'deferred');
});
