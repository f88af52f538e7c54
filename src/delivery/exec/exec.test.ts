/** Shared command-delivery pieces: quoting, mail_copy, sysexits mapping, running commands. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quote822Local } from './quote-822.js';
import { mailCopy, asctime, envelopeLines } from './mail-copy.js';
import { commandStatus, dsnPrefix } from './command-status.js';
import { runCommand, printableOutput } from './run-command.js';
import { sysExitDetail } from './sysexits.js';

test('quote822Local quotes only local parts that are not dot-atoms', () => {
  assert.equal(quote822Local('user.name+tag@Example.COM'), 'user.name+tag@Example.COM');
  assert.equal(quote822Local('john doe@example.com'), '"john doe"@example.com');
  assert.equal(quote822Local('a"b\\c@x'), '"a\\"b\\\\c"@x');
  assert.equal(quote822Local('.start@x'), '".start"@x');
  assert.equal(quote822Local('a..b@x'), '"a..b"@x');
  assert.equal(quote822Local('semi;colon'), '"semi;colon"');
  assert.equal(quote822Local('@r1,@r2:a b@x'), '@r1,@r2:"a b"@x');
  assert.equal(quote822Local('ünïcode@x'), 'ünïcode@x', '8-bit is left alone');
});

test('asctime pads the day with a space like asctime(3)', () => {
  assert.equal(asctime(new Date(2026, 7, 2, 6, 5, 4)), 'Sun Aug  2 06:05:04 2026');
  assert.equal(asctime(new Date(2026, 10, 30, 23, 59, 0)), 'Mon Nov 30 23:59:00 2026');
});

const env = { sender: 'bob@remote.test', originalRecipient: 'Alias@Example.test', recipient: 'alice@example.test' };
const when = new Date(2026, 0, 5, 9, 8, 7);

test('mailCopy: envelope lines in Postfix order, CRLF → eol, last line terminated', () => {
  const data = Buffer.from('Subject: x\r\n\r\nline1\r\nno newline at end');
  const all = { from: true, returnPath: true, origRcpt: true, delivered: true };
  assert.equal(mailCopy(data, env, all, '\n', when).toString(),
    'From bob@remote.test  Mon Jan  5 09:08:07 2026\nReturn-Path: <bob@remote.test>\nX-Original-To: Alias@Example.test\nDelivered-To: alice@example.test\nSubject: x\n\nline1\nno newline at end\n');
  assert.equal(mailCopy(Buffer.from('a\r\nb\r\n'), env, {}, '\r\n').toString(), 'a\r\nb\r\n', 'eol=\\r\\n');
  assert.equal(mailCopy(Buffer.from('a\r\nb\r\n'), env, {}).toString(), 'a\nb\n', 'default eol is LF');
});

test('mailCopy: > quotes "From " lines, . doubles leading dots, B appends a blank line', () => {
  const data = Buffer.from('Subject: x\r\n\r\nFrom here\r\n>From there\r\nFromage\r\n.dot\r\n');
  assert.equal(mailCopy(data, env, { quoteFrom: true, blank: true }).toString(), 'Subject: x\n\n>From here\n>From there\nFromage\n.dot\n\n');
  assert.equal(mailCopy(data, env, { dot: true }).toString(), 'Subject: x\n\nFrom here\n>From there\nFromage\n..dot\n');
});

test('null sender: From MAILER-DAEMON and Return-Path: <>; quoted sender; empty original recipient skipped', () => {
  assert.equal(envelopeLines({ ...env, sender: '', originalRecipient: '' }, { from: true, returnPath: true, origRcpt: true }, '\n', when),
    'From MAILER-DAEMON  Mon Jan  5 09:08:07 2026\nReturn-Path: <>\n');
  assert.equal(envelopeLines({ ...env, sender: 'a b@x' }, { returnPath: true }, '\n'), 'Return-Path: <"a b"@x>\n');
});

test('sysexits table as Postfix has it', () => {
  assert.deepEqual([64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78].map((c) => sysExitDetail(c).dsn),
    ['5.3.0', '5.6.0', '5.3.0', '5.1.1', '5.1.2', '5.3.0', '5.3.0', '4.3.0', '5.3.0', '5.2.0', '5.3.0', '4.3.0', '5.5.0', '5.7.0', '5.3.5']);
  assert.equal(sysExitDetail(67).text, 'user unknown');
  assert.equal(sysExitDetail(3).text, 'unknown mail system error 3');
});

test('commandStatus maps exits, output, signals and time limits with Postfix texts', () => {
  const cmd = '/usr/lib/dovecot/deliver';
  const s = (r: Parameters<typeof commandStatus>[0]): [string, string, string] => {
    const x = commandStatus(r, cmd, 'pipe');
    return [x.status, x.dsn, x.text];
  };
  assert.deepEqual(s({ kind: 'exit', code: 0, output: '' }), ['sent', '2.0.0', '']);
  assert.deepEqual(s({ kind: 'exit', code: 75, output: '' }), ['deferred', '4.3.0', 'temporary failure']);
  assert.deepEqual(s({ kind: 'exit', code: 67, output: '' }), ['bounced', '5.1.1', 'user unknown']);
  assert.deepEqual(s({ kind: 'exit', code: 67, output: 'No such user ' }), ['bounced', '5.1.1', 'user unknown. Command output: No such user ']);
  assert.deepEqual(s({ kind: 'exit', code: 71, output: '' }), ['deferred', '4.3.0', 'system resource problem']);
  assert.deepEqual(s({ kind: 'exit', code: 78, output: '' }), ['bounced', '5.3.5', 'local configuration error']);
  assert.deepEqual(s({ kind: 'exit', code: 1, output: 'oops ' }), ['bounced', '5.3.0', 'Command died with status 1: "/usr/lib/dovecot/deliver". Command output: oops ']);
  assert.deepEqual(s({ kind: 'exit', code: 1, output: '4.2.2 Mailbox full ' }), ['deferred', '4.2.2', 'Mailbox full ']);
  assert.deepEqual(s({ kind: 'exit', code: 75, output: '5.7.1 go away' }), ['bounced', '5.7.1', 'go away'], 'D.S.N output wins over the exit status');
  assert.deepEqual(s({ kind: 'signal', signal: 9, output: '' }), ['deferred', '4.3.0', 'Command died with signal 9: "/usr/lib/dovecot/deliver"']);
  assert.deepEqual(s({ kind: 'timeout', output: '' }), ['bounced', '5.3.0', 'Command time limit exceeded: "/usr/lib/dovecot/deliver"']);
  const e = commandStatus({ kind: 'spawn-error', error: Object.assign(new Error('x'), { code: 'ENOENT' }), output: '' }, '/no/such', 'pipe');
  assert.deepEqual([e.status, e.dsn, e.text], ['deferred', '4.3.0', 'temporary failure. Command output: pipe: fatal: pipe_command: execvp /no/such: No such file or directory ']);
  assert.equal(commandStatus({ kind: 'exit', code: 67, output: '' }, cmd, 'pipe').diagnostic, 'x-unix; user unknown');
  assert.equal(dsnPrefix('5.1.10 x'), 6);
  assert.equal(dsnPrefix('5.1.1000'), 0);
  assert.equal(dsnPrefix('3.1.1 x'), 0);
});

test('printableOutput: tabs/newlines → space, control bytes and broken UTF-8 → _', () => {
  assert.equal(printableOutput(Buffer.from('a\tb\nc\r\x01é')), 'a b c__é');
  assert.equal(printableOutput(Buffer.from([0x61, 0xff, 0xc3])), 'a__');
});

const base = { env: { PATH: '/usr/bin:/bin' }, input: Buffer.from('hello\n'), timeLimitMs: 5000 };

test('runCommand: exit code, input on stdin, stdout and stderr captured', async () => {
  const r = await runCommand({ ...base, argv: ['/bin/sh', '-c', 'read x; echo "got $x"; echo err >&2; exit 3'] });
  assert.equal(r.kind, 'exit');
  assert.equal(r.kind === 'exit' && r.code, 3);
  assert.match(r.output, /^got hello (err )?/);
  assert.match(r.output, /err /);
});

test('runCommand: a command that ignores its input is not an error (EPIPE ignored)', async () => {
  const r = await runCommand({ ...base, input: Buffer.alloc(1 << 20, 0x61), shellCommand: 'exit 0' });
  assert.deepEqual(r, { kind: 'exit', code: 0, output: '' });
});

test('runCommand: the time limit kills the whole process group', async () => {
  const t0 = Date.now();
  const r = await runCommand({ ...base, timeLimitMs: 300, shellCommand: 'sleep 30 & sleep 30; echo never' });
  assert.equal(r.kind, 'timeout');
  assert.ok(Date.now() - t0 < 5000);
});

test('runCommand: a signal is reported by number; a missing program is a spawn error', async () => {
  const r = await runCommand({ ...base, shellCommand: 'kill -TERM $$' });
  assert.deepEqual(r, { kind: 'signal', signal: 15, output: '' });
  const m = await runCommand({ ...base, argv: ['/nonexistent/program'] });
  assert.equal(m.kind, 'spawn-error');
});

test('runCommand: runs as the given uid/gid with only the given environment (tests run as root)', async () => {
  const r = await runCommand({ ...base, env: { PATH: '/usr/bin:/bin', FOO: 'bar' }, uid: 65534, gid: 65534, cwd: '/', shellCommand: 'echo "$(id -u):$(id -g):$(id -G):$FOO:$HOME"' });
  assert.deepEqual(r, { kind: 'exit', code: 0, output: '65534:65534:65534:bar: ' });
});
