import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableRegistry } from './open.js';
import { TableError, type LookupTable } from './types.js';
import { lookupAddress, lookupClient, lookupDomain, addressKeys } from './lookup-order.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-tables-'));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

// One shared suite for every exact-key table type: same data, same expectations.
const DATA: [string, string][] = [['example.com', 'OK'], ['user@example.org', 'REJECT go away'], ['10.1.2', 'DUNNO'], ['postmaster@', 'OK']];
const exactTables: Record<string, () => LookupTable> = {
  hash: () => new TableRegistry().open(`hash:${write('access', '# comment\n' + DATA.map(([k, v]) => `${k.toUpperCase()}\t${v}`).join('\n') + '\n')}`),
  texthash: () => new TableRegistry().open(`texthash:${write('access2', DATA.map(([k, v]) => `${k} ${v}`).join('\n'))}`),
  lmdb: () => new TableRegistry().open(`proxy:lmdb:${write('access3', DATA.map(([k, v]) => `${k}   ${v}`).join('\n'))}`),
  inline: () => new TableRegistry().open(`inline:{ ${DATA.map(([k, v]) => (v.includes(' ') ? `{ ${k} = ${v} }` : `${k}=${v}`)).join(', ')} }`),
};

for (const [type, make] of Object.entries(exactTables)) {
  test(`${type}: exact keys, case folding, misses`, async () => {
    const t = make();
    assert.equal(t.kind, 'exact');
    assert.equal(await t.lookup('example.com'), 'OK');
    assert.equal(await t.lookup('EXAMPLE.COM'), 'OK');
    assert.equal(await t.lookup('user@example.org'), 'REJECT go away');
    assert.equal(await t.lookup('sub.example.com'), undefined);
    assert.equal(await t.lookup(''), undefined);
  });
  test(`${type}: Postfix lookup order for addresses, domains and clients`, async () => {
    const t = make();
    const opts = { delimiter: '+', parentMatches: true };
    assert.deepEqual(await lookupAddress(t, 'user+tag@example.org', opts), { key: 'user@example.org', value: 'REJECT go away' });
    assert.deepEqual(await lookupAddress(t, 'anyone@mail.example.com', opts), { key: 'example.com', value: 'OK' });
    assert.equal(await lookupAddress(t, 'anyone@mail.example.com', { delimiter: '', parentMatches: false }), undefined, 'without parent matching only .example.com would match');
    assert.deepEqual(await lookupAddress(t, 'postmaster@elsewhere.test', opts), { key: 'postmaster@', value: 'OK' });
    assert.deepEqual(await lookupDomain(t, 'a.b.example.com', opts), { key: 'example.com', value: 'OK' });
    assert.deepEqual(await lookupClient(t, { name: 'unknown', addr: '10.1.2.3' }, opts), { key: '10.1.2', value: 'DUNNO' });
  });
}

test('static: every key has the value', async () => {
  const t = new TableRegistry().open('static:{ 5000 }');
  assert.equal(await t.lookup('anything'), '5000');
});

test('hash: reloads when the source changes', async () => {
  let now = 0;
  const p = write('reload', 'a OK\n');
  const t = new TableRegistry({ now: () => now }).open(`hash:${p}`);
  assert.equal(await t.lookup('a'), 'OK');
  writeFileSync(p, 'a REJECT\nb OK\n');
  utimesSync(p, new Date(), new Date(Date.now() + 5000));
  assert.equal(await t.lookup('a'), 'OK', 'not re-read within the stat window');
  now += 1500;
  assert.equal(await t.lookup('a'), 'REJECT');
  assert.equal(await t.lookup('b'), 'OK');
});

test('regexp: flags, negation, if/endif, $1 substitution, case-insensitive by default', async () => {
  const p = write('re', [
    '/^(.*)@spam\\.example$/ REJECT spam from $1',
    '!/\\.example$/ DUNNO not example',
    'if /^mail/',
    '/^mail[0-9]+\\./ OK numbered',
    'endif',
    '/^Caps\\./i REJECT case-sensitive now',
    '/[[:digit:]]{3}/ WARN three digits',
  ].join('\n'));
  const t = new TableRegistry().open(`regexp:${p}`);
  assert.equal(t.kind, 'pattern');
  assert.equal(await t.lookup('Joe@SPAM.example'), 'REJECT spam from Joe');
  assert.equal(await t.lookup('host.other.test'), 'DUNNO not example');
  assert.equal(await t.lookup('mail12.foo.example'), 'OK numbered');
  assert.equal(await t.lookup('caps.x.example'), undefined, '"i" toggles case-insensitivity off');
  assert.equal(await t.lookup('Caps.x.example'), 'REJECT case-sensitive now');
  assert.equal(await t.lookup('a123.example'), 'WARN three digits');
});

