import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseQueryFile } from './query-file.js';
import { parseHost, Failover } from './hosts.js';
import { TableRegistry } from '../open.js';
import { TableError } from '../types.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-sqlcf-'));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('a PostfixAdmin query file: continuation lines, "#" inside a value, defaults', () => {
  const f = write('mailbox.cf', [
    '# PostfixAdmin',
    'user = postfix',
    'password = se#cret',
    'hosts = unix:/run/mysqld/mysqld.sock, 127.0.0.1:3307 db.example',
    'dbname = postfix',
    'query = SELECT maildir FROM mailbox',
    "    WHERE username='%s' AND active = '1'",
    '',
  ].join('\n'));
  const c = parseQueryFile('mysql', f);
  assert.equal(c.user, 'postfix');
  assert.equal(c.password, 'se#cret');
  assert.deepEqual(c.hosts, ['unix:/run/mysqld/mysqld.sock', '127.0.0.1:3307', 'db.example']);
  assert.equal(c.query.sql, "SELECT maildir FROM mailbox WHERE username=? AND active = '1'");
  assert.deepEqual(c.query.slots, ['s']);
  assert.deepEqual(c.resultFormat, [{ escape: 's' }]);
  assert.equal(c.expansionLimit, 0);
  assert.equal(c.timeoutMs, 5000);
  assert.deepEqual(c.domain, []);
  assert.equal(c.lines.get('query'), 6);
  assert.deepEqual(c.warnings, []);
});

test('hosts default to localhost; timeout, expansion_limit, domain, result_format are read', () => {
  const c = parseQueryFile('pgsql', write('p.cf', 'dbname = mail\nquery = SELECT a FROM b WHERE c = \'%u\'\ntimeout = 2\nexpansion_limit = 3\ndomain = example.com, hash:/etc/postfix/domains\nresult_format = %s/Maildir/\n'));
  assert.deepEqual(c.hosts, ['localhost']);
  assert.equal(c.timeoutMs, 2000);
  assert.equal(c.expansionLimit, 3);
  assert.deepEqual(c.domain, ['example.com', 'hash:/etc/postfix/domains']);
  assert.deepEqual(c.resultFormat, [{ escape: 's' }, { text: '/Maildir/' }]);
});

test('the old select_field/table/where_field form becomes the query Postfix builds', () => {
  const c = parseQueryFile('mysql', write('old.cf', "dbname = d\ntable = alias\nselect_field = goto\nwhere_field = address\nadditional_conditions = AND active = '1'\n"));
  assert.equal(c.query.sql, "SELECT goto FROM alias WHERE address = ? AND active = '1'");
  const f = parseQueryFile('pgsql', write('fn.cf', 'dbname = d\nselect_function = lookup_alias\n'));
  assert.equal(f.query.sql, 'SELECT lookup_alias($1)');
  assert.throws(() => parseQueryFile('mysql', write('old2.cf', 'dbname = d\ntable = alias\nwhere_field = address\n')), /select_field is missing/);
});

test('errors name the file and line: no query, bad escape, syntax, missing dbname/dbpath, refused settings', () => {
  const err = (name: string, text: string, type: 'mysql' | 'pgsql' | 'sqlite' = 'mysql'): TableError => {
    try {
      parseQueryFile(type, write(name, text));
    } catch (e) {
      assert.ok(e instanceof TableError);
      return e;
    }
    assert.fail('no error');
  };
  let e = err('noq.cf', 'hosts = localhost\ndbname = x\n');
  assert.match(e.message, /noq\.cf: no "query" setting/);
  e = err('esc.cf', "dbname = x\n\nquery = SELECT a FROM b WHERE c='%x'\n");
  assert.match(e.message, /esc\.cf, line 3: query: invalid escape "%x"/);
  assert.equal(e.line, 3);
  assert.equal(e.file, join(dir, 'esc.cf'));
  e = err('syn.cf', 'dbname = x\nthis is not a setting\n');
  assert.match(e.message, /syn\.cf, line 2: syntax error/);
  assert.match(err('nodb.cf', "query = SELECT 1 WHERE a='%s'\n").message, /no "dbname"/);
  assert.match(err('nodbpath.cf', "query = SELECT 1 WHERE a='%s'\n", 'sqlite').message, /no "dbpath"/);
  assert.match(err('tls.cf', "dbname = x\nquery = SELECT 1 WHERE a='%s'\ntls_CAfile = /etc/ssl/ca.pem\n").message, /line 3: tls_CAfile is not supported/);
  assert.match(err('ph.cf', 'dbname = x\nquery = SELECT 1 WHERE a=?\n').message, /ph\.cf, line 2: query: the query contains "\?"/);
  assert.match(err('lim.cf', "dbname = x\nquery = SELECT 1 WHERE a='%s'\nexpansion_limit = many\n").message, /line 3: expansion_limit = many/);
  assert.match(err('empty.cf', '').message, /empty\.cf: no "query" setting/);
});

