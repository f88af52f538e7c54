/**
 * End to end: Postern as a milter client (smtpd_milters) against a scripted milter that
 * records what it is sent and answers as each test says — macros at each stage, a
 * replycode at RCPT, tempfail at MAIL, reject at the end of message, header edits,
 * recipients added and deleted, a new sender, a replaced body, quarantine → hold,
 * discard; and milters that are down or silent → milter_default_action (tempfail,
 * accept, quarantine in the per-milter { … } form), and receive_override_options = no_milters.
 */

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, maildirMessages, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { sendWithSmtplib, type Outgoing } from '../support/smtplib.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { postern } from '../support/cli.js';
import { startScriptedMilter, say, sentHeader, type ScriptedMilter } from '../support/scripted-milter.js';

let milter: ScriptedMilter;
let srv: Postern;
let mail: string;
let dead: number;
const ports = { main: 0, down: 0, downAccept: 0, quarantine: 0, silent: 0, noMilters: 0 };

before(async () => {
  milter = await startScriptedMilter();
  dead = await freePort(); // nothing listens there
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-milter-e2e-'));
  mail = join(dir, 'mail');
  const svc = (port: number, opts: string[] = []): string => `127.0.0.1:${port} inet n - n - - smtpd\n${opts.map((o) => `  -o ${o}\n`).join('')}`;
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail,
      smtpd_milters: `inet:127.0.0.1:${milter.port}`, milter_command_timeout: '2s',
    }),
    masterCf: svc(ports.main, ['milter_macro_daemon_name=ORIGINATING']) +
      svc(ports.down, [`smtpd_milters=inet:127.0.0.1:${dead}`]) +
      svc(ports.downAccept, [`smtpd_milters=inet:127.0.0.1:${dead}`, 'milter_default_action=accept']) +
      svc(ports.quarantine, [`{ smtpd_milters = { inet:127.0.0.1:${dead}, default_action=quarantine } }`]) +
      svc(ports.silent, [`{ smtpd_milters = { inet:127.0.0.1:${milter.port}, command_timeout=1s } }`, 'milter_default_action=reject']) +
      svc(ports.noMilters, ['receive_override_options=no_milters']),
    files: { vmailbox: 'bob@example.test example.test/bob/\ncarol@example.test example.test/carol/\n' },
  });
});

after(async () => {
  await srv?.stop();
  await milter?.stop();
  srv?.cleanup();
});

beforeEach(() => {
  milter.script = {};
});

const msg = (subject: string, body = 'Hello Bob.', extra: Partial<Outgoing> = {}): Outgoing => ({
  from: 'a@example.org', to: 'bob@example.test',
  data: Buffer.from(`From: a@example.org\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nX-Drop: me\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\n${body}\r\n`),
  ...extra,
});

