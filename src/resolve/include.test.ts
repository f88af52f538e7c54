/** :include: files: parsing and local(8)'s checks. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, chmodSync, mkdirSync, symlinkSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIncludeText, readIncludeFile } from './include.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-include-'));

test('one per line or comma-separated; comments, blank lines, Name <addr>, quoted commas', () => {
  const text = '# staff list\nalice\n\nbob@example.test, carol@example.test\r\n  dave ,\nEve Example <eve@example.test>\n"|/usr/bin/logger -t list, x"\n/var/mail/archive\n#tail\n';
  assert.deepEqual(parseIncludeText(text), ['alice', 'bob@example.test', 'carol@example.test', 'dave', 'eve@example.test', '"|/usr/bin/logger -t list, x"', '/var/mail/archive']);
});

test('readIncludeFile returns the values and the file owner', async () => {
  const f = join(dir, 'list');
  writeFileSync(f, 'a@example.test\nb@example.test\n', { mode: 0o644 });
  chownSync(f, 65534, 65534);
  assert.deepEqual(await readIncludeFile(f), { ok: true, values: ['a@example.test', 'b@example.test'], owner: { uid: 65534, gid: 65534 } });
  const link = join(dir, 'link');
  symlinkSync(f, link);
  assert.equal((await readIncludeFile(link)).ok, true, 'a symlink to a list is allowed');
});

test('refused as local(8) refuses them: relative path, missing, not a regular file, world-writable', async () => {
  const ww = join(dir, 'ww');
  writeFileSync(ww, 'x\n');
  chmodSync(ww, 0o666);
  mkdirSync(join(dir, 'sub'));
  const cases: [string, string][] = [
    ['relative/list', ':include:relative/list uses a relative path'],
    [join(dir, 'missing'), `unable to lookup :include: file ${join(dir, 'missing')}: No such file or directory`],
    [join(dir, 'sub'), `:include: file ${join(dir, 'sub')} is not a regular file`],
    [ww, `:include: file ${ww} is world writable`],
  ];
  for (const [path, warning] of cases) {
    assert.deepEqual(await readIncludeFile(path), { ok: false, status: 'bounce', dsn: '5.3.5', text: 'mail system configuration error', warning });
  }
});