test('S25R rules from seed 003 load as regexp and pcre and match dynamic-looking hosts', async () => {
  const rules = [
    '/^[^.]*[0-9][^0-9.]+[0-9].*\\./ 450 S25R check, be patient',
    '/^[^.]*[0-9]{5}/ 450 S25R check, be patient',
    '/^([^.]+\\.)?[0-9][^.]*\\.[^.]+\\..+\\.[a-z]/ 450 S25R check, be patient',
    '/^[^.]*[0-9]\\.[^.]*[0-9]-[0-9]/ 450 S25R check, be patient',
    '/^[^.]*[0-9]\\.[^.]*[0-9]\\.[^.]+\\..+\\./ 450 S25R check, be patient',
    '/^(dhcp|dialup|ppp|[achrsvx]?dsl)[^.]*[0-9]/ 450 S25R check, be patient',
  ].join('\n');
  for (const type of ['regexp', 'pcre']) {
    const t = new TableRegistry().open(`${type}:${write(`s25r-${type}`, rules)}`);
    for (const host of ['p1234-ipad56osakakita.osaka.ocn.ne.jp', 'i220-221-123-45.s41.a014.ap.plala.or.jp', 'dhcp123.example.net', 'ntsitm293066.sitm.nt.ngn.ppp.infoweb.ne.jp']) {
      assert.equal(await t.lookup(host), '450 S25R check, be patient', `${type} ${host}`);
    }
    for (const host of ['mail.example.co.jp', 'mx1.google.com', 'smtp.nifty.com']) assert.equal(await t.lookup(host), undefined, `${type} ${host}`);
  }
});

test('pcre: constructs JS cannot do the same way are refused with file and line', () => {
  for (const [pattern, what] of [['/a++b/', 'possessive'], ['/(?>ab)/', 'atomic'], ['/(a(?R)?b)/', 'recursion'], ['/\\Qa.b\\E/', 'quoting'], ['/(?(1)a|b)/', 'conditional'], ['/ab\\Kc/', 'reset']]) {
    const p = write('bad.pcre', `# header\n/ok/ OK\n${pattern} REJECT\n`);
    assert.throws(() => new TableRegistry().open(`pcre:${p}`), (e: unknown) => e instanceof TableError && e.line === 3 && e.message.includes(what), pattern);
  }
});

