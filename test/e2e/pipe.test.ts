/**
 * Seed 004's delivery path end to end: virtual mail handed to a master.cf `pipe` service
 * running Debian's dovecot-lda (`flags=DRhu … argv=/usr/lib/dovecot/deliver -f ${sender}
 * -d ${recipient}`, plus -c for a private Dovecot), with dovecot_destination_recipient_limit
 * = 1; and local(8) alias entries to a command ("|cat > FILE") and to an mbox file. The
 * server is the real one (bin/postern.js), the client swaks; commands run as nobody.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, chownSync, chmodSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, run, type Postern } from '../support/server.js';
import { startDovecotLda, NOBODY, type DovecotLda } from '../support/dovecot-lda.js';
import { program } from '../support/packages.js';
import { freePort } from '../support/ports.js';

let srv: Postern;
let dovecot: DovecotLda;
let port: number;
let out: string;

before(async () => {
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-pipe-e2e-'));
  chmodSync(dir, 0o755);
  dovecot = await startDovecotLda(join(dir, 'dovecot'), ['alice@example.test', 'bob@example.test']);
  out = join(dir, 'out');
  mkdirSync(out);
  chownSync(out, NOBODY.uid, NOBODY.gid);
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_transport: 'dovecot',
      dovecot_destination_recipient_limit: '1',
      alias_maps: 'hash:$config_directory/aliases',
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    }),
    masterCf: smtpService(port) + [
      'dovecot   unix  -       n       n       -       -       pipe',
      `  flags=DRhu user=nobody:nogroup argv=${program('/usr/lib/dovecot/deliver')} -c ${dovecot.config} -f \${sender} -d \${recipient}`,
    ].join('\n') + '\n',
    files: {
      // ghost exists for Postern (accepted at RCPT) but not for Dovecot: dovecot-lda says EX_NOUSER.
      vmailbox: 'alice@example.test x\nbob@example.test x\nghost@example.test x\n',
      aliases: `piper: "|cat > ${join(out, 'piped.txt')}"\nmboxer: ${join(out, 'archive.mbox')}\n`,
    },
  });
});

after(async () => {
  await srv?.stop();
  await dovecot?.stop();
  srv?.cleanup();
});

const MESSAGE = 'From: Carol <carol@remote.test>\r\nTo: team\r\nSubject: pipe e2e\r\n\r\nFrom the pipe test\r\nbye'; // no final newline: swaks sends the data, then CRLF.CRLF

async function send(to: string[]): Promise<string> {
  const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 'carol@remote.test', '--to', to.join(','), '--data', MESSAGE]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return /queued as ([0-9A-F]+)/.exec(r.stdout)![1]!;
}

test('seed 004: virtual mail through the dovecot pipe service lands in Dovecot\'s Maildirs, one command per recipient', async () => {
  const id = await send(['alice@example.test', 'Bob@Example.TEST']);
  for (const who of ['alice@example\\.test', 'Bob@Example\\.TEST']) {
    await srv.waitForLog(new RegExp(`postfix/pipe\\[\\d+\\]: ${id}: to=<${who}>, relay=dovecot, delay=[\\d.]+, delays=[\\d./]+, dsn=2\\.0\\.0, status=sent \\(delivered via dovecot service\\)`));
  }
  await srv.waitForLog(new RegExp(`${id}: removed`));
  const [alice] = dovecot.newMail('alice@example.test');
  const [bob] = dovecot.newMail('bob@example.test');
  // Return-Path and Delivered-To from flags R and D, then the message as queued (Received added by Postern), LF endings.
  assert.match(alice!, /^Return-Path: <carol@remote\.test>\nDelivered-To: alice@example\.test\nReceived: from client\.test /);
  assert.match(bob!, /^Return-Path: <carol@remote\.test>\nDelivered-To: Bob@Example\.TEST\nReceived: /);
  assert.ok(alice!.endsWith('\nFrom: Carol <carol@remote.test>\nTo: team\nSubject: pipe e2e\n\nFrom the pipe test\nbye\n'), alice);
  assert.ok(!alice!.includes('\r'));
});

test('a user Dovecot does not know: dovecot-lda exits 67 → bounced 5.1.1 user unknown', async () => {
  const id = await send(['ghost@example.test']);
  await srv.waitForLog(new RegExp(`postfix/pipe\\[\\d+\\]: ${id}: to=<ghost@example\\.test>, relay=dovecot, .*dsn=5\\.1\\.1, status=bounced \\(user unknown\\)`));
});

test('aliases to "|command" and to an mbox file are delivered as local(8) does, with default_privs', async () => {
  const id = await send(['piper@mx.test', 'mboxer@mx.test']);
  const piped = join(out, 'piped.txt');
  const mbox = join(out, 'archive.mbox');
  await srv.waitForLog(new RegExp(`postfix/local\\[\\d+\\]: ${id}: to=<piper@mx\\.test>, relay=local, .*dsn=2\\.0\\.0, status=sent \\(delivered to command: cat > ${piped.replace(/[.]/g, '\\.')}\\)`));
  await srv.waitForLog(new RegExp(`postfix/local\\[\\d+\\]: ${id}: to=<mboxer@mx\\.test>, relay=local, .*dsn=2\\.0\\.0, status=sent \\(delivered to file: ${mbox.replace(/[.]/g, '\\.')}\\)`));
  const cmdCopy = readFileSync(piped, 'latin1');
  assert.match(cmdCopy, /^From carol@remote\.test  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\nReturn-Path: <carol@remote\.test>\nX-Original-To: piper@mx\.test\nDelivered-To: piper@mx\.test\nReceived: /);
  assert.ok(cmdCopy.endsWith('\n\nFrom the pipe test\nbye\n'), 'a command gets the body unquoted');
  const box = readFileSync(mbox, 'latin1');
  assert.match(box, /^From carol@remote\.test  .*\nReturn-Path: <carol@remote\.test>\nX-Original-To: mboxer@mx\.test\nDelivered-To: mboxer@mx\.test\n/);
  assert.ok(box.endsWith('\n\n>From the pipe test\nbye\n\n'), 'the mbox copy quotes From and ends with a blank line');
  assert.deepEqual([statSync(piped).uid, statSync(mbox).uid, statSync(mbox).mode & 0o777], [NOBODY.uid, NOBODY.uid, 0o600], 'written as default_privs (nobody)');
});

