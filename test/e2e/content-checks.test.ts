/**
 * End to end: header_checks and body_checks in the real server, driven by Python's smtplib
 * and swaks. Seed 003's story: its published header_checks file (the working Message-ID rule
 * and the broken "/~From:/" one, which `postern check` points at), and the body_checks rule
 * its author gave up on — a rule written in Japanese — rejecting a base64 ISO-2022-JP body
 * at the end of DATA with "550 5.7.1 …" and Postfix's cleanup log line. Every charset and
 * encoding fixture; every action's effect on the Maildir; and raw mode
 * (postern_mime_decode_checks = no) deciding exactly as Postfix's own matcher (postmap -hm /
 * -bm with the same tables) does on the same messages.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages, run, BIN, ROOT, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { japaneseFixtures, SPAM_PHRASE, type FixtureName } from '../support/japanese-mail.js';

const SEED_HEADER_CHECKS = readFileSync(join(ROOT, 'test', 'fixtures', 'seed-configs', '003-header_checks'), 'utf8');

const MORE_HEADER_CHECKS = [
  '/^Subject:.*激安/ REJECT 5.7.1 spam subject',
  '/^Subject: hold me/ HOLD review',
  '/^Subject: discard me/ DISCARD',
  '/^Subject: redirect me/ REDIRECT carol@example.test',
  '/^Subject: bcc me/ BCC carol@example.test',
  '/^X-Drop:/ IGNORE',
  '/^X-Old:/ REPLACE X-New: replaced',
  '/^Subject: tag me/ PREPEND X-Tagged: yes',
  '/^Subject: warn me/ WARN suspicious subject',
].join('\n') + '\n';

const BODY_CHECKS = [
  '# seed 003: the rule its author wanted, in Japanese',
  `/${SPAM_PHRASE}/ REJECT 5.7.1 spam body`,
  '/^TVqQ/ REJECT 5.7.1 executable attachment',
  '/^secret:/ REPLACE secret: [removed]',
].join('\n') + '\n';

interface Sent { code: number; text: string }

/** Send raw messages with smtplib (one connection each); the DATA reply of each. */
async function sendAll(port: number, messages: { from: string; to: string; data: Buffer }[]): Promise<Sent[]> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-send-'));
  const jobs = messages.map((m, i) => {
    const file = join(dir, `m${i}.eml`);
    writeFileSync(file, m.data);
    return { from: m.from, to: m.to, file };
  });
  const script = `
import json, smtplib, sys
port, jobs = int(sys.argv[1]), json.loads(sys.argv[2])
out = []
for j in jobs:
    s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.example.org', timeout=20)
    s.ehlo()
    s.mail(j['from'])
    s.rcpt(j['to'])
    code, text = s.data(open(j['file'], 'rb').read())
    out.append({'code': code, 'text': text.decode()})
    s.quit()
print(json.dumps(out))
`;
  const r = await run('python3', ['-c', script, String(port), JSON.stringify(jobs)], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Sent[];
}

function mailCf(dir: string, mail: string, over: Record<string, string> = {}): string {
  return baseMainCf(dir, {
    virtual_mailbox_domains: 'example.test',
    virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
    virtual_mailbox_base: mail,
    header_checks: 'regexp:$config_directory/header_checks, regexp:$config_directory/more_header_checks',
    body_checks: 'regexp:$config_directory/body_checks',
    ...over,
  });
}

const FILES = {
  vmailbox: 'bob@example.test example.test/bob/\ncarol@example.test example.test/carol/\n',
  header_checks: SEED_HEADER_CHECKS,
  more_header_checks: MORE_HEADER_CHECKS,
  body_checks: BODY_CHECKS,
};

let srv: Postern;
let port: number;
let mail: string;

before(async () => {
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-content-'));
  mail = join(dir, 'mail');
  srv = await startPostern({ dir, mainCf: mailCf(dir, mail), masterCf: smtpService(port), files: FILES });
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
});

const to = (m: Buffer): Buffer => Buffer.from(m.toString('latin1').replace('To: bob@mx.test', 'To: bob@example.test'), 'latin1');

