/**
 * End to end with SQL tables, as seed 004 configures them (PostfixAdmin/ViMbAdmin):
 * virtual_mailbox_domains, virtual_mailbox_maps and virtual_alias_maps as mysql: tables
 * on a real MariaDB, as pgsql: tables on a real PostgreSQL, an sqlite: table, and
 * alias_maps as a mysql: table for a local alias. Mail goes in through swaks and Python's
 * smtplib and is checked in the Maildirs byte for byte; unknown users and injection
 * attempts get 550 5.1.1 and leave the databases unchanged; a database that is stopped
 * gives 451 4.3.0 at RCPT, a message accepted meanwhile stays queued (deferred) and is
 * delivered once the database is back, without restarting Postern.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startPostern, baseMainCf, smtpService, maildirMessages, run, type Postern } from '../support/server.js';
import { startDnsServer, ptrName, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { startPostgres, type Postgres } from '../support/postgres.js';

let srv: Postern;
let dns: DnsServer;
let maria: MariaDb;
let pg: Postgres;
let port: number;
let mail: string;

/** PostfixAdmin's tables (trimmed to the columns Postfix reads), for MariaDB and PostgreSQL. */
function postfixAdmin(d: 'mysql' | 'pgsql', domain: string, boxes: string[], aliases: [string, string][]): string {
  const bool = d === 'pgsql' ? 'boolean' : 'tinyint(1)';
  const yes = d === 'pgsql' ? 'true' : '1';
  return `
CREATE TABLE domain (domain varchar(255) PRIMARY KEY, description varchar(255) NOT NULL DEFAULT '', active ${bool} NOT NULL DEFAULT ${yes});
CREATE TABLE mailbox (username varchar(255) PRIMARY KEY, password varchar(255) NOT NULL DEFAULT '', maildir varchar(255) NOT NULL, local_part varchar(255) NOT NULL, domain varchar(255) NOT NULL, active ${bool} NOT NULL DEFAULT ${yes});
CREATE TABLE alias (address varchar(255) PRIMARY KEY, goto text NOT NULL, domain varchar(255) NOT NULL, active ${bool} NOT NULL DEFAULT ${yes});
CREATE TABLE alias_domain (alias_domain varchar(255) PRIMARY KEY, target_domain varchar(255) NOT NULL, active ${bool} NOT NULL DEFAULT ${yes});
CREATE TABLE local_alias (name varchar(255) PRIMARY KEY, target text NOT NULL);
INSERT INTO domain (domain) VALUES ('${domain}'), ('alias.${domain}');
INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('alias.${domain}', '${domain}');
${boxes.map((b) => `INSERT INTO mailbox (username, maildir, local_part, domain) VALUES ('${b}@${domain}', '${domain}/${b}/', '${b}', '${domain}');
INSERT INTO alias (address, goto, domain) VALUES ('${b}@${domain}', '${b}@${domain}', '${domain}');`).join('\n')}
${aliases.map(([a, g]) => `INSERT INTO alias (address, goto, domain) VALUES ('${a}@${domain}', '${g}', '${domain}');`).join('\n')}
INSERT INTO mailbox (username, maildir, local_part, domain, active) VALUES ('disabled@${domain}', '${domain}/disabled/', 'disabled', '${domain}', ${d === 'pgsql' ? 'false' : '0'});
`;
}

/** The query files as PostfixAdmin's documentation writes them. */
function queryFiles(prefix: string, connection: string, aliasDomainQuery: string): Record<string, string> {
  return {
    [`${prefix}-domains.cf`]: `${connection}query = SELECT domain FROM domain WHERE domain='%s' AND active = '1'\n`,
    [`${prefix}-mailbox.cf`]: `${connection}query = SELECT maildir FROM mailbox WHERE username='%s' AND active = '1'\n`,
    [`${prefix}-alias.cf`]: `${connection}query = SELECT goto FROM alias WHERE address='%s' AND active = '1'\n`,
    [`${prefix}-alias-domain.cf`]: `${connection}query = ${aliasDomainQuery}\n`,
  };
}

