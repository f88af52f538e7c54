/**
 * End to end with Debian's rspamd as a milter (its proxy worker in milter mode, scanning
 * itself, no Redis): GTUBE is refused at the end of DATA with rspamd's own reply and logged
 * as Postfix logs a milter reject; a clean message is delivered with the headers rspamd
 * asked Postern to add (X-Spamd-Result, X-Spam-Status). rspamd stopped → the default
 * action, tempfail: 451 4.7.1 to every command.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, maildirMessages, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { sendWithSmtplib, type Outgoing } from '../support/smtplib.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { startRspamd, type Daemon } from '../support/milter-daemons.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

let rspamd: Daemon;
let srv: Postern;
let mail: string;
let port = 0;

before(async () => {
  rspamd = await startRspamd();
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-rspamd-e2e-'));
  mail = join(dir, 'mail');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail,
      smtpd_milters: `inet:127.0.0.1:${rspamd.port}`, milter_content_timeout: '60s',
    }),
    masterCf: `127.0.0.1:${port} inet n - n - - smtpd\n`,
    files: { vmailbox: 'bob@example.test example.test/bob/\n' },
  });
});

after(async () => {
  await srv?.stop();
  await rspamd?.stop();
  srv?.cleanup();
});

const msg = (subject: string, body: string): Outgoing => ({
  from: 'a@example.org', to: 'bob@example.test',
  data: Buffer.from(`From: Alice <a@example.org>\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n` +
    `Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body}\r\n`),
});

async function delivered(subject: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const m = maildirMessages(join(mail, 'example.test', 'bob')).find((x) => x.text.includes(`Subject: ${subject}\n`));
    if (m) return m.text;
    if (Date.now() > deadline) throw new Error(`"${subject}" not delivered; log:\n${srv.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('GTUBE: refused at the end of DATA with rspamd\'s reply, logged as milter-reject', async () => {
  const [r] = await sendWithSmtplib(port, [msg('gtube for rspamd', `Buy now.\r\n${GTUBE}`)]);
  assert.deepEqual([r!.stage, r!.code, r!.text], ['data', 554, '5.7.1 Gtube pattern']);
  assert.match(srv.log(), /cleanup\[\d+\]: [0-9A-F]+: milter-reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 5\.7\.1 Gtube pattern; from=<a@example\.org> to=<bob@example\.test> proto=ESMTP helo=<client\.example\.org>/);
});

test('a clean message is delivered with the headers rspamd added', async () => {
  const [r] = await sendWithSmtplib(port, [msg('clean for rspamd', 'Hello Bob,\r\nlunch at noon tomorrow?\r\n\r\nAlice')]);
  assert.equal(r!.code, 250, r!.text);
  const text = await delivered('clean for rspamd');
  assert.match(text, /^X-Spamd-Result: default: False \[-?\d+\.\d+ \/ 15\.00\];/m);
  assert.match(text, /^X-Spam-Status: No, score=-?\d+\.\d+$/m);
});

test('rspamd stopped: the default action (tempfail) answers 451 4.7.1', async () => {
  await rspamd.stop();
  const c = await SmtpDialog.connect(port);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO client.example.org')).raw, '451 4.7.1 Service unavailable - try again later');
  assert.equal((await c.cmd('MAIL FROM:<a@example.org>')).raw, '451 4.7.1 Service unavailable - try again later');
  await c.cmd('QUIT');
  c.close();
  assert.match(srv.log(), new RegExp(`warning: connect to Milter service inet:127\\.0\\.0\\.1:${rspamd.port}: Connection refused`));
});
