/** Unit tests of sendmail's command line and input rules (the e2e test runs the real command). */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSendmailArgs, SendmailUsageError } from './sendmail-args.js';
import { normaliseInput } from './sendmail.js';

test('getopt-style options: grouped flags, attached and separate values, -o values, -- and recipients anywhere', () => {
  const a = parseSendmailArgs(['-ti', '-fsender@example.test', '-F', 'Full Name', '-oem', 'rcpt1', '-N', 'success,failure', '-R', 'hdrs', '-V', 'env1', '--', '-odd-rcpt']);
  assert.equal(a.extractRecipients, true);
  assert.equal(a.ignoreDots, true);
  assert.equal(a.sender, 'sender@example.test');
  assert.equal(a.fullname, 'Full Name');
  assert.deepEqual(a.notify, ['SUCCESS', 'FAILURE']);
  assert.equal(a.ret, 'HDRS');
  assert.equal(a.envid, 'env1');
  assert.deepEqual(a.recipients, ['rcpt1', '-odd-rcpt']);
  assert.equal(parseSendmailArgs(['-oi']).ignoreDots, true);
  assert.equal(parseSendmailArgs(['-o', 'i']).ignoreDots, true);
  assert.equal(parseSendmailArgs(['-r', 'x@example.test']).sender, 'x@example.test');
  assert.equal(parseSendmailArgs(['-bs']).mode, 'smtp');
  assert.equal(parseSendmailArgs(['-bm', 'a']).mode, 'deliver');
  assert.equal(parseSendmailArgs(['-bp']).mode, 'list');
  assert.equal(parseSendmailArgs(['-q']).mode, 'flush');
  assert.equal(parseSendmailArgs(['-q30m']).mode, 'flush');
  assert.equal(parseSendmailArgs(['-bi']).mode, 'unsupported');
  assert.equal(parseSendmailArgs(['-C', '/etc/x', 'a']).configDir, '/etc/x');
});

test('bad options are usage errors', () => {
  assert.throws(() => parseSendmailArgs(['-Z']), SendmailUsageError);
  assert.throws(() => parseSendmailArgs(['-f']), /requires an argument/);
  assert.throws(() => parseSendmailArgs(['-N', 'never,success']), SendmailUsageError);
  assert.throws(() => parseSendmailArgs(['-R', 'all']), SendmailUsageError);
  assert.throws(() => parseSendmailArgs(['-bX']), /unknown mode/);
});

test('input: CRLF out, a lone "." ends it unless -i, no dot-unstuffing, a leading mbox From_ line dropped', () => {
  const input = Buffer.from('From root Mon Nov 30 00:00:00 2026\nSubject: x\r\n\n..two\n.\nafter\n');
  assert.equal(normaliseInput(input, false).toString(), 'Subject: x\r\n\r\n..two\r\n');
  assert.equal(normaliseInput(input, true).toString(), 'Subject: x\r\n\r\n..two\r\n.\r\nafter\r\n');
  assert.equal(normaliseInput(Buffer.from('no final newline'), true).toString(), 'no final newline\r\n');
  const eight = Buffer.from('Subject: caf\xe9\n\n\xff\n', 'latin1');
  assert.deepEqual(normaliseInput(eight, true), Buffer.from('Subject: caf\xe9\r\n\r\n\xff\r\n', 'latin1'));
});
