/**
 * local(8) alias deliveries to commands and mbox files, for real: commands and the mbox
 * writer run as default_privs (nobody; the tests run as root), so file rights are checked
 * as that user.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, chownSync, chmodSync, readFileSync, existsSync, statSync, symlinkSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paramsFrom } from '../../config/test-params.js';
import type { MailLog } from '../../log/maillog.js';
import type { QueuedMessage } from '../../queue/types.js';
import type { DeliveryOutcome } from '../types.js';
import type { DeliveryTarget } from '../../resolve/types.js';
import { createLocalAgent } from './agent.js';
import { appendMbox } from './mbox.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-local-'));
chmodSync(dir, 0o755);
const out = join(dir, 'out');
mkdirSync(out);
chownSync(out, 65534, 65534);
const rootOnly = join(dir, 'root-only');
mkdirSync(rootOnly, { mode: 0o755 });

function fakeLog(): MailLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, line: (p: string, m: string) => void lines.push(`${p}: ${m}`), warning: (p: string, m: string) => void lines.push(`${p}: warning: ${m}`) } as unknown as MailLog & { lines: string[] };
}

const BODY = 'From: Bob <bob@remote.test>\r\nSubject: alias test\r\n\r\nFrom the top\r\n>From quoted already\r\nend\r\n';
const LF = BODY.replace(/\r\n/g, '\n');
function message(data = BODY, sender = 'bob@remote.test'): QueuedMessage {
  return { id: '4XyzLOCAL1', arrival: Date.now(), sender, recipients: [], data: Buffer.from(data), client: 'client.example[192.0.2.1]', nextAttempt: 0, attempts: 0 };
}
const agent = (params: Record<string, string> = {}, log?: MailLog) => createLocalAgent({ params: paramsFrom({ queue_directory: dir, recipient_delimiter: '+', ...params }), log });
const cmd = (command: string, recipient = 'list+news@example.test', originalRecipient = 'info@example.test'): DeliveryTarget => ({ kind: 'command', command, recipient, originalRecipient });
const file = (path: string, recipient = 'archive@example.test'): DeliveryTarget => ({ kind: 'file', path, recipient, originalRecipient: recipient });
const brief = (o: DeliveryOutcome[]): string[][] => o.map((x) => [x.status, x.dsn, x.text, x.relay]);
const FROM_LINE = /^From bob@remote\.test  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/;

test('"|cat > FILE": the command gets From_, Return-Path, X-Original-To, Delivered-To and the message', async () => {
  const f = join(out, 'cmd.txt');
  const o = await agent().deliver(message(), [cmd(`cat > ${f}`)]);
  assert.deepEqual(brief(o), [['sent', '2.0.0', `delivered to command: cat > ${f}`, 'local']]);
  const got = readFileSync(f, 'latin1');
  assert.match(got, FROM_LINE);
  assert.equal(got.replace(FROM_LINE, ''), `Return-Path: <bob@remote.test>\nX-Original-To: info@example.test\nDelivered-To: list+news@example.test\n${LF}`);
});

test('commands run as default_privs with local(8)\'s environment, censored', async () => {
  const f = join(out, 'env.txt');
  const msg = { ...message(), sender: 'we$ird;sender@remote.test' };
  await agent().deliver(msg, [cmd(`cat >/dev/null; echo "$(id -u):$(id -g) $USER $LOGNAME $LOCAL $EXTENSION $DOMAIN $RECIPIENT $ORIGINAL_RECIPIENT $SENDER $CLIENT_ADDRESS $PATH \${HOME-nohome}" > ${f}`)]);
  assert.equal(readFileSync(f, 'utf8'), '65534:65534 list list list+news news example.test list+news@example.test info@example.test we_ird_sender@remote.test 192.0.2.1 /usr/bin:/bin nohome\n');
});

test('command exit codes: 75 defers, 67 bounces "user unknown", others bounce with the output', async () => {
  const o = await agent().deliver(message(), [cmd('exit 75'), cmd('echo nope; exit 67'), cmd('echo broken >&2; exit 2')]);
  assert.deepEqual(brief(o), [
    ['deferred', '4.3.0', 'temporary failure', 'local'],
    ['bounced', '5.1.1', 'user unknown. Command output: nope ', 'local'],
    ['bounced', '5.3.0', 'Command died with status 2: "echo broken >&2; exit 2". Command output: broken ', 'local'],
  ]);
});

test('command_time_limit kills a command that runs too long', async () => {
  const o = await agent({ command_time_limit: '1' }).deliver(message(), [cmd('sleep 20')]);
  assert.deepEqual(brief(o), [['bounced', '5.3.0', 'Command time limit exceeded: "sleep 20"', 'local']]);
});

test('mbox file: created 0600 as default_privs, From_ lines, >From quoting, blank line after each message, no lock left', async () => {
  const f = join(out, 'archive.mbox');
  const a = agent();
  for (let i = 0; i < 2; i++) assert.deepEqual(brief(await a.deliver(message(), [file(f)])), [['sent', '2.0.0', `delivered to file: ${f}`, 'local']]);
  const st = statSync(f);
  assert.deepEqual([st.mode & 0o777, st.uid, st.gid], [0o600, 65534, 65534]);
  assert.equal(existsSync(`${f}.lock`), false);
  const one = 'Return-Path: <bob@remote.test>\nX-Original-To: archive@example.test\nDelivered-To: archive@example.test\nFrom: Bob <bob@remote.test>\nSubject: alias test\n\n>From the top\n>From quoted already\nend\n\n';
  const text = readFileSync(f, 'latin1');
  const parts = text.split(/^From bob@remote\.test  .*\n/m);
  assert.deepEqual(parts, ['', one, one]);
});

test('mbox refusals: symlink, directory, executable file, hard links, a directory default_privs may not write', async () => {
  const target = join(out, 'real.mbox');
  writeFileSync(target, '');
  chownSync(target, 65534, 65534);
  const link = join(out, 'link.mbox');
  symlinkSync(target, link);
  const exe = join(out, 'exe.mbox');
  writeFileSync(exe, '', { mode: 0o700 });
  chownSync(exe, 65534, 65534);
  const linked = join(out, 'linked.mbox');
  linkSync(target, linked);
  const o = await agent().deliver(message(), [file(link), file(out), file(exe), file(linked), file(join(rootOnly, 'box'))]);
  assert.deepEqual(brief(o), [
    ['bounced', '5.2.0', `cannot append message to file ${link}: file is a symbolic link`, 'local'],
    ['bounced', '5.2.0', `cannot append message to file ${out}: cannot open file: Is a directory`, 'local'],
    ['bounced', '5.7.1', `cannot append message to file ${exe}: file is executable`, 'local'],
    ['bounced', '5.2.0', `cannot append message to file ${linked}: file has 2 hard links`, 'local'],
    ['bounced', '5.2.0', `cannot append message to file ${join(rootOnly, 'box')}: cannot open file: Permission denied`, 'local'],
  ]);
  assert.equal(readFileSync(target, 'utf8'), '', 'nothing written through the link');
  assert.equal(existsSync(join(rootOnly, 'box')), false);
});

test('mailbox_size_limit: a message that would grow the file past it bounces 5.2.2, file unchanged', async () => {
  const f = join(out, 'small.mbox');
  writeFileSync(f, 'x'.repeat(100));
  chownSync(f, 65534, 65534);
  chmodSync(f, 0o600);
  const o = await agent({ mailbox_size_limit: '200' }).deliver(message(), [file(f)]);
  assert.deepEqual(brief(o), [['bounced', '5.2.2', `cannot append message to file ${f}: error writing message: File too large`, 'local']]);
  assert.equal(statSync(f).size, 100);
});

test('/dev/null is a valid file target (written without a lock)', async () => {
  assert.deepEqual(brief(await agent().deliver(message(), [file('/dev/null')])), [['sent', '2.0.0', 'delivered to file: /dev/null', 'local']]);
});

test('a Delivered-To header for the recipient is a loop: bounced before anything runs', async () => {
  const f = join(out, 'loop.txt');
  const o = await agent().deliver(message(`Delivered-To: list+news@example.test\r\n${BODY}`), [cmd(`touch ${f}`)]);
  assert.deepEqual(brief(o), [['bounced', '5.4.6', 'mail forwarding loop for list+news@example.test', 'local']]);
  assert.equal(existsSync(f), false);
});

test('an unknown default_privs defers with a configuration warning', async () => {
  const log = fakeLog();
  const o = await agent({ default_privs: 'no-such-user-xyz' }, log).deliver(message(), [cmd('true')]);
  assert.deepEqual(brief(o), [['deferred', '4.3.5', 'mail system configuration error', 'local']]);
  assert.deepEqual(log.lines, ['postfix/local: warning: unknown default_privs user: no-such-user-xyz']);
});

test('dotlock: a fresh lock held by someone else defers (4.2.0); a stale one is broken', async () => {
  const f = join(dir, 'locked.mbox');
  writeFileSync(`${f}.lock`, '');
  const held = await appendMbox(f, Buffer.from('x\n'), { sizeLimit: 0, lockTries: 2, lockDelayMs: 10 });
  assert.deepEqual([held.ok, held.dsn, held.why], [false, '4.2.0', `unable to create lock file ${f}.lock: File exists`]);
  // A lock's age is its ctime, which cannot be set back: a zero stale time stands in for 500 s.
  const broken = await appendMbox(f, Buffer.from('x\n'), { sizeLimit: 0, lockTries: 3, lockDelayMs: 10, staleLockMs: 0 });
  assert.deepEqual([broken.ok, readFileSync(f, 'utf8'), existsSync(`${f}.lock`)], [true, 'x\n', false]);
});