async function waitForMaildir(box: string, count: number): Promise<{ name: string; text: string }[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const msgs = maildirMessages(join(mail, 'example.test', box));
    if (msgs.length >= count) return msgs;
    if (Date.now() > deadline) throw new Error(`${box}: ${msgs.length} of ${count} messages; log:\n${srv.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('seed 003: the Japanese body rule rejects a base64 ISO-2022-JP body with 550 5.7.1 and Postfix\'s log line', async () => {
  const fx = await japaneseFixtures();
  const [r] = await sendAll(port, [{ from: 'spammer@example.org', to: 'bob@example.test', data: to(fx['iso2022jp-base64']) }]);
  assert.deepEqual(r, { code: 550, text: '5.7.1 spam body' });
  const m = await srv.waitForLog(/postfix\/cleanup\[\d+\]: ([0-9A-F]+): reject: body (.*)$/m);
  assert.equal(m[2], `${SPAM_PHRASE}を開催中です。 from unknown[127.0.0.1]; from=<spammer@example.org> to=<bob@example.test> proto=ESMTP helo=<client.example.org>: 5.7.1 spam body`);
});

test('seed 003: the Message-ID rule rejects with the default text; "/~From:/" matches nothing and `postern check` says why, with file and line', async () => {
  const msg = (mid: string, from: string): Buffer => Buffer.from(`From: ${from}\r\nTo: bob@example.test\r\nSubject: hello\r\nMessage-ID: ${mid}\r\n\r\nhi\r\n`);
  const [a, b] = await sendAll(port, [
    { from: 'x@xxxxx.jp', to: 'bob@example.test', data: msg('<123@xxxxx.jp>', 'x@xxxxx.jp') },
    { from: 'y@xxxx.net', to: 'bob@example.test', data: msg('<456@ok.example>', 'Someone <y@xxxx.net>') },
  ]);
  assert.deepEqual(a, { code: 550, text: '5.7.1 message content rejected' });
  assert.equal(b!.code, 250, 'the author\'s broken rule never matches, as in Postfix');
  assert.match(srv.log(), /: reject: header Message-ID: <123@xxxxx\.jp> from unknown\[127\.0\.0\.1\]; from=<x@xxxxx\.jp> to=<bob@example\.test> proto=ESMTP helo=<client\.example\.org>: 5\.7\.1 message content rejected$/m);
  const c = await run(process.execPath, [BIN, '-c', srv.configDir, 'check']);
  assert.ok(c.stdout.includes(`${join(srv.configDir, 'header_checks')}:4: warning: header_checks: /~From:.*xxxx.net>/ can never match a header: a header line starts with its name, not "~" (did you mean "^From:.*xxxx.net>"?)`), c.stdout);
});

test('every charset and encoding: the Japanese rules reject; the Japanese ham is delivered, decoded text intact', async () => {
  const fx = await japaneseFixtures();
  const names: FixtureName[] = ['sjis-qp', 'eucjp-8bit', 'utf8-base64', 'utf8-8bit', 'html-only-iso2022jp', 'subject-iso2022jp', 'multipart-attachment', 'nested-message', 'ham-iso2022jp'];
  const replies = await sendAll(port, names.map((n) => ({ from: 'spammer@example.org', to: 'bob@example.test', data: to(fx[n]) })));
  const got = Object.fromEntries(names.map((n, i) => [n, `${replies[i]!.code} ${replies[i]!.code === 250 ? 'queued' : replies[i]!.text}`]));
  assert.deepEqual(got, {
    'sjis-qp': '550 5.7.1 spam body', 'eucjp-8bit': '550 5.7.1 spam body', 'utf8-base64': '550 5.7.1 spam body', 'utf8-8bit': '550 5.7.1 spam body',
    'html-only-iso2022jp': '550 5.7.1 spam body', 'subject-iso2022jp': '550 5.7.1 spam subject', 'multipart-attachment': '550 5.7.1 executable attachment',
    'nested-message': '550 5.7.1 spam subject', 'ham-iso2022jp': '250 queued',
  });
  const deadline = Date.now() + 10_000;
  let ham: { text: string } | undefined;
  while (!(ham = maildirMessages(join(mail, 'example.test', 'bob')).find((x) => x.text.includes('Subject: thanks\n'))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const sentBody = fx['ham-iso2022jp'].toString('latin1').split('\r\n\r\n')[1]!.replace(/\r\n/g, '\n');
  assert.ok(ham!.text.endsWith(`\n\n${sentBody}`), `body stored as sent:\n${ham!.text}`);
});

test('actions end to end: HOLD, DISCARD, REDIRECT, BCC, PREPEND, REPLACE, IGNORE, WARN and a body REPLACE', async () => {
  const m = (subject: string, extra = '', body = 'hello\r\n'): Buffer => Buffer.from(`From: a@example.org\r\nTo: bob@example.test\r\nSubject: ${subject}\r\n${extra}\r\n${body}`);
  const replies = await sendAll(port, [
    { from: 'a@example.org', to: 'bob@example.test', data: m('hold me') },
    { from: 'a@example.org', to: 'bob@example.test', data: m('discard me') },
    { from: 'a@example.org', to: 'bob@example.test', data: m('redirect me') },
    { from: 'a@example.org', to: 'bob@example.test', data: m('bcc me') },
    { from: 'a@example.org', to: 'bob@example.test', data: m('tag me', 'X-Drop: gone\r\nX-Old: old\r\n', 'line\r\nsecret: 1234\r\n') },
    { from: 'a@example.org', to: 'bob@example.test', data: m('warn me') },
  ]);
  assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 250, 250, 250]);
  const subjects = (box: { text: string }[]): string[] => box.map((x) => /^Subject: (.*)$/m.exec(x.text)![1]!).sort();
  const actionSubjects = ['hold me', 'discard me', 'redirect me', 'bcc me', 'tag me', 'warn me'];
  const carol = await waitForMaildir('carol', 2); // redirect me, bcc me
  const deadline = Date.now() + 15_000;
  let bob = maildirMessages(join(mail, 'example.test', 'bob'));
  while (subjects(bob).filter((x) => actionSubjects.includes(x)).length < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    bob = maildirMessages(join(mail, 'example.test', 'bob'));
  }
  assert.deepEqual(subjects(carol), ['bcc me', 'redirect me']);
  assert.deepEqual(subjects(bob).filter((x) => actionSubjects.includes(x)), ['bcc me', 'tag me', 'warn me']);
  const tagged = bob.find((x) => x.text.includes('Subject: tag me'))!.text;
  assert.match(tagged, /\nX-Tagged: yes\nSubject: tag me\nX-New: replaced\n\nline\nsecret: \[removed\]\n$/);
  assert.doesNotMatch(tagged, /X-Drop|X-Old/);
  const log = srv.log();
  assert.match(log, /: hold: header Subject: hold me from unknown\[127\.0\.0\.1\]; from=<a@example\.org> to=<bob@example\.test> proto=ESMTP helo=<client\.example\.org>: review$/m);
  assert.match(log, /: discard: header Subject: discard me from unknown\[127\.0\.0\.1\]; .*helo=<client\.example\.org>$/m);
  assert.match(log, /: redirect: header Subject: redirect me from .*: carol@example\.test$/m);
  assert.match(log, /: warning: header Subject: warn me from .*: suspicious subject$/m);
});

test('swaks: a header rule rejects at the end of DATA and swaks sees the reply', async () => {
  const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--from', 'a@example.org', '--to', 'bob@example.test', '--helo', 'swaks.example.org',
    '--header', 'Subject: =?UTF-8?B?5r+A5a6J44K744O844Or?=', '--body', 'hi']);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /<\*\* 550 5\.7\.1 spam subject/);
});

test('raw mode (postern_mime_decode_checks = no) decides every fixture exactly as Postfix\'s own matcher (postmap -hm/-bm)', async () => {
  const fx = await japaneseFixtures();
  const dir = mkdtempSync(join(tmpdir(), 'postern-raw-'));
  const rawPort = await freePort();
  const raw = await startPostern({ dir, mainCf: mailCf(dir, join(dir, 'mail'), { postern_mime_decode_checks: 'no' }), masterCf: smtpService(rawPort), files: FILES });
  try {
    // Postfix's matcher: postmap with an empty configuration of its own.
    const pfConf = join(dir, 'postfix-conf');
    mkdirSync(pfConf);
    writeFileSync(join(pfConf, 'main.cf'), '');
    const names = Object.keys(fx) as FixtureName[];
    const postfixRejects = async (data: Buffer): Promise<boolean> => {
      const tables: [string, string[]][] = [['-hm', ['header_checks', 'more_header_checks']], ['-bm', ['body_checks']]];
      for (const [mode, files] of tables) {
        for (const t of files) {
          copyFileSync(join(raw.configDir, t), join(dir, t));
          const r = await run('postmap', [mode, '-q', '-', `regexp:${join(dir, t)}`], { input: data, env: { MAIL_CONFIG: pfConf } });
          if (/\tREJECT\b/.test(r.stdout)) return true;
        }
      }
      return false;
    };
    const replies = await sendAll(rawPort, names.map((n) => ({ from: 'spammer@example.org', to: 'bob@example.test', data: to(fx[n]) })));
    const postern = Object.fromEntries(names.map((n, i) => [n, replies[i]!.code === 550]));
    const postfix: Record<string, boolean> = {};
    for (const n of names) postfix[n] = await postfixRejects(to(fx[n]));
    assert.deepEqual(postern, postfix);
    // And raw mode is not decoding: the base64 ISO-2022-JP spam passes, as in Postfix.
    assert.equal(postern['iso2022jp-base64'], false);
    assert.equal(postern['utf8-8bit'], true);
  } finally {
    await raw.stop();
    raw.cleanup();
  }
});

test('receive_override_options = no_header_body_checks on a second listener skips the checks there only', async () => {
  const fx = await japaneseFixtures();
  const dir = mkdtempSync(join(tmpdir(), 'postern-override-'));
  const [p1, p2] = [await freePort(), await freePort()];
  const s = await startPostern({
    dir, mainCf: mailCf(dir, join(dir, 'mail')),
    masterCf: smtpService(p1) + `127.0.0.1:${p2} inet n - n - - smtpd\n  -o receive_override_options=no_header_body_checks,no_unknown_recipient_checks\n`, files: FILES,
  });
  try {
    const [a] = await sendAll(p1, [{ from: 's@example.org', to: 'bob@example.test', data: to(fx['utf8-base64']) }]);
    const [b] = await sendAll(p2, [{ from: 's@example.org', to: 'bob@example.test', data: to(fx['utf8-base64']) }]);
    assert.equal(a!.code, 550);
    assert.equal(b!.code, 250);
  } finally {
    await s.stop();
    s.cleanup();
  }
});
