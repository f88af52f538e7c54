/**
 * End to end with the real SpamAssassin spamd (Debian's, local tests only): GTUBE tagged
 * (X-Spam-Flag: YES, score and tests in the Maildir copy) or refused with
 * postern_spamd_reject_score ("550 5.7.1 Message rejected as spam (score S)"); ham tagged
 * NO; a message over postern_spamd_max_size passed unchecked and logged; spamd stopped →
 * postern_spamd_default_action: accept (delivered, warning logged) or tempfail (451 4.7.1,
 * the client keeps the message). Nothing is lost either way.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, maildirMessages, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { startSpamd, type Spamd } from '../support/spamd.js';
import { sendWithSmtplib, type Outgoing } from '../support/smtplib.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

let spamd: Spamd;
let srv: Postern;
let mail: string;
const ports = { tag: 0, reject: 0, small: 0, tempfail: 0 };

before(async () => {
  spamd = await startSpamd();
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-spamd-e2e-'));
  mail = join(dir, 'mail');
  const svc = (port: number, opts: string[] = []): string => `127.0.0.1:${port} inet n - n - - smtpd\n${opts.map((o) => `  -o ${o}\n`).join('')}`;
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail,
      postern_spamd_server: `127.0.0.1:${spamd.port}`, postern_spamd_timeout: '20s',
    }),
    masterCf: svc(ports.tag) + svc(ports.reject, ['postern_spamd_reject_score=5']) + svc(ports.small, ['postern_spamd_max_size=200']) +
      svc(ports.tempfail, ['postern_spamd_default_action=tempfail']),
    files: { vmailbox: 'bob@example.test example.test/bob/\n' },
  });
});

after(async () => {
  await srv?.stop();
  await spamd?.stop();
  srv?.cleanup();
});

const msg = (subject: string, body: string): Outgoing => ({
  from: 'a@example.org', to: 'bob@example.test',
  data: Buffer.from(`From: a@example.org\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\n${body}\r\n`),
});

async function delivered(subject: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = maildirMessages(join(mail, 'example.test', 'bob')).find((x) => x.text.includes(`Subject: ${subject}\n`));
    if (m) return m.text;
    if (Date.now() > deadline) throw new Error(`"${subject}" not delivered; log:\n${srv.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('GTUBE is tagged YES with its score and tests; ham is tagged NO', async () => {
  const r = await sendWithSmtplib(ports.tag, [msg('gtube tagged', GTUBE), msg('plain ham', 'Hello Bob, see you at lunch.')]);
  assert.deepEqual(r.map((x) => x.code), [250, 250]);
  const spam = await delivered('gtube tagged');
  assert.match(spam, /^X-Spam-Flag: YES\nX-Spam-Score: (\d+\.\d)\nX-Spam-Status: Yes, score=\1 required=5\.0\n\ttests=[A-Z_,0-9]*GTUBE/m);
  assert.ok(Number(/^X-Spam-Score: (\S+)$/m.exec(spam)![1]) >= 1000);
  const ham = await delivered('plain ham');
  assert.match(ham, /^X-Spam-Flag: NO$/m);
  assert.match(srv.log(), /cleanup\[\d+\]: [0-9A-F]+: info: spamd: score=\d+\.\d required=5\.0 tests=.*GTUBE/);
});

test('postern_spamd_reject_score: GTUBE refused at the end of DATA, ham delivered', async () => {
  const r = await sendWithSmtplib(ports.reject, [msg('gtube refused', GTUBE), msg('ham on reject port', 'Hello again.')]);
  assert.equal(r[0]!.code, 550);
  assert.match(r[0]!.text, /^5\.7\.1 Message rejected as spam \(score \d{4}\.\d\)$/);
  assert.equal(r[1]!.code, 250);
  await delivered('ham on reject port');
  assert.match(srv.log(), /: milter-reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 5\.7\.1 Message rejected as spam \(score \d+\.\d\); from=<a@example\.org> to=<bob@example\.test> proto=ESMTP helo=<client\.example\.org>/);
});

test('a message over postern_spamd_max_size is delivered unchecked and the log says so', async () => {
  const [r] = await sendWithSmtplib(ports.small, [msg('too big for spamd', `${GTUBE}\r\n${'padding line\r\n'.repeat(20)}`)]);
  assert.equal(r!.code, 250);
  assert.doesNotMatch(await delivered('too big for spamd'), /X-Spam-/);
  assert.match(srv.log(), /: info: spamd: message size \d+ exceeds postern_spamd_max_size 200; not checked/);
});

test('spamd stopped: accept delivers with a warning; tempfail answers 451 4.7.1', async () => {
  await spamd.stop();
  const [a] = await sendWithSmtplib(ports.tag, [msg('spamd down accepted', GTUBE)]);
  const [t] = await sendWithSmtplib(ports.tempfail, [msg('spamd down deferred', GTUBE)]);
  assert.equal(a!.code, 250);
  assert.doesNotMatch(await delivered('spamd down accepted'), /X-Spam-/);
  assert.deepEqual([t!.code, t!.text], [451, '4.7.1 Service unavailable - try again later']);
  assert.match(srv.log(), new RegExp(`warning: [0-9A-F]+: spamd 127\\.0\\.0\\.1:${spamd.port}: connect ECONNREFUSED .*; message accepted unchecked \\(postern_spamd_default_action = accept\\)`));
  assert.match(srv.log(), /; message deferred \(postern_spamd_default_action = tempfail\)/);
});
