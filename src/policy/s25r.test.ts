/**
 * The shipped S25R table (share/s25r.regexp): each rule catches the generic names its
 * comment describes and names itself in the reply text; ordinary mail server names pass.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TableRegistry } from '../tables/open.js';

const TABLE = join(fileURLToPath(new URL('../../share/s25r.regexp', import.meta.url)));

test('each S25R rule matches its kind of generic name and names the rule', async () => {
  const t = new TableRegistry().open(`regexp:${TABLE}`);
  const rule = async (name: string): Promise<string> => {
    const v = await t.lookup(name);
    return v === undefined ? 'pass' : /S25R rule (\d)/.exec(v)?.[1] ?? v;
  };
  assert.equal(await rule('p1234-ipbf01.tokyo.ocn.ne.jp'), '1');
  assert.equal(await rule('host12345.example.com'), '2');
  assert.equal(await rule('x.1a2b.example.ne.jp'), '3');
  assert.equal(await rule('a1.b2-3.example.com'), '4');
  assert.equal(await rule('x1.y2.pool.example.com'), '5');
  assert.equal(await rule('dhcp7.pool.example'), '6');
  assert.equal(await rule('adsl5-x.example.org'), '6');
  for (const ok of ['mail.example.com', 'mx1.example.co.jp', 'smtp.mail.yahoo.co.jp', 'mx01.example.net']) {
    assert.equal(await rule(ok), 'pass', ok);
  }
  assert.match((await t.lookup('dhcp7.pool.example'))!, /^450 S25R rule 6: /);
});
