/**
 * Process life: the session limit per listener (maxproc), SIGHUP reload without dropping
 * an open session, SIGTERM clean stop, a listener that cannot bind, and table files that
 * change under a running server.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, mkdirSync, chownSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, run, BIN } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';

test('maxproc limits sessions per listener with 421 4.3.2; reload and stop keep open sessions and mail safe', async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-life-'));
  const vmailbox = 'alice@example.test example.test/alice/\n';
  const main = (banner: string): string => baseMainCf(dir, {
    smtpd_banner: banner, virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: join(dir, 'mail'),
  });
  const srv = await startPostern({ dir, mainCf: main('$myhostname ESMTP first'), masterCf: `127.0.0.1:${port} inet n - n - 2 smtpd\n`, files: { vmailbox } });
  try {
    const a = await SmtpDialog.connect(port);
    assert.equal((await a.reply()).raw, '220 mx.test ESMTP first');
    const b = await SmtpDialog.connect(port);
    await b.reply();
    const c = await SmtpDialog.connect(port);
    assert.equal((await c.reply()).raw, '421 4.3.2 Service currently unavailable');
    await c.expectClosed();
    await srv.waitForLog(/warning: service "127\.0\.0\.1:\d+" has reached its session limit "2": refusing \[127\.0\.0\.1\]/);
    b.close();

    // A user added to the table file is known without a reload (the file is re-read when it changes).
    assert.equal((await a.cmd('EHLO client.test')).code, 250);
    await a.cmd('MAIL FROM:<s@remote.example>');
    assert.equal((await a.cmd('RCPT TO:<newbie@example.test>')).code, 550);
    writeFileSync(join(srv.configDir, 'vmailbox'), vmailbox + 'newbie@example.test example.test/newbie/\n');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await a.cmd('RCPT TO:<newbie@example.test>')).code, 250);

    // SIGHUP: the new banner applies to new sessions; the open session goes on.
    writeFileSync(join(srv.configDir, 'main.cf'), main('$myhostname ESMTP second'));
    srv.proc.kill('SIGHUP');
    await srv.waitForLog(/postfix\/master\[\d+\]: reload -- configuration/);
    const d = await SmtpDialog.connect(port);
    assert.equal((await d.reply()).raw, '220 mx.test ESMTP second');
    d.close();
    assert.equal((await a.cmd('DATA')).code, 354);
    a.sendRaw('Subject: across a reload\r\n\r\nstill here\r\n.\r\n');
    assert.match((await a.reply()).raw, /^250 2\.0\.0 Ok: queued as/);

    // A broken configuration is refused on reload; the server keeps the old one.
    writeFileSync(join(srv.configDir, 'main.cf'), main('x') + 'smtpd_helo_required = perhaps\n');
    srv.proc.kill('SIGHUP');
    await srv.waitForLog(/warning: reload refused: .*main\.cf:\d+: smtpd_helo_required: bad boolean "perhaps"/);
    const e = await SmtpDialog.connect(port);
    assert.equal((await e.reply()).raw, '220 mx.test ESMTP second');
    e.close();
    a.close();
    await srv.waitForLog(/to=<newbie@example\.test>.*status=sent/);

    assert.equal(await srv.stop(), 0);
    assert.match(srv.log(), /postfix\/master\[\d+\]: terminating on signal 15/);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('a listener that cannot bind is a clear start-up error naming the address', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'postern-bind-'));
  writeFileSync(join(dir, 'main.cf'), baseMainCf(dir));
  writeFileSync(join(dir, 'master.cf'), smtpService(port));
  const r = await run(process.execPath, [BIN, '-c', dir, 'start-fg'], { timeoutMs: 15_000 });
  blocker.close();
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`postern: fatal: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  assert.match(readFileSync(join(dir, 'maillog'), 'utf8'), /fatal: cannot listen on 127\.0\.0\.1/);
});

test('started as root with mail_owner set, Postern binds, hands over its directories and runs as that user; mail still flows', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-owner-'));
  chmodSync(dir, 0o755); // the unprivileged user must reach its directories
  const mail = join(dir, 'mail');
  mkdirSync(mail);
  chownSync(mail, 65534, 65534);
  const srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, { mail_owner: 'nobody', virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail }),
    masterCf: smtpService(port),
    files: { vmailbox: 'alice@example.test example.test/alice/\n' },
  });
  try {
    await srv.waitForLog(/postfix\/master\[\d+\]: running as nobody \(uid 65534\) after binding the listeners/);
    const status = readFileSync(`/proc/${srv.pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--from', 's@remote.example', '--to', 'alice@example.test']);
    assert.equal(r.code, 0, r.stdout);
    await srv.waitForLog(/to=<alice@example\.test>, relay=virtual.*status=sent \(delivered to maildir\)/);
    assert.equal(statSync(join(dir, 'queue', 'queue.db')).uid, 65534);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