async function delivered(subject: string, box = 'bob'): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = maildirMessages(join(mail, 'example.test', box)).find((x) => x.text.includes(`${subject}\n`));
    if (m) return m.text;
    if (Date.now() > deadline) throw new Error(`"${subject}" not delivered to ${box}; log:\n${srv.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const inBox = (subject: string, box: string): boolean => maildirMessages(join(mail, 'example.test', box)).some((x) => x.text.includes(subject));
const queueId = (text: string): string => /queued as ([0-9A-F]+)/.exec(text)![1]!;

test('the milter hears every stage with Postfix\'s macros and the message as queued; its header edits are applied', async () => {
  const before = milter.sessions.length;
  milter.script = {
    answer: (e) => e.cmd !== 'E' ? undefined : [
      say.addheader('X-Milter', 'added\n\tfolded'), say.insheader(0, 'X-First', 'on top'),
      say.chgheader(1, 'Subject', 'changed subject'), say.chgheader(1, 'X-Drop', ''), say.continue(),
    ],
  };
  const [r] = await sendWithSmtplib(ports.main, [msg('macro check')]);
  assert.equal(r!.code, 250, r!.text);
  const id = queueId(r!.text);
  // The harness's readiness probe is a session too: take the one that carried a message.
  const ev = milter.sessions.slice(before).find((s) => s.some((e) => e.cmd === 'E'))!;
  assert.deepEqual(ev.map((e) => e.cmd).filter((c) => c !== 'L'), ['C', 'H', 'M', 'R', 'T', 'N', 'B', 'E', 'Q']);
  const [connect, helo, mailFrom, rcpt, , ] = ev;
  assert.equal(connect!.args[0], '[127.0.0.1]');
  assert.match(connect!.args[1]!, /\x004.{2}127\.0\.0\.1\x00$/s);
  assert.deepEqual(connect!.macros, { j: 'mx.test', '{daemon_name}': 'ORIGINATING', '{daemon_addr}': '127.0.0.1', v: 'Postern', _: 'unknown [127.0.0.1]' });
  assert.deepEqual(helo!.args, ['client.example.org']);
  assert.deepEqual(mailFrom!.args[0], '<a@example.org>');
  assert.equal(mailFrom!.macros['{mail_addr}'], 'a@example.org');
  assert.equal(mailFrom!.macros['{mail_host}'], 'example.org');
  assert.deepEqual(rcpt!.args, ['<bob@example.test>']);
  assert.equal(rcpt!.macros['{rcpt_addr}'], 'bob@example.test');
  assert.equal(ev.find((e) => e.cmd === 'E')!.macros.i, id);
  assert.match(sentHeader(ev, 'Received')!, new RegExp(`^from client\\.example\\.org \\(unknown \\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mx\\.test .*with ESMTP id ${id}`, 's'));
  assert.equal(sentHeader(ev, 'Subject'), 'macro check');
  assert.equal(ev.find((e) => e.cmd === 'B')!.args[0], 'Hello Bob.\r\n');
  const text = await delivered('changed subject');
  assert.match(text, /^X-First: on top$/m);
  assert.match(text, /^X-Milter: added\n\tfolded\n/m);
  assert.match(text, /^Subject: changed subject$/m);
  assert.doesNotMatch(text, /X-Drop|macro check/);
  assert.ok(text.indexOf('X-First: on top') < text.indexOf('Received: from client.example.org'));
});

test('replycode at RCPT refuses that recipient with the milter\'s text; tempfail at MAIL is 451 4.7.1', async () => {
  milter.script = {
    answer: (e) => e.cmd === 'R' && e.args[0] === '<bob@example.test>' ? [say.replycode('550 5.7.1 Bob does not want it')]
      : e.cmd === 'M' && e.args[0] === '<later@example.org>' ? [say.tempfail()] : undefined,
  };
  const [r] = await sendWithSmtplib(ports.main, [msg('refused rcpt')]);
  assert.deepEqual([r!.stage, r!.code, r!.text], ['rcpt', 550, '5.7.1 Bob does not want it']);
  assert.match(srv.log(), /NOQUEUE: milter-reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.7\.1 Bob does not want it; from=<a@example\.org> to=<bob@example\.test> proto=ESMTP helo=<client\.example\.org>/);
  const c = await SmtpDialog.connect(ports.main);
  await c.reply();
  await c.cmd('EHLO client.example.org');
  const m = await c.cmd('MAIL FROM:<later@example.org>');
  assert.equal(m.raw, '451 4.7.1 Service unavailable - try again later');
  assert.equal((await c.cmd('MAIL FROM:<a@example.org>')).code, 250, 'the next transaction is asked again');
  await c.cmd('QUIT');
  c.close();
  assert.match(srv.log(), /NOQUEUE: milter-reject: MAIL from unknown\[127\.0\.0\.1\]: 451 4\.7\.1 Service unavailable - try again later; from=<later@example\.org> proto=ESMTP helo=<client\.example\.org>/);
});

test('a reject at the end of message is the answer to DATA, logged by cleanup as Postfix does', async () => {
  milter.script = { answer: (e) => e.cmd === 'E' ? [say.replycode('554 5.7.1 Virus found')] : undefined };
  const [r] = await sendWithSmtplib(ports.main, [msg('virus inside')]);
  assert.deepEqual([r!.stage, r!.code, r!.text], ['data', 554, '5.7.1 Virus found']);
  assert.match(srv.log(), /cleanup\[\d+\]: [0-9A-F]+: milter-reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 5\.7\.1 Virus found; from=<a@example\.org> to=<bob@example\.test> proto=ESMTP helo=<client\.example\.org>/);
  assert.equal(inBox('virus inside', 'bob'), false);
});

test('recipients added and deleted, a new sender and a replaced body are what gets delivered', async () => {
  milter.script = {
    answer: (e) => e.cmd === 'E' ? [say.delrcpt('<bob@example.test>'), say.addrcpt('<carol@example.test>'), say.chgfrom('<new@example.org>'), say.replbody('Replaced body.\nSecond line.\n'), say.accept()] : undefined,
  };
  const [r] = await sendWithSmtplib(ports.main, [msg('rerouted', 'original body')]);
  assert.equal(r!.code, 250);
  const text = await delivered('rerouted', 'carol');
  assert.match(text, /^Return-Path: <new@example\.org>$/m);
  assert.match(text, /\n\nReplaced body\.\nSecond line\.\n$/);
  assert.doesNotMatch(text, /original body/);
  assert.equal(inBox('rerouted', 'bob'), false);
  assert.match(srv.log(), /qmgr\[\d+\]: [0-9A-F]+: from=<new@example\.org>, size=\d+, nrcpt=1 \(queue active\)/);
});

test('quarantine puts the message on hold; discard accepts and drops it', async () => {
  milter.script = { answer: (e) => e.cmd === 'E' ? [say.quarantine('suspicious attachment'), say.continue()] : undefined };
  const [h] = await sendWithSmtplib(ports.main, [msg('to be held')]);
  assert.equal(h!.code, 250);
  const id = queueId(h!.text);
  await srv.waitForLog(new RegExp(`${id}: milter-hold: END-OF-MESSAGE from unknown\\[127\\.0\\.0\\.1\\]: suspicious attachment; from=<a@example\\.org>`));
  assert.match((await postern(srv.configDir, ['queue'])).stdout, new RegExp(`^${id}! `, 'm'));
  milter.script = { answer: (e) => e.cmd === 'R' ? [say.discard()] : undefined };
  const [d] = await sendWithSmtplib(ports.main, [msg('to be discarded')]);
  assert.equal(d!.code, 250);
  await srv.waitForLog(/milter-discard: RCPT from unknown\[127\.0\.0\.1\]: milter triggers DISCARD action; from=<a@example\.org> to=<bob@example\.test>/);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(inBox('to be held', 'bob') || inBox('to be discarded', 'bob'), false);
});

test('milter down: tempfail (the default) refuses every command with 451 4.7.1 and logs the connect failure', async () => {
  const c = await SmtpDialog.connect(ports.down);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO client.example.org')).raw, '451 4.7.1 Service unavailable - try again later');
  assert.equal((await c.cmd('MAIL FROM:<a@example.org>')).raw, '451 4.7.1 Service unavailable - try again later');
  await c.cmd('QUIT');
  c.close();
  assert.match(srv.log(), new RegExp(`warning: connect to Milter service inet:127\\.0\\.0\\.1:${dead}: Connection refused`));
  assert.match(srv.log(), /NOQUEUE: milter-reject: CONNECT from unknown\[127\.0\.0\.1\]: 451 4\.7\.1 Service unavailable - try again later; proto=SMTP/);
});

test('milter down: default_action accept delivers; quarantine ({ … } form) holds', async () => {
  const [a] = await sendWithSmtplib(ports.downAccept, [msg('milter down accepted')]);
  assert.equal(a!.code, 250);
  await delivered('milter down accepted');
  const [q] = await sendWithSmtplib(ports.quarantine, [msg('milter down held')]);
  assert.equal(q!.code, 250);
  const id = queueId(q!.text);
  assert.match((await postern(srv.configDir, ['queue'])).stdout, new RegExp(`^${id}! `, 'm'));
});

test('a milter that does not answer within command_timeout gets its default action (reject)', async () => {
  milter.script = { answer: (e) => e.cmd === 'R' ? ['hang'] : undefined };
  const c = await SmtpDialog.connect(ports.silent);
  await c.reply();
  await c.cmd('EHLO client.example.org');
  await c.cmd('MAIL FROM:<a@example.org>');
  const t0 = Date.now();
  assert.equal((await c.cmd('RCPT TO:<bob@example.test>', 5000)).raw, '550 5.7.1 Command rejected');
  assert.ok(Date.now() - t0 >= 900);
  assert.equal((await c.cmd('RCPT TO:<carol@example.test>')).raw, '550 5.7.1 Command rejected', 'the failed milter keeps refusing');
  await c.cmd('QUIT');
  c.close();
  assert.match(srv.log(), new RegExp(`warning: milter inet:127\\.0\\.0\\.1:${milter.port}: can't read SMFIC_RCPT reply packet header: Connection timed out`));
});

test('receive_override_options = no_milters: the milter is never asked', async () => {
  const before = milter.sessions.length;
  milter.script = { answer: () => [say.reject()] };
  const [r] = await sendWithSmtplib(ports.noMilters, [msg('no milters here')]);
  assert.equal(r!.code, 250);
  await delivered('no milters here');
  assert.equal(milter.sessions.length, before);
});
