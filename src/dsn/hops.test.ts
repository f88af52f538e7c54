/** Unit tests of hop counting (hopcount_limit): Received: headers in the header section only. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countReceived, checkHops, TOO_MANY_HOPS_REPLY } from './hops.js';

const received = (n: number) => Array.from({ length: n }, (_, i) => `Received: from h${i}.example (h${i}.example [192.0.2.${i % 250}])\r\n\tby mx.example.net (Postern) with ESMTP id X${i}; Mon, 2 Jun 2025 12:00:00 +0000\r\n`).join('');

test('countReceived: folded Received: headers count once, any case; the body does not count', () => {
  const data = Buffer.from(`${received(3)}RECEIVED: by x\r\nreceived :by y\r\nX-Received: not one\r\nSubject: s\r\n\r\nReceived: in the body\r\n`);
  assert.equal(countReceived(data), 5);
  assert.equal(countReceived(Buffer.from('Subject: none\r\n\r\nReceived: body\r\n')), 0);
  assert.equal(countReceived(Buffer.from('\r\nReceived: body only\r\n')), 0);
});

test('checkHops: below hopcount_limit passes; at the limit the message bounces 5.4.6 "too many hops"', () => {
  assert.equal(checkHops(Buffer.from(`${received(49)}\r\nbody\r\n`), 50), undefined);
  assert.deepEqual(checkHops(Buffer.from(`${received(50)}\r\nbody\r\n`), 50), { status: 'bounced', dsn: '5.4.6', text: 'too many hops (50 Received: headers, hopcount_limit = 50)' });
  assert.equal(checkHops(Buffer.from(`${received(3)}\r\nbody\r\n`), 3)?.dsn, '5.4.6');
  assert.deepEqual(TOO_MANY_HOPS_REPLY, { code: 554, enhanced: '5.4.0', text: 'Error: too many hops' });
});
