/**
 * The pipe transport agent against real commands: Debian's dovecot-lda (seed 004's
 * service line, with -c for a private Dovecot), and small shell scripts for exit codes,
 * flags, batching, limits and refusals. Commands run as nobody (the tests run as root).
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, chownSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paramsFrom } from '../../config/test-params.js';
import type { MailLog } from '../../log/maillog.js';
import type { QueuedMessage } from '../../queue/types.js';
import type { RoutedRecipient, TransportOutcome, TransportRequest } from '../types.js';
import { program } from '../../../test/support/packages.js';
import { startDovecotLda, NOBODY, type DovecotLda } from '../../../test/support/dovecot-lda.js';
import { createPipeAgent } from './agent.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-pipe-'));
const out = join(dir, 'out');
let dovecot: DovecotLda;

before(async () => {
  dovecot = await startDovecotLda(dir, ['alice@example.test', 'bob@example.test']);
  mkdirSync(out);
  chownSync(out, NOBODY.uid, NOBODY.gid);
});
after(() => dovecot.stop());

function fakeLog(): MailLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, line: (p: string, m: string) => void lines.push(`${p}: ${m}`), warning: (p: string, m: string) => void lines.push(`${p}: warning: ${m}`) } as unknown as MailLog & { lines: string[] };
}

/** A shell script in the test directory, readable and executable by nobody. */
function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return p;
}

const BODY = 'Received: from client.example ([192.0.2.1])\r\nFrom: Bob <bob@remote.test>\r\nSubject: pipe test\r\n\r\nFrom the start\r\n.leading dot\r\n\r\nbye\r\n';

function message(data = BODY, sender = 'bob@remote.test'): QueuedMessage {
  return { id: '4XyzPIPE01', arrival: Date.now(), sender, recipients: [], data: Buffer.from(data), client: 'client.example[192.0.2.1]', nextAttempt: 0, attempts: 0 };
}
const rcpt = (recipient: string, originalRecipient = recipient): RoutedRecipient => ({ recipient, originalRecipient });

function request(args: string[], recipients: RoutedRecipient[], params: Record<string, string> = {}, msg = message()): TransportRequest {
  return { msg, transport: 'dovecot', nexthop: 'example.test', params: paramsFrom({ queue_directory: dir, recipient_delimiter: '+', ...params }), args, recipients };
}

const brief = (o: TransportOutcome[]): string[][] => o.map((x) => [x.recipient.recipient, x.status, x.dsn, x.text, x.relay]);
const SEED = (config: string): string[] => ['flags=DRhu', 'user=nobody:nogroup', `argv=${program('/usr/lib/dovecot/deliver')}`, '-c', config, '-f', '${sender}', '-d', '${recipient}'];
const ONE = { dovecot_destination_recipient_limit: '1' };

test('seed 004: dovecot-lda delivers each recipient into its Maildir, byte-exact behind Return-Path and Delivered-To', async () => {
  const agent = createPipeAgent();
  const o = await agent.deliver(request(SEED(dovecot.config), [rcpt('Alice@EXAMPLE.test', 'info@example.test'), rcpt('bob@example.test')], ONE));
  assert.deepEqual(brief(o), [
    ['Alice@EXAMPLE.test', 'sent', '2.0.0', 'delivered via dovecot service', 'dovecot'],
    ['bob@example.test', 'sent', '2.0.0', 'delivered via dovecot service', 'dovecot'],
  ]);
  assert.equal(o[0]!.relayed, true, 'no X flag: the DSN action is "relayed"');
  const lf = BODY.replace(/\r\n/g, '\n');
  // u and h fold the ${recipient} argument: alice@example.test, which is the Dovecot user.
  assert.deepEqual(dovecot.newMail('alice@example.test'), [`Return-Path: <bob@remote.test>\nDelivered-To: Alice@EXAMPLE.test\n${lf}`]);
  assert.deepEqual(dovecot.newMail('bob@example.test'), [`Return-Path: <bob@remote.test>\nDelivered-To: bob@example.test\n${lf}`]);
});

