import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheck } from './check.js';

test('postern check reports SQL query files with their own file and line, without connecting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-check-sql-'));
  writeFileSync(join(dir, 'master.cf'), 'smtp inet n - n - - smtpd\n');
  writeFileSync(join(dir, 'main.cf'), [
    'virtual_mailbox_domains = mysql:domains.cf',
    'virtual_mailbox_maps = mysql:$config_directory/noquery.cf',
    'virtual_alias_maps = pgsql:badescape.cf, sqlite:ok.cf',
    'alias_maps = mysql:nosuch.cf',
    '',
  ].join('\n'));
  // hosts point at a port nothing listens on: check must not try it.
  writeFileSync(join(dir, 'domains.cf'), "hosts = inet:127.0.0.1:1\nuser = u\npassword = p\ndbname = d\nquery = SELECT domain FROM domain WHERE domain='%s'\ncolour = blue\n");
  writeFileSync(join(dir, 'noquery.cf'), 'hosts = localhost\ndbname = d\n');
  writeFileSync(join(dir, 'badescape.cf'), "dbname = d\n# comment\nquery = SELECT goto FROM alias\n  WHERE address='%a'\n");
  writeFileSync(join(dir, 'ok.cf'), "dbpath = mail.sqlite\nquery = SELECT goto FROM alias WHERE address='%s'\n");
  const lines: string[] = [];
  const t0 = Date.now();
  const code = await runCheck(dir, (l) => lines.push(l));
  const out = lines.join('\n');
  assert.ok(Date.now() - t0 < 3000, 'no connection attempts');
  assert.equal(code, 1, out);
  assert.ok(out.includes(`postern: ${join(dir, 'domains.cf')}:6: warning: virtual_mailbox_domains (${join(dir, 'main.cf')}:1): unknown mysql table setting "colour" (ignored)`), out);
  assert.ok(out.includes(`postern: ${join(dir, 'noquery.cf')}:0: error: virtual_mailbox_maps (${join(dir, 'main.cf')}:2): no "query" setting`), out);
  assert.ok(out.includes(`postern: ${join(dir, 'badescape.cf')}:3: error: virtual_alias_maps (${join(dir, 'main.cf')}:3): query: invalid escape "%a"`), out);
  assert.ok(out.includes(`postern: ${join(dir, 'main.cf')}:4: error: alias_maps: cannot read the mysql table configuration ${join(dir, 'nosuch.cf')}: ENOENT`), out);
  assert.doesNotMatch(out, /ok\.cf/, 'a good SQLite table (whose database does not exist yet) is not an error: it is opened at the first lookup');
  assert.match(out, /^postern: 3 errors, 1 warning$/m);
});
