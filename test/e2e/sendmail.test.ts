/**
 * End to end: `postern sendmail` (and bin/sendmail.js) as real processes, into a running
 * server and into a stopped one; delivered Maildir files checked byte for byte (pickup's
 * Received:, Message-Id/Date/From added only when missing, Bcc removed); exit codes of
 * sendmail(1) for usage errors, bad addresses and an unwritable queue; `-bs` SMTP on stdio.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { postern, runNode, SENDMAIL_BIN } from '../support/cli.js';

let srv: Postern;
let mail: string;
const uid = process.getuid?.() ?? 0;
const user = (await import('node:os')).userInfo().username;

before(async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-sendmail-'));
  mail = join(dir, 'mail');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_mailbox_base: mail,
    }),
    masterCf: smtpService(port),
    files: { vmailbox: 'alice@example.test example.test/alice/\nbob@example.test example.test/bob/\ncarol@example.test example.test/carol/\n' },
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

const sendmail = (args: string[], input: string, opts: Parameters<typeof postern>[2] = {}) => postern(srv.configDir, ['sendmail', ...args], { input, ...opts });

/** The queue ID in the LAST log line matching `logLine` (group 1). */
function queueId(logLine: RegExp): string {
  const all = [...srv.log().matchAll(new RegExp(logLine.source, 'g'))];
  assert.ok(all.length > 0, `log has no ${logLine}:\n${srv.log()}`);
  return all[all.length - 1]![1]!;
}

/** The delivered file minus the three delivery headers, split at the pickup Received header. */
function delivered(box: string, subject: string): { received: string; rest: string } {
  const msg = maildirMessages(join(mail, 'example.test', box)).find((m) => m.text.includes(`Subject: ${subject}\n`));
  assert.ok(msg, `no message "${subject}" in ${box}`);
  const lines = msg.text.split('\n');
  assert.match(lines[0]!, /^Return-Path: </);
  assert.match(lines[1]!, /^X-Original-To: /);
  assert.match(lines[2]!, /^Delivered-To: /);
  return { received: lines.slice(3, 5).join('\n'), rest: lines.slice(5).join('\n') };
}

const DATE = '\\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4} \\(\\w+\\)';

test('sendmail -t -i into a running server: recipients from To/Cc/Bcc, Bcc removed, headers added, body byte for byte', async () => {
  const body = 'line one\n.\n..two dots stay two\n.a dot\ntrailing spaces   \n\nlast';
  const input = `To: Alice <alice@example.test>\nCc: "Bob, B." <bob@example.test>\nBcc: carol@example.test\nSubject: cron output\n\n${body}\n`;
  const r = await sendmail(['-t', '-i', '-F', 'Cron Daemon'], input);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, '');
  const id = queueId(/postfix\/pickup\[\d+\]: ([0-9A-F]+): uid=\d+ from=<[^>]*>/);
  assert.match(srv.log(), new RegExp(`postfix/pickup\\[\\d+\\]: ${id}: uid=${uid} from=<${user}>`));
  assert.match(srv.log(), new RegExp(`postfix/cleanup\\[\\d+\\]: ${id}: message-id=<\\d{14}\\.${id}@mx\\.test>`));
  assert.match(srv.log(), new RegExp(`postfix/qmgr\\[\\d+\\]: ${id}: from=<${user}@mx\\.test>, size=\\d+, nrcpt=3 \\(queue active\\)`));
  for (const rcpt of ['alice', 'bob', 'carol']) await srv.waitForLog(new RegExp(`${id}: to=<${rcpt}@example\\.test>, relay=virtual, .*status=sent`), 5000);
  for (const box of ['alice', 'bob', 'carol']) {
    const { received, rest } = delivered(box, 'cron output');
    assert.match(received, new RegExp(`^Received: by mx\\.test \\(Postern, from userid ${uid}\\)\\n\\tid ${id}; ${DATE}$`));
    const expected = new RegExp(`^To: Alice <alice@example\\.test>\\nCc: "Bob, B\\." <bob@example\\.test>\\nSubject: cron output\\n` +
      `Message-Id: <\\d{14}\\.${id}@mx\\.test>\\nDate: ${DATE}\\nFrom: Cron Daemon <${user}@mx\\.test>\\n\\n`);
    assert.match(rest, expected);
    assert.equal(rest.replace(expected, ''), body + '\n', 'body byte for byte');
    assert.doesNotMatch(rest, /^Bcc:/im);
  }
});