test('dovecot-lda: an unknown user exits EX_NOUSER (67) → bounced 5.1.1 user unknown', async () => {
  const o = await createPipeAgent().deliver(request(SEED(dovecot.config), [rcpt('nosuch@example.test')], ONE));
  assert.deepEqual(brief(o), [['nosuch@example.test', 'bounced', '5.1.1', 'user unknown', 'dovecot']]);
  assert.equal(o[0]!.diagnostic, 'x-unix; user unknown');
});

test('exit 75 (EX_TEMPFAIL) → deferred 4.3.0 with the command output', async () => {
  const cmd = script('tempfail.sh', 'echo "mailbox locked,\ttry later"; exit 75');
  const o = await createPipeAgent().deliver(request(['user=nobody', `argv=${cmd}`], [rcpt('alice@example.test')]));
  assert.deepEqual(brief(o), [['alice@example.test', 'deferred', '4.3.0', 'temporary failure. Command output: mailbox locked, try later ', 'dovecot']]);
});

test('a plain non-zero exit bounces with the command and its output, as Postfix words it', async () => {
  const cmd = script('fail.sh', 'echo "no such folder" >&2; exit 1');
  const o = await createPipeAgent().deliver(request(['user=nobody', `argv=${cmd}`], [rcpt('alice@example.test')]));
  assert.deepEqual(brief(o), [['alice@example.test', 'bounced', '5.3.0', `Command died with status 1: "${cmd}". Command output: no such folder `, 'dovecot']]);
});

test('without a recipient limit of 1, one command gets every recipient as its own argument', async () => {
  const log = join(out, 'args.txt');
  const cmd = script('args.sh', `for a in "$@"; do echo "[$a]"; done >> ${log}; echo === >> ${log}`);
  const o = await createPipeAgent().deliver(request(['flags=Rq', 'user=nobody', `argv=${cmd}`, '-f', '$sender', '--', '${recipient}', 'n=$nexthop', 'u=${user}/${extension}'], [rcpt('a b@example.test'), rcpt('carol+tag@example.test')]));
  assert.deepEqual(o.map((x) => x.status), ['sent', 'sent']);
  assert.equal(readFileSync(log, 'utf8'), ['[-f]', '[bob@remote.test]', '[--]', '["a b"@example.test]', '[carol+tag@example.test]', '[n=example.test]', '[u=a b/]', '[u=carol/tag]', '==='].join('\n') + '\n');
});

test('flags F, O, X and >: From_ line, X-Original-To, quoted From lines; X reports "delivered"', async () => {
  const file = join(out, 'copy.txt');
  const cmd = script('copy.sh', `cat > ${file}`);
  const o = await createPipeAgent().deliver(request(['flags=FOX>', 'user=nobody', `argv=${cmd}`], [rcpt('alice@example.test', 'info@example.test')], ONE, message(BODY, '')));
  assert.deepEqual(brief(o), [['alice@example.test', 'sent', '2.0.0', 'delivered via dovecot service', 'dovecot']]);
  assert.equal(o[0]!.relayed, false);
  const got = readFileSync(file, 'latin1');
  assert.match(got, /^From MAILER-DAEMON  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\nX-Original-To: info@example\.test\nReceived: /);
  assert.ok(got.endsWith('\n\n>From the start\n.leading dot\n\nbye\n'), got);
});

test('a successful command that says something: its words follow the status text', async () => {
  const cmd = script('chatty.sh', 'cat >/dev/null; echo "  saved to INBOX  "');
  const o = await createPipeAgent().deliver(request(['user=nobody', `argv=${cmd}`], [rcpt('alice@example.test')]));
  assert.equal(o[0]!.text, 'delivered via dovecot service (saved to INBOX)');
});