test('regexp lint: seed 003 "/~From:/" can never match a header', () => {
  const p = write('header_checks', '/^Subject:.*viagra/ REJECT\n/~From:.*@spam/ REJECT\n');
  const t = new TableRegistry().open(`regexp:${p}`) as LookupTable & { lint(): { line: number; message: string }[] };
  assert.deepEqual(t.lint().map((l) => l.line), [2]);
  assert.match(t.lint()[0]!.message, /did you mean "\^From:/);
});

test('cidr: first match, negation, IPv6, bad networks refused', async () => {
  const t = new TableRegistry().open(`cidr:${write('nets', '192.0.2.0/24 REJECT\n2001:db8::/32 OK\n[::1] OK\n!10.0.0.0/8 DUNNO\n')}`);
  assert.equal(await t.lookup('192.0.2.55'), 'REJECT');
  assert.equal(await t.lookup('8.8.8.8'), 'DUNNO');
  assert.equal(await t.lookup('10.1.1.1'), undefined);
  assert.equal(await t.lookup('2001:db8::25'), 'OK');
  assert.equal(await t.lookup('::1'), 'OK');
  assert.equal(await lookupClient(t, { name: 'x.test', addr: '192.0.2.9' }, { delimiter: '', parentMatches: true }).then((h) => h?.value), 'REJECT');
  assert.throws(() => new TableRegistry().open(`cidr:${write('badnets', '192.0.2.0/33 REJECT\n')}`), /badnets:1: bad mask length in "192\.0\.2\.0\/33"$/);
  assert.throws(() => new TableRegistry().open(`cidr:${write('badnets2', '10.0.0.0/8 OK\nfoo/24 REJECT\n')}`), /badnets2:2: bad network value in "foo\/24"$/);
});

test('cidr: every network form Postfix accepts, IPv4-mapped networks and clients matched across families', async () => {
  const t = new TableRegistry().open(`cidr:${write('forms.cidr', [
    '[::ffff:127.0.0.0]/104 MAPPED-LOOPBACK',
    '[::ffff:c633:6400]/120 MAPPED-HEX',
    '[192.0.2.0]/24 BRACKET4',
    '[203.0.113.7] BARE4-BRACKET',
    '198.18.0.1 BARE4',
    '10.0.0.0/8 TEN',
    '::1/128 V6-NO-BRACKETS',
    '[2001:db8::/32] BRACKET6-WHOLE',
    '[2001:db9::]/32 BRACKET6',
    '2001:dba::1 BARE6',
  ].join('\n') + '\n')}`);
  const cases: [string, string | undefined][] = [
    ['127.0.0.1', 'MAPPED-LOOPBACK'], ['::ffff:127.0.0.1', 'MAPPED-LOOPBACK'], ['::ffff:7f00:2', 'MAPPED-LOOPBACK'],
    ['198.51.100.9', 'MAPPED-HEX'], ['::ffff:198.51.100.9', 'MAPPED-HEX'],
    ['192.0.2.200', 'BRACKET4'], ['::ffff:192.0.2.200', 'BRACKET4'],
    ['203.0.113.7', 'BARE4-BRACKET'], ['203.0.113.8', undefined],
    ['198.18.0.1', 'BARE4'], ['::ffff:198.18.0.1', 'BARE4'],
    ['10.9.8.7', 'TEN'], ['::ffff:10.9.8.7', 'TEN'],
    ['::1', 'V6-NO-BRACKETS'], ['2001:db8::5', 'BRACKET6-WHOLE'], ['2001:db9:1::', 'BRACKET6'], ['2001:dba::1', 'BARE6'], ['2001:dba::2', undefined],
    ['[10.1.1.1]', undefined], ['garbage', undefined],
  ];
  for (const [key, want] of cases) assert.equal(await t.lookup(key), want, key);
  // check_client_access with a cidr table: the mapped client is found through lookupClient as well.
  assert.equal((await lookupClient(t, { name: 'unknown', addr: '::ffff:10.1.2.3' }, { delimiter: '', parentMatches: true }))?.value, 'TEN');
});

test('cidr: a network with host bits set is skipped with Postfix\'s warning, as Postfix does; on an if line it is an error', async () => {
  const file = write('hostbits.cidr', '192.168.1.1/24 REJECT\n[2001:db8::1]/32 REJECT\n0.0.0.0/0 OK\n');
  const t = new TableRegistry().open(`cidr:${file}`) as LookupTable & { lint(): { line: number; message: string }[] };
  assert.equal(await t.lookup('192.168.1.5'), 'OK');
  assert.equal(await t.lookup('2001:db8::1'), undefined);
  assert.deepEqual(t.lint(), [
    { line: 1, message: `cidr map ${file}, line 1: non-null host address bits in "192.168.1.1/24", perhaps you should use "192.168.1.0/24" instead: skipping this rule` },
    { line: 2, message: `cidr map ${file}, line 2: non-null host address bits in "2001:db8::1/32", perhaps you should use "2001:db8::/32" instead: skipping this rule` },
  ]);
  assert.throws(() => new TableRegistry().open(`cidr:${write('hostbits-if.cidr', 'if 10.0.0.1/8\n10.1.0.0/16 OK\nendif\n')}`),
    /hostbits-if\.cidr:1: non-null host address bits in "10\.0\.0\.1\/8", perhaps you should use "10\.0\.0\.0\/8" instead$/);
});

test('unsupported and missing tables fail with precise messages', () => {
  assert.throws(() => new TableRegistry().open('ldap:/etc/postfix/x.cf'), /table type ldap is not supported yet in Postern/);
  assert.throws(() => new TableRegistry().open('mysql:/etc/postfix/no-such.cf'), /cannot read the mysql table configuration \/etc\/postfix\/no-such.cf: ENOENT/);
  assert.throws(() => new TableRegistry().open('frob:/x'), /unsupported table type 'frob'/);
  assert.throws(() => new TableRegistry().open(`hash:${join(dir, 'missing')}`), /does not exist/);
  assert.throws(() => new TableRegistry().open('nocolon'), /is not a table/);
});

test('unix:passwd.byname knows root', async () => {
  const t = new TableRegistry().open('proxy:unix:passwd.byname');
  assert.match((await t.lookup('root')) ?? '', /^root:/);
  assert.equal(await t.lookup('no-such-user-here'), undefined);
});

test('client address keys: IPv4 prefixes and IPv6 groups', () => {
  assert.deepEqual(addressKeys('192.0.2.7'), ['192.0.2.7', '192.0.2', '192.0', '192']);
  assert.equal(addressKeys('2001:db8::1')[1], '2001:db8:0:0:0:0:0');
});
