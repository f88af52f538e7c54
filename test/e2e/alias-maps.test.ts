/**
 * alias_maps keeps each table type's own syntax (issue 7): a regexp:, pcre:, inline:,
 * texthash: or hash: alias table delivers to the Maildir it names, byte for byte, through
 * the running server; only hash-family files are read as aliases(5) text. Before the fix a
 * regexp alias file was read as an aliases file, matched nothing, and every accepted
 * message bounced ("unknown user") — mail lost after a 250.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostern, baseMainCf, smtpService, maildirMessages, run, BIN } from '../support/server.js';
import { freePort } from '../support/ports.js';

const BODY = ['From: s@remote.example', 'To: user1@mx.test', 'Subject: alias table', 'Message-ID: <alias-1@remote.example>', '', 'line one', '.dot line', 'last'].join('\n');

interface Case {
  type: string;
  /** alias_maps value; BOX is replaced by the Maildir path. */
  spec: (dir: string) => string;
  file?: (box: string) => string;
}

const cases: Case[] = [
  { type: 'regexp', spec: (d) => `regexp:${d}/aliases.regexp`, file: (box) => `/^(user[0-9]?|postmaster)$/ ${box}\n` },
  { type: 'pcre', spec: (d) => `pcre:${d}/aliases.pcre`, file: (box) => `/^(?:user\\d?|postmaster)$/ ${box}\n` },
  { type: 'inline', spec: () => 'inline:{ user1=BOX, user2=BOX, postmaster=BOX }' },
  { type: 'texthash', spec: (d) => `texthash:${d}/aliases.txt`, file: (box) => `user1 ${box}\nuser2   ${box}\npostmaster ${box}\n` },
  { type: 'hash (aliases(5) syntax)', spec: (d) => `hash:${d}/aliases`, file: (box) => `# as postalias reads it\nuser1: ${box}\nuser2:\n  ${box}\npostmaster: user1\n` },
];

for (const c of cases) {
  test(`alias_maps = ${c.type}: local recipients are delivered to the Maildir the table names, byte for byte`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-alias-'));
    const box = join(dir, 'box') + '/';
    const port = await freePort();
    const cfg = join(dir, 'config');
    const spec = c.spec(cfg).replace(/BOX/g, box);
    const files: Record<string, string> = { recipients: '/^(user[0-9]?|postmaster)@mx\\.test$/ OK\n' };
    const fileName = spec.replace(/^[a-z]+:/, '').replace(cfg + '/', '');
    if (c.file) files[fileName] = c.file(box);
    const srv = await startPostern({
      dir,
      mainCf: baseMainCf(dir, { alias_maps: spec, local_recipient_maps: `regexp:${cfg}/recipients` }),
      masterCf: smtpService(port),
      files,
    });
    try {
      const data = join(dir, 'msg.txt');
      writeFileSync(data, BODY);
      for (const to of ['user1@mx.test', 'user2@mx.test']) {
        const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 's@remote.example', '--to', to, '--data', data]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      const unknown = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 's@remote.example', '--to', 'nobody@mx.test']);
      assert.match(unknown.stdout, /<\*\* 550 5\.1\.1 <nobody@mx\.test>: Recipient address rejected: User unknown in local recipient table/);
      await srv.waitForLog(/to=<user2@mx\.test>.*status=sent/);
      const msgs = maildirMessages(box);
      assert.equal(msgs.length, 2, srv.log());
      for (const m of msgs) {
        assert.match(m.text, /^Return-Path: <s@remote\.example>\nX-Original-To: user[12]@mx\.test\nDelivered-To: user[12]@mx\.test\nReceived: from client\.test/);
        assert.equal(m.text.slice(m.text.indexOf('From: s@remote.example')), BODY + '\n');
      }
      assert.doesNotMatch(srv.log(), /status=bounced/);
    } finally {
      await srv.stop();
      srv.cleanup();
    }
  });
}

test('postern check: a texthash: alias table written in aliases(5) syntax is named with the fix; bad postmap lines are shown with their line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-alias-check-'));
  const cfg = join(dir, 'config');
  const srvDir = join(dir, 'srv');
  (await import('node:fs')).mkdirSync(cfg, { recursive: true });
  writeFileSync(join(cfg, 'main.cf'), baseMainCf(srvDir, { alias_maps: `texthash:${cfg}/aliases` }));
  writeFileSync(join(cfg, 'master.cf'), smtpService(2525));
  writeFileSync(join(cfg, 'aliases'), 'root: admin\nadmin\n');
  const r = await run(process.execPath, [BIN, '-c', cfg, 'check']);
  assert.match(r.stdout, new RegExp(`alias_maps: texthash:${cfg}/aliases: ${cfg}/aliases, line 2: expected format: key whitespace value`));
  assert.match(r.stdout, /looks like an aliases\(5\) file \("name: value"\), but texthash: reads postmap\(1\) "key value" lines as Postfix does; use hash:/);
});