test('sendmail -f with recipients on the command line: a "." line ends the message; present headers are kept, not added', async () => {
  const input = 'From: Reporter <reports@remote.example>\nDate: Mon, 2 Nov 2026 08:00:00 +0000\nMessage-ID: <fixed-1@remote.example>\nSubject: dot ends\n\nkept\n.\nnot part of the message\n';
  const r = await sendmail(['-f', 'reports@remote.example', 'alice@example.test', 'bob@example.test'], input);
  assert.equal(r.code, 0, r.stderr);
  const id = queueId(/([0-9A-F]+): message-id=<fixed-1@remote\.example>/);
  assert.match(srv.log(), new RegExp(`pickup\\[\\d+\\]: ${id}: uid=${uid} from=<reports@remote\\.example>`));
  await srv.waitForLog(new RegExp(`${id}: to=<bob@example\\.test>, relay=virtual, .*status=sent`), 5000);
  await srv.waitForLog(new RegExp(`${id}: to=<alice@example\\.test>, relay=virtual, .*status=sent`), 5000);
  const { received, rest } = delivered('alice', 'dot ends');
  assert.match(received, new RegExp(`^Received: by mx\\.test \\(Postern, from userid ${uid}\\)\\n\\tid ${id}; ${DATE}$`));
  assert.equal(rest, 'From: Reporter <reports@remote.example>\nDate: Mon, 2 Nov 2026 08:00:00 +0000\nMessage-ID: <fixed-1@remote.example>\nSubject: dot ends\n\nkept\n');
  const file = maildirMessages(join(mail, 'example.test', 'alice')).find((m) => m.text.includes('Subject: dot ends'))!;
  assert.match(file.text, /^Return-Path: <reports@remote\.example>\n/);
});

test('bin/sendmail.js (the /usr/sbin/sendmail wrapper) uses $POSTERN_CONFIG', async () => {
  const r = await runNode(SENDMAIL_BIN, ['-oi', 'carol@example.test'], { input: 'Subject: via wrapper\n\nhello\n', env: { POSTERN_CONFIG: srv.configDir } });
  assert.equal(r.code, 0, r.stderr);
  const id = queueId(/([0-9A-F]+): from=<[^>]*>, size=\d+, nrcpt=1 \(queue active\)/);
  await srv.waitForLog(new RegExp(`${id}: to=<carol@example\\.test>, relay=virtual, .*status=sent`), 5000);
  assert.match(delivered('carol', 'via wrapper').rest, /\n\nhello\n$/);
});

test('-bs speaks SMTP on stdin/stdout; dot-unstuffing applies there', async () => {
  const dialog = 'EHLO me\r\nMAIL FROM:<bs@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: over bs\r\n\r\n..starts with one dot\r\n.\r\nQUIT\r\n';
  const r = await sendmail(['-bs'], dialog);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\r\n');
  assert.match(lines[0]!, /^220 mx\.test ESMTP Postern$/);
  const m = /^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.match(r.stdout, /221 2\.0\.0 Bye\r\n$/);
  await srv.waitForLog(new RegExp(`${m[1]}: to=<alice@example\\.test>, relay=virtual, .*status=sent`), 5000);
  assert.match(delivered('alice', 'over bs').rest, /\n\n\.starts with one dot\n$/);
});

test('usage errors and bad addresses give sendmail exit codes', async () => {
  const bad = await sendmail(['-Z'], 'x\n');
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /invalid option -- 'Z'/);
  const none = await sendmail([], 'Subject: x\n\nx\n');
  assert.equal(none.code, 64);
  assert.match(none.stderr, /Recipient addresses must be specified/);
  const noHeaderRcpt = await sendmail(['-t'], 'Subject: x\n\nx\n');
  assert.equal(noHeaderRcpt.code, 64);
  assert.match(noHeaderRcpt.stderr, /No recipient addresses found in message header/);
  const badRcpt = await sendmail(['user@'], 'x\n');
  assert.equal(badRcpt.code, 67);
  assert.match(badRcpt.stderr, /bad address syntax: "user@"/);
  const badHeader = await sendmail(['-t'], 'To: alice@example.test, <broken\n\nx\n');
  assert.equal(badHeader.code, 65);
  assert.match(badHeader.stderr, /To header: unbalanced "<"/);
  const unsupported = await sendmail(['-bd'], '');
  assert.equal(unsupported.code, 69);
  assert.match(unsupported.stderr, /-bd is not supported/);
});

