/** The spamd reply parser and server syntax; the exchange itself is tested against the real spamd in test/e2e/spamd.test.ts. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpamdReply, parseSpamdServer } from './client.js';
import { spamHeaders } from './stage.js';

test('spamd replies: verdict, score, threshold, symbols; errors refused', () => {
  assert.deepEqual(parseSpamdReply('SPAMD/1.1 0 EX_OK\r\nContent-length: 11\r\nSpam: True ; 1005.2 / 5.0\r\n\r\nGTUBE,NO_RELAYS'), { isSpam: true, score: 1005.2, threshold: 5, symbols: ['GTUBE', 'NO_RELAYS'] });
  assert.deepEqual(parseSpamdReply('SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.1 / 5.0\r\n\r\n'), { isSpam: false, score: -0.1, threshold: 5, symbols: [] });
  assert.throws(() => parseSpamdReply('SPAMD/1.0 76 Bad header line: xx\r\n\r\n'), /spamd error 76 Bad header line/);
  assert.throws(() => parseSpamdReply('HTTP/1.1 200 OK\r\n\r\n'), /unexpected spamd reply/);
});

test('postern_spamd_server forms', () => {
  assert.deepEqual(parseSpamdServer('127.0.0.1:783'), { host: '127.0.0.1', port: 783, label: '127.0.0.1:783' });
  assert.deepEqual(parseSpamdServer('[::1]:7830'), { host: '::1', port: 7830, label: '[::1]:7830' });
  assert.deepEqual(parseSpamdServer('localhost'), { host: 'localhost', port: 783, label: 'localhost' });
  assert.deepEqual(parseSpamdServer('unix:/run/spamd.sock'), { path: '/run/spamd.sock', label: 'unix:/run/spamd.sock' });
  assert.equal(parseSpamdServer(''), undefined);
  assert.throws(() => parseSpamdServer('a:b:c'), /not host:port/);
});

test('X-Spam headers in SpamAssassin\'s layout', () => {
  assert.equal(spamHeaders({ isSpam: true, score: 1005.2, threshold: 5, symbols: ['GTUBE', 'NO_RELAYS'] }),
    'X-Spam-Flag: YES\r\nX-Spam-Score: 1005.2\r\nX-Spam-Status: Yes, score=1005.2 required=5.0\r\n\ttests=GTUBE,NO_RELAYS\r\n');
});