async function checksums(): Promise<string> {
  const m = await maria.sql('CHECKSUM TABLE domain, mailbox, alias, alias_domain, local_alias EXTENDED; SELECT COUNT(*) FROM mailbox; SELECT COUNT(*) FROM alias;', 'postfix');
  const p = await pg.sql(['domain', 'mailbox', 'alias', 'alias_domain', 'local_alias'].map((t) => `SELECT '${t}', COUNT(*), md5(COALESCE(string_agg(x::text, ',' ORDER BY x::text), '')) FROM ${t} x;`).join('\n'), 'postfix');
  return m + p;
}

before(async () => {
  [maria, pg, dns] = await Promise.all([
    startMariaDb(),
    startPostgres(),
    startDnsServer({ [ptrName('127.0.0.1')]: { PTR: ['client.test'] }, 'client.test': { A: ['127.0.0.1'] } }),
  ]);
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-e2e-sql-'));
  mail = join(dir, 'mail');

  await maria.sql("CREATE DATABASE postfix; CREATE USER 'postfix'@'%' IDENTIFIED BY 'pw#1'; GRANT ALL ON postfix.* TO 'postfix'@'%';");
  await maria.sql(postfixAdmin('mysql', 'mysql.test', ['alice', 'bob'], [['info', 'alice@mysql.test,bob@mysql.test']]) +
    `INSERT INTO local_alias VALUES ('webmaster', '${mail}/local-webmaster/');`, 'postfix');
  await pg.sql("CREATE ROLE postfix LOGIN PASSWORD 'pw#1'; CREATE DATABASE postfix OWNER postfix;");
  await pg.sql('SET ROLE postfix;' + postfixAdmin('pgsql', 'pg.test', ['carol'], [['sales', 'carol@pg.test']]), 'postfix');

  const configDir = join(dir, 'config');
  (await import('node:fs')).mkdirSync(configDir, { recursive: true });
  const lite = new Database(join(configDir, 'lite.sqlite'));
  lite.exec("CREATE TABLE domain (domain text PRIMARY KEY, active integer NOT NULL); INSERT INTO domain VALUES ('sqlite.test', 1);" +
    "CREATE TABLE mailbox (username text PRIMARY KEY, maildir text NOT NULL, active integer NOT NULL); INSERT INTO mailbox VALUES ('dave@sqlite.test', 'sqlite.test/dave/', 1);");
  lite.close();

  // MariaDB over its UNIX socket (PostfixAdmin's usual), PostgreSQL over TCP with a password.
  const myConn = `hosts = unix:${maria.socket}\nuser = postfix\npassword = pw#1\ndbname = postfix\n`;
  const pgConn = `hosts = inet:127.0.0.1:${pg.port}\nuser = postfix\npassword = pw#1\ndbname = postfix\n`;
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      // Relative table files are resolved against the configuration directory.
      virtual_mailbox_domains: 'proxy:mysql:my-domains.cf, pgsql:pg-domains.cf, sqlite:lite-domains.cf',
      virtual_mailbox_maps: 'proxy:mysql:my-mailbox.cf, pgsql:pg-mailbox.cf, sqlite:lite-mailbox.cf',
      virtual_alias_maps: 'proxy:mysql:my-alias.cf, proxy:mysql:my-alias-domain.cf, pgsql:pg-alias.cf, pgsql:pg-alias-domain.cf',
      virtual_mailbox_base: mail,
      alias_maps: 'mysql:$config_directory/my-aliases.cf',
      smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
      queue_run_delay: '1s',
      minimal_backoff_time: '1s',
      maximal_backoff_time: '2s',
      // Many refused recipients in one session: no tarpit, no disconnect.
      smtpd_error_sleep_time: '0s',
      smtpd_soft_error_limit: '100',
      smtpd_hard_error_limit: '100',
    }, dns.port),
    masterCf: smtpService(port),
    files: {
      ...queryFiles('my', myConn, "SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = CONCAT('%u', '@', alias_domain.target_domain) AND alias.active = 1 AND alias_domain.active='1'"),
      ...queryFiles('pg', pgConn, "SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = '%u' || '@' || alias_domain.target_domain AND alias.active = true AND alias_domain.active = true"),
      'my-aliases.cf': `hosts = inet:127.0.0.1:${maria.port}\nuser = postfix\npassword = pw#1\ndbname = postfix\nquery = SELECT target FROM local_alias WHERE name='%s'\n`,
      'lite-domains.cf': "dbpath = lite.sqlite\nquery = SELECT domain FROM domain WHERE domain='%s' AND active = 1\n",
      'lite-mailbox.cf': "dbpath = lite.sqlite\nquery = SELECT maildir FROM mailbox WHERE username='%s' AND active = 1\n",
    },
  });
});