test('a queue write error: exit 75 (EX_TEMPFAIL), a clear message, nothing queued', async () => {
  const before = (await postern(srv.configDir, ['queue'])).stdout;
  const fault = join(srv.dir, 'queue', 'fault');
  writeFileSync(fault, 'eio\n');
  try {
    const r = await sendmail(['alice@example.test'], 'Subject: never\n\nx\n', { env: { POSTERN_TEST_FAULTS: '1' } });
    assert.equal(r.code, 75);
    assert.match(r.stderr, /postern sendmail: fatal: queue file write error: .*I\/O error; the message was not queued/);
  } finally {
    rmSync(fault);
  }
  assert.equal((await postern(srv.configDir, ['queue'])).stdout, before);
  assert.doesNotMatch(srv.log(), /Subject: never/);
});

test('a user who is neither root nor the mail owner: exit 75 with the reason (queue directory 0700)', async () => {
  const queueDir = join(srv.dir, 'queue');
  // The config must stay readable to see the queue error; the queue itself stays 0700.
  for (const d of [srv.dir, srv.configDir]) chmodSync(d, 0o755);
  chmodSync(join(srv.configDir, 'main.cf'), 0o644);
  chmodSync(join(srv.configDir, 'master.cf'), 0o644);
  let r;
  if (uid === 0) {
    r = await sendmail(['alice@example.test'], 'Subject: denied\n\nx\n', { uid: 65534, gid: 65534 });
  } else {
    // Not root: take our own write permission away instead.
    chmodSync(queueDir, 0o500);
    try {
      r = await sendmail(['alice@example.test'], 'Subject: denied\n\nx\n');
    } finally {
      chmodSync(queueDir, 0o700);
    }
  }
  assert.equal(r.code, 75, r.stderr);
  assert.match(r.stderr, /cannot write the queue in .*queue.*: permission denied for .*only root and the mail owner can submit/);
  assert.match(r.stderr, /no setgid postdrop helper yet/);
});

test('with the server stopped the message waits in the queue, and is delivered when it starts', async () => {
  await srv.stop();
  assert.ok(!existsSync(join(srv.dir, 'lib', 'postern.pid')));
  const r = await sendmail(['-f', 'root', 'bob@example.test'], 'Subject: while stopped\n\nqueued while down\n');
  assert.equal(r.code, 0, r.stderr);
  const id = queueId(/([0-9A-F]+): uid=\d+ from=<root>/);
  const list = await postern(srv.configDir, ['queue']);
  assert.match(list.stdout, new RegExp(`^${id} +\\d+ .{20} root@mx\\.test\\n +bob@example\\.test\\n`, 'm'));
  assert.doesNotMatch(srv.log(), new RegExp(`${id}: to=`));
  await srv.restart();
  await srv.waitForLog(new RegExp(`${id}: to=<bob@example\\.test>, relay=virtual, .*status=sent`), 10_000);
  assert.match(delivered('bob', 'while stopped').rest, /\n\nqueued while down\n$/);
});

test('queue IDs of concurrent sendmail processes never collide', async () => {
  const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => sendmail(['alice@example.test'], `Subject: burst ${i}\n\nx\n`)));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const ids = [...srv.log().matchAll(/pickup\[\d+\]: ([0-9A-F]+): uid=/g)].map((m) => m[1]!);
  assert.equal(new Set(ids).size, ids.length);
  const deadline = Date.now() + 10_000;
  while (maildirMessages(join(mail, 'example.test', 'alice')).filter((m) => /Subject: burst \d/.test(m.text)).length < 6) {
    assert.ok(Date.now() < deadline, 'all six burst messages delivered');
    await new Promise((res) => setTimeout(res, 50));
  }
});
