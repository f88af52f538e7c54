/**
 * End to end: the queue tools act on a RUNNING server. Mail to stuck@example.test stays
 * deferred (its Maildir path runs through a regular file: "Not a directory"), with
 * Postfix's default 300 s backoff; hold / release / flush / requeue / delete / show are run
 * as real `postern queue …` processes, and the daemon's reaction is read from its mail log
 * (a new deferral within seconds instead of after the backoff; none while held).
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { postern } from '../support/cli.js';

let srv: Postern;
let port: number;
let mail: string;

before(async () => {
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-qtools-'));
  mail = join(dir, 'mail');
  mkdirSync(mail, { recursive: true });
  writeFileSync(join(mail, 'blocker'), 'a regular file where a directory should be\n');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_mailbox_base: mail,
    }),
    masterCf: smtpService(port),
    files: { vmailbox: 'stuck@example.test blocker/stuck/\nalice@example.test example.test/alice/\n' },
  });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function submit(to: string, subject: string): Promise<string> {
  const c = await SmtpDialog.connect(port);
  await c.reply();
  await c.cmd('EHLO client.test');
  assert.equal((await c.cmd('MAIL FROM:<sender@remote.example>')).code, 250);
  assert.equal((await c.cmd(`RCPT TO:<${to}>`)).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  const r = await c.cmd(`From: sender@remote.example\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n.`);
  await c.cmd('QUIT');
  const m = /queued as ([0-9A-F]+)/.exec(r.raw);
  assert.ok(m, r.raw);
  return m[1]!;
}

function deferrals(id: string): number {
  return srv.log().split('\n').filter((l) => l.includes(`${id}: to=<stuck@example.test>`) && l.includes('status=deferred')).length;
}

async function waitDeferrals(id: string, n: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (deferrals(id) < n) {
    if (Date.now() > deadline) assert.fail(`expected ${n} deferrals of ${id} within ${withinMs} ms, saw ${deferrals(id)}; log:\n${srv.log()}`);
    await sleep(25);
  }
}

async function q(...args: string[]) {
  return postern(srv.configDir, ['queue', ...args]);
}

let id: string;

test('a message to a broken Maildir is deferred once and then waits for the 300 s backoff', async () => {
  id = await submit('stuck@example.test', 'stuck one');
  await waitDeferrals(id, 1, 10_000);
  assert.match(srv.log(), new RegExp(`${id}: to=<stuck@example.test>, relay=virtual, .*status=deferred \\(.*Not a directory`));
  const list = await q();
  assert.match(list.stdout, new RegExp(`^${id} `, 'm'));
});

test('hold: listed with "!", logged by postsuper, not retried by flush; flush of it names the hold', async () => {
  const r = await q('hold', id);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Placed on hold: 1 message\n/);
  assert.match(srv.log(), new RegExp(`postfix/postsuper\\[\\d+\\]: ${id}: placed on hold`));
  assert.match((await q()).stdout, new RegExp(`^${id}! `, 'm'));
  const f = await q('flush');
  assert.equal(f.code, 0, f.stderr);
  const fi = await q('flush', id);
  assert.match(fi.stderr, new RegExp(`${id}: on hold`));
  await sleep(1500);
  assert.equal(deferrals(id), 1, 'a held message must not be retried');
  // Holding it again changes nothing and counts nothing.
  const again = await q('hold', id);
  assert.equal(again.code, 0);
  assert.doesNotMatch(again.stderr, /Placed on hold/);
});

test('release: logged, listed without "!", and retried at once', async () => {
  const r = await q('release', id);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Released from hold: 1 message\n/);
  assert.match(srv.log(), new RegExp(`postfix/postsuper\\[\\d+\\]: ${id}: released from hold`));
  await waitDeferrals(id, 2, 2000);
  const list = (await q()).stdout;
  assert.match(list, new RegExp(`^${id} `, 'm'));
  assert.doesNotMatch(list, new RegExp(`^${id}!`, 'm'));
});

test('flush ID: the daemon retries within a second instead of after the backoff', async () => {
  const t0 = Date.now();
  const r = await q('flush', id);
  assert.equal(r.code, 0, r.stderr);
  await waitDeferrals(id, 3, 2000);
  assert.ok(Date.now() - t0 < 2000);
});

test('requeue: logged, counted, retried at once', async () => {
  const r = await q('requeue', id);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Requeued: 1 message\n/);
  assert.match(srv.log(), new RegExp(`postfix/postsuper\\[\\d+\\]: ${id}: requeued`));
  await waitDeferrals(id, 4, 2000);
});

test('show: envelope, per-recipient status and reason, headers and body', async () => {
  const r = await q('show', id);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^\\*\\*\\* ENVELOPE RECORDS deferred/${id} \\*\\*\\*$`, 'm'));
  assert.match(r.stdout, /^sender: sender@remote\.example$/m);
  assert.match(r.stdout, /^recipient: stuck@example\.test\nrecipient_status: deferred \(.*Not a directory.*\)$/m);
  assert.match(r.stdout, new RegExp(`^\\*\\*\\* MESSAGE CONTENTS deferred/${id} \\*\\*\\*\\nReceived: from client\\.test .*\\n(\\t.*\\n)+From: sender@remote\\.example\\nTo: stuck@example\\.test\\nSubject: stuck one\\n\\nbody of stuck one\\n\\*\\*\\* HEADER EXTRACTED`, 'm'));
  assert.match(r.stdout, new RegExp(`\\*\\*\\* MESSAGE FILE END deferred/${id} \\*\\*\\*\\n$`));
  const none = await q('show', 'ABCDEF012345');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /ABCDEF012345: no such message/);
});

test('unknown IDs are named and make the exit status 1; known ones are still acted on', async () => {
  const r = await q('hold', 'ABCDEF012345', id);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /queue hold: ABCDEF012345: no such message in the queue/);
  assert.match(r.stderr, /Placed on hold: 1 message/);
  const back = await q('release', id);
  assert.equal(back.code, 0, back.stderr);
  for (const sub of ['release', 'delete', 'requeue', 'flush']) {
    const u = await q(sub, 'ABCDEF012345');
    assert.equal(u.code, 1, sub);
    assert.match(u.stderr, new RegExp(`queue ${sub}: ABCDEF012345: no such message`));
  }
});

test('delete: gone from the queue, "removed" in the log, never delivered later', async () => {
  const r = await q('delete', id);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Deleted: 1 message\n/);
  assert.match(srv.log(), new RegExp(`postfix/postsuper\\[\\d+\\]: ${id}: removed`));
  assert.doesNotMatch((await q()).stdout, new RegExp(`^${id}`, 'm'));
  const before = deferrals(id);
  await q('flush');
  await sleep(1000);
  assert.equal(deferrals(id), before);
});

test('delete deferred takes deferred mail only; delete ALL takes the rest (held included)', async () => {
  const a = await submit('stuck@example.test', 'deferred a');
  const b = await submit('stuck@example.test', 'held b');
  await waitDeferrals(a, 1, 10_000);
  await waitDeferrals(b, 1, 10_000);
  assert.equal((await q('hold', b)).code, 0);
  const d = await q('delete', 'deferred');
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /Deleted: 1 message\n/);
  let list = (await q()).stdout;
  assert.doesNotMatch(list, new RegExp(`^${a}`, 'm'));
  assert.match(list, new RegExp(`^${b}!`, 'm'));
  const all = await q('delete', 'ALL');
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stderr, /Deleted: 1 message\n/);
  list = (await q()).stdout;
  assert.equal(list, 'Mail queue is empty\n');
  assert.match(srv.log(), new RegExp(`postsuper\\[\\d+\\]: ${a}: removed[\\s\\S]*postsuper\\[\\d+\\]: ${b}: removed`));
});

test('flush after the fault is fixed delivers the waiting mail at once', async () => {
  const m = await submit('stuck@example.test', 'fixed later');
  await waitDeferrals(m, 1, 10_000);
  rmSync(join(mail, 'blocker'));
  mkdirSync(join(mail, 'blocker'));
  const r = await q('flush');
  assert.equal(r.code, 0, r.stderr);
  await srv.waitForLog(new RegExp(`${m}: to=<stuck@example.test>, relay=virtual, .*status=sent`), 2000);
  await srv.waitForLog(new RegExp(`${m}: removed`), 2000);
  const msgs = maildirMessages(join(mail, 'blocker', 'stuck'));
  assert.equal(msgs.length, 1);
  assert.match(msgs[0]!.text, /\nSubject: fixed later\n\nbody of fixed later\n$/);
});