after(async () => {
  await srv?.stop();
  await Promise.allSettled([maria?.cleanup(), pg?.cleanup(), dns?.close()]);
  srv?.cleanup();
});

const message = (to: string, id: string): string => [
  'From: Sender <sender@remote.example>',
  `To: ${to}`,
  'Subject: from the database',
  `Message-ID: <${id}@remote.example>`,
  '',
  'First line.',
  '.a line that starts with a dot',
  "it's 100% data; -- not SQL",
  'last line',
].join('\n');

/** The Maildir file must be our three delivery headers, Received:, then the message byte for byte. */
function assertDelivered(text: string, to: string, body: string): void {
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 3), ['Return-Path: <sender@remote.example>', `X-Original-To: ${to}`, `Delivered-To: ${to}`]);
  let i = 3;
  assert.match(lines[i++]!, /^Received: from client\.test \(client\.test \[127\.0\.0\.1\]\)$/);
  while (lines[i]!.startsWith('\t')) i++;
  assert.equal(lines.slice(i).join('\n'), body + '\n');
}

async function swaks(to: string, body: string): Promise<string> {
  const file = join(srv.dir, `msg-${to}.txt`);
  writeFileSync(file, body);
  const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 'sender@remote.example', '--to', to, '--data', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const m = /250 2\.0\.0 Ok: queued as ([0-9A-F]+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  return m[1]!;
}

for (const [to, box] of [['alice@mysql.test', 'mysql.test/alice'], ['carol@pg.test', 'pg.test/carol'], ['dave@sqlite.test', 'sqlite.test/dave']] as const) {
  test(`swaks → ${to}: domain, mailbox and alias tables in ${to.split('@')[1]!.split('.')[0]}, Maildir file byte for byte`, async () => {
    const body = message(to, `byte-${to}`);
    const id = await swaks(to, body);
    await srv.waitForLog(new RegExp(`${id}: to=<${to.replace(/\./g, '\\.')}>, relay=virtual, .*status=sent \\(delivered to maildir\\)`));
    const msgs = maildirMessages(join(mail, box));
    assert.equal(msgs.length, 1);
    assertDelivered(msgs[0]!.text, to, body);
  });
}

test('smtplib: virtual aliases from MariaDB (fan-out, alias domain via CONCAT) and PostgreSQL (alias domain via ||), and a local alias from alias_maps = mysql:', async () => {
  const py = `
import smtplib, sys
body = b"From: p@remote.example\\r\\nSubject: aliases\\r\\n\\r\\nfan out\\r\\n"
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test", timeout=20) as s:
    refused = s.sendmail("p@remote.example", ["info@mysql.test", "bob@alias.mysql.test", "sales@pg.test", "carol@alias.pg.test", "webmaster@mx.test"], body)
    print("refused", refused)
`;
  const r = await run('python3', ['-c', py, String(port)]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /refused \{\}/);
  await srv.waitForLog(/to=<alice@mysql\.test>, orig_to=<info@mysql\.test>, relay=virtual.*status=sent/);
  await srv.waitForLog(/to=<bob@mysql\.test>, orig_to=<info@mysql\.test>, relay=virtual.*status=sent/);
  await srv.waitForLog(/to=<bob@mysql\.test>, orig_to=<bob@alias\.mysql\.test>, relay=virtual.*status=sent/);
  await srv.waitForLog(/to=<carol@pg\.test>, orig_to=<sales@pg\.test>, relay=virtual.*status=sent/);
  await srv.waitForLog(/to=<carol@pg\.test>, orig_to=<carol@alias\.pg\.test>, relay=virtual.*status=sent/);
  await srv.waitForLog(/to=<webmaster@mx\.test>, relay=local.*status=sent \(delivered to maildir\)/);
  const bob = maildirMessages(join(mail, 'mysql.test/bob'));
  assert.equal(bob.length, 2);
  for (const m of bob) assert.ok(m.text.endsWith('Subject: aliases\n\nfan out\n'), m.text);
  const web = maildirMessages(join(mail, 'local-webmaster'));
  assert.equal(web.length, 1);
  assert.ok(web[0]!.text.startsWith('Return-Path: <p@remote.example>\nX-Original-To: webmaster@mx.test\nDelivered-To: webmaster@mx.test\n'), web[0]!.text);
});

test('unknown and disabled users get 550 5.1.1 at RCPT in every backend; injection attempts too, and no table changes', async () => {
  const before = await checksums();
  const c = await SmtpDialog.connect(port);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<s@remote.example>')).raw, '250 2.1.0 Ok');
  for (const rcpt of ['nosuch@mysql.test', 'disabled@mysql.test', 'nosuch@pg.test', 'disabled@pg.test', 'nosuch@sqlite.test', 'nosuch@alias.mysql.test']) {
    assert.equal((await c.cmd(`RCPT TO:<${rcpt}>`)).raw, `550 5.1.1 <${rcpt}>: Recipient address rejected: User unknown in virtual mailbox table`, rcpt);
  }
  assert.equal((await c.cmd('RCPT TO:<nosuchuser@mx.test>')).raw, '550 5.1.1 <nosuchuser@mx.test>: Recipient address rejected: User unknown in local recipient table');
  for (const domain of ['mysql.test', 'pg.test', 'sqlite.test']) {
    for (const local of ["x'OR'1'='1", '"x\' OR \'1\'=\'1"', '"a\'; DELETE FROM mailbox; --"', "alice'--", '"x\\\\\'; DROP TABLE alias; #"', '_lice']) {
      const rcpt = `${local}@${domain}`;
      const r = await c.cmd(`RCPT TO:<${rcpt}>`);
      assert.equal(r.code, 550, `${rcpt}: ${r.raw}`);
      assert.match(r.raw, /^550 5\.1\.1 .*User unknown in virtual mailbox table$/);
    }
  }
  assert.equal((await c.cmd('QUIT')).code, 221);
  assert.equal(await checksums(), before, 'every table unchanged');
  assert.equal(maildirMessages(join(mail, 'mysql.test/alice')).length + maildirMessages(join(mail, 'mysql.test/bob')).length, 4, 'no injected recipient reached a mailbox');
});

test('MariaDB stopped: 451 4.3.0 at RCPT; mail accepted meanwhile stays queued and is delivered after the restart, without restarting Postern', async () => {
  const c = await SmtpDialog.connect(port);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<sender@remote.example>')).raw, '250 2.1.0 Ok');
  assert.equal((await c.cmd('RCPT TO:<bob@mysql.test>')).raw, '250 2.1.5 Ok', 'accepted while the database is up');
  await maria.stop();
  try {
    // The recipient was accepted: the message is taken and must not be lost.
    assert.equal((await c.cmd('DATA')).code, 354);
    const body = message('bob@mysql.test', 'outage-1');
    c.sendRaw(body.replace(/\n/g, '\r\n').replace(/^\./gm, '..') + '\r\n.\r\n');
    const queued = await c.reply(10_000);
    assert.match(queued.raw, /^250 2\.0\.0 Ok: queued as [0-9A-F]+$/);
    const id = /queued as ([0-9A-F]+)/.exec(queued.raw)![1]!;
    // RCPT during the outage: temporary failure, never "unknown user".
    assert.equal((await c.cmd('MAIL FROM:<sender@remote.example>')).raw, '250 2.1.0 Ok');
    assert.equal((await c.cmd('RCPT TO:<alice@mysql.test>', 15_000)).raw, '451 4.3.0 <alice@mysql.test>: Temporary lookup failure');
    assert.equal((await c.cmd('RCPT TO:<nosuch@mysql.test>', 15_000)).raw, '451 4.3.0 <nosuch@mysql.test>: Temporary lookup failure');
    assert.equal((await c.cmd('RCPT TO:<webmaster@mx.test>', 15_000)).raw, '451 4.3.0 <webmaster@mx.test>: Temporary lookup failure', 'alias_maps is MariaDB too');
    assert.equal((await c.cmd('QUIT')).code, 221);
    await srv.waitForLog(new RegExp(`NOQUEUE: reject: RCPT from client\\.test\\[127\\.0\\.0\\.1\\]: 451 4\\.3\\.0 <alice@mysql\\.test>: Temporary lookup failure`));
    await srv.waitForLog(new RegExp(`${id}: to=<bob@mysql\\.test>, relay=.*, dsn=4\\.3\\.0, status=deferred \\(address resolution failed: .*mysql:my-[a-z-]+\\.cf: `), 15_000);
    assert.equal(maildirMessages(join(mail, 'mysql.test/bob')).filter((m) => m.text.includes('outage-1')).length, 0);
    await new Promise((r) => setTimeout(r, 2500)); // at least one retry while the database is still down
    assert.doesNotMatch(srv.log(), new RegExp(`${id}: to=<bob@mysql\\.test>.*status=(sent|bounced)`));
    await maria.start();
    await srv.waitForLog(new RegExp(`${id}: to=<bob@mysql\\.test>, relay=virtual, .*status=sent \\(delivered to maildir\\)`), 20_000);
    await srv.waitForLog(new RegExp(`${id}: removed`));
    const got = maildirMessages(join(mail, 'mysql.test/bob')).filter((m) => m.text.includes('outage-1'));
    assert.equal(got.length, 1);
    assertDelivered(got[0]!.text, 'bob@mysql.test', body);
  } finally {
    await maria.start(); // no-op when it already runs
  }
  // The same Postern process answers from the database again.
  const d = await SmtpDialog.connect(port);
  assert.equal((await d.reply()).code, 220);
  assert.equal((await d.cmd('EHLO client.test')).code, 250);
  assert.equal((await d.cmd('MAIL FROM:<s@remote.example>')).raw, '250 2.1.0 Ok');
  assert.equal((await d.cmd('RCPT TO:<alice@mysql.test>')).raw, '250 2.1.5 Ok');
  assert.equal((await d.cmd('RCPT TO:<webmaster@mx.test>')).raw, '250 2.1.5 Ok');
  assert.equal((await d.cmd('RCPT TO:<nosuch@mysql.test>')).code, 550);
  assert.equal((await d.cmd('QUIT')).code, 221);
});

test('PostgreSQL stopped: 451 4.3.0 for its domain, 250 again after the restart', async () => {
  await pg.stop();
  try {
    const c = await SmtpDialog.connect(port);
    assert.equal((await c.reply()).code, 220);
    assert.equal((await c.cmd('EHLO client.test')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<s@remote.example>')).raw, '250 2.1.0 Ok');
    assert.equal((await c.cmd('RCPT TO:<carol@pg.test>', 15_000)).raw, '451 4.3.0 <carol@pg.test>: Temporary lookup failure');
    assert.equal((await c.cmd('QUIT')).code, 221);
  } finally {
    await pg.start();
  }
  const c = await SmtpDialog.connect(port);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<s@remote.example>')).raw, '250 2.1.0 Ok');
  assert.equal((await c.cmd('RCPT TO:<carol@pg.test>')).raw, '250 2.1.5 Ok');
  assert.equal((await c.cmd('QUIT')).code, 221);
});