test('flag D with several recipients per command defers (4.3.5) and says which limit to set', async () => {
  const log = fakeLog();
  const o = await createPipeAgent({ log }).deliver(request(['flags=D', 'user=nobody', 'argv=/bin/cat'], [rcpt('a@example.test'), rcpt('b@example.test')]));
  assert.deepEqual(o.map((x) => [x.status, x.dsn, x.text]), [['deferred', '4.3.5', 'mail system configuration error'], ['deferred', '4.3.5', 'mail system configuration error']]);
  assert.deepEqual(log.lines, ["postfix/pipe: warning: pipe flag `D' requires dovecot_destination_recipient_limit = 1"]);
});

test('user=root is refused: every recipient deferred, one warning in Postfix words', async () => {
  const log = fakeLog();
  const agent = createPipeAgent({ log });
  for (let i = 0; i < 2; i++) {
    const o = await agent.deliver(request(['user=root', 'argv=/bin/cat'], [rcpt('a@example.test')]));
    assert.deepEqual(brief(o), [['a@example.test', 'deferred', '4.3.5', 'mail system configuration error', 'dovecot']]);
  }
  assert.deepEqual(log.lines, ['postfix/pipe: warning: service dovecot: user= command-line attribute specifies root privileges']);
});

test('user= naming the mail_owner account is refused too', async () => {
  const log = fakeLog();
  const o = await createPipeAgent({ log }).deliver(request(['user=nobody', 'argv=/bin/cat'], [rcpt('a@example.test')], { mail_owner: 'nobody' }));
  assert.deepEqual(brief(o), [['a@example.test', 'deferred', '4.3.5', 'mail system configuration error', 'dovecot']]);
  assert.deepEqual(log.lines, ['postfix/pipe: warning: service dovecot: user= command-line attribute specifies mail system owner nobody']);
});

test('<transport>_time_limit: a command that runs too long is killed and bounced (5.3.0) as in Postfix', async () => {
  const cmd = script('slow.sh', 'sleep 20');
  const t0 = Date.now();
  const o = await createPipeAgent().deliver(request(['user=nobody', `argv=${cmd}`], [rcpt('a@example.test')], { dovecot_time_limit: '1s' }));
  assert.deepEqual(brief(o), [['a@example.test', 'bounced', '5.3.0', `Command time limit exceeded: "${cmd}"`, 'dovecot']]);
  assert.ok(Date.now() - t0 < 8000);
});

test('size= bounces larger messages; D finds a Delivered-To loop; a missing program defers', async () => {
  const agent = createPipeAgent();
  const big = await agent.deliver(request(['size=10', 'user=nobody', 'argv=/bin/cat'], [rcpt('a@example.test')]));
  assert.deepEqual(brief(big), [['a@example.test', 'bounced', '5.2.3', 'message too large', 'dovecot']]);
  const loop = await agent.deliver(request(['flags=D', 'user=nobody', 'argv=/bin/cat'], [rcpt('alice@example.test')], ONE, message(`Delivered-To: ALICE@example.test\r\n${BODY}`)));
  assert.deepEqual(brief(loop), [['alice@example.test', 'bounced', '5.4.6', 'mail forwarding loop for alice@example.test', 'dovecot']]);
  const missing = await agent.deliver(request(['user=nobody', `argv=${join(dir, 'no-such-program')}`], [rcpt('a@example.test')]));
  assert.deepEqual(brief(missing), [['a@example.test', 'deferred', '4.3.0', `temporary failure. Command output: pipe: fatal: pipe_command: execvp ${join(dir, 'no-such-program')}: No such file or directory `, 'dovecot']]);
  assert.equal(existsSync(join(dir, 'no-such-program')), false);
});

test('the command runs as user= with a clean environment (PATH=/usr/bin:/bin)', async () => {
  const file = join(out, 'who.txt');
  const cmd = script('who.sh', `cat >/dev/null; echo "$(id -u):$(id -g):$PATH:\${HOME-unset}" > ${file}`);
  await createPipeAgent().deliver(request(['user=nobody:nogroup', `argv=${cmd}`], [rcpt('a@example.test')]));
  assert.equal(readFileSync(file, 'utf8'), '65534:65534:/usr/bin:/bin:unset\n');
});