test('unknown settings are warnings with their line, not errors', () => {
  const c = parseQueryFile('sqlite', write('w.cf', "dbpath = /x.db\nquery = SELECT 1 WHERE a='%s'\nhosts = localhost\n"));
  assert.deepEqual(c.warnings.map((w) => [w.line, w.message]), [[3, 'unknown sqlite table setting "hosts" (ignored)']]);
});

test('the registry opens SQL tables without connecting, resolving relative paths; a missing file is an error', async () => {
  write('rel.cf', "hosts = inet:127.0.0.1:1\ndbname = x\nquery = SELECT 1 FROM t WHERE a='%s'\n");
  const reg = new TableRegistry({ baseDir: dir });
  const t = reg.open('proxy:mysql:rel.cf');
  assert.equal(t.kind, 'exact');
  await assert.rejects(t.lookup('a@b'), /^Error: proxy:mysql:rel\.cf: .*ECONNREFUSED/);
  assert.throws(() => reg.open('pgsql:nosuch.cf'), /cannot read the pgsql table configuration .*nosuch\.cf: ENOENT/);
  write('self.cf', "dbname = x\nquery = SELECT 1 FROM t WHERE a='%s'\ndomain = mysql:self.cf\n");
  assert.throws(() => reg.open('mysql:self.cf'), /self\.cf, line 3: domain: .*refers to itself/);
  write('badhost.cf', "hosts = unix:relative\ndbname = x\nquery = SELECT 1 FROM t WHERE a='%s'\n");
  assert.throws(() => reg.open('mysql:badhost.cf'), /badhost\.cf, line 1: hosts: "unix:relative": a UNIX socket needs an absolute path/);
  await reg.closeAll();
});

test('host forms', () => {
  assert.deepEqual(parseHost('unix:/run/x.sock', 'mysql'), { kind: 'unix', path: '/run/x.sock', label: 'unix:/run/x.sock' });
  assert.deepEqual(parseHost('inet:db:3307', 'mysql'), { kind: 'tcp', host: 'db', port: 3307, label: 'inet:db:3307' });
  assert.deepEqual(parseHost('db', 'pgsql'), { kind: 'tcp', host: 'db', port: undefined, label: 'db' });
  assert.deepEqual(parseHost('[::1]:5433', 'pgsql'), { kind: 'tcp', host: '::1', port: 5433, label: '[::1]:5433' });
  assert.deepEqual(parseHost('localhost', 'mysql'), { kind: 'unix', path: '/run/mysqld/mysqld.sock', label: 'localhost' }, 'libmysqlclient: localhost is the socket');
  assert.deepEqual(parseHost('inet:localhost', 'mysql'), { kind: 'tcp', host: 'localhost', port: undefined, label: 'inet:localhost' });
  assert.equal(parseHost('postgresql://u:pw@db/mail', 'pgsql').label, 'postgresql://…@db/mail', 'no password in messages');
  assert.throws(() => parseHost('db:99999', 'mysql'), /port out of range/);
  assert.throws(() => parseHost('postgresql://db/x', 'mysql'), /pgsql/);
});

test('failover: hosts in order, a failed host goes last for retry_interval but is still tried', async () => {
  let now = 0;
  const a = { label: 'a' };
  const b = { label: 'b' };
  const f = new Failover([a, b], 60_000, () => now);
  const tried: string[] = [];
  let aUp = false;
  const op = async (h: { label: string }): Promise<string> => {
    tried.push(h.label);
    if (h === a && !aUp) throw new Error('refused');
    return h.label;
  };
  assert.equal(await f.run(op), 'b');
  assert.equal(await f.run(op), 'b');
  assert.deepEqual(tried, ['a', 'b', 'b'], 'a is not retried first while it is marked down');
  now = 61_000;
  aUp = true;
  assert.equal(await f.run(op), 'a', 'after retry_interval a is first again');
  const dead = new Failover([a, b], 60_000, () => now);
  await assert.rejects(dead.run(async (h) => { throw new Error(`${h.label} down`); }), /^Error: a: a down; b: b down$/);
});
