/**
 * Resolver unit tests: address classes (incl. the relay-trick table: every trick is
 * non-final), recipient checks with Postfix's wording, and expansion to delivery targets.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paramsFrom } from '../config/test-params.js';
import { TableRegistry } from '../tables/open.js';
import { PasswdTable } from '../tables/exact.js';
import { formatReply } from '../protocol/reply.js';
import { createResolver } from './resolver.js';
import type { DeliveryTarget, RecipientCheck } from './types.js';

type Refused = Extract<RecipientCheck, { reply: unknown }>;
type Maildir = Extract<DeliveryTarget, { kind: 'maildir' }>;

const dir = mkdtempSync(join(tmpdir(), 'postern-resolve-'));
const f = (name: string, content: string): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
mkdirSync(join(dir, 'home/alice'), { recursive: true });
f('team.list', '# the team\nalice, carol@elsewhere.example\n/srv/mail/team-archive\n');
f('passwd', [
  'root:x:0:0:root:/root:/bin/bash',
  `alice:x:1001:1002:Alice:${dir}/home/alice:/bin/sh`,
  `bob:x:1003:1004:Bob:${dir}/home/bob:/bin/sh`,
  `pm:x:1005:1005:Postmaster:${dir}/home/pm:/bin/sh`,
].join('\n') + '\n');
f('aliases', [
  '# system aliases',
  'postmaster: root',
  'root: alice',
  'team: alice,',
  '  bob, carol@elsewhere.example',
  '"sales dept": bob',
  'archive: /srv/mail/archive/',
  'mboxer: /var/mail/file',
  'piper: "|/usr/bin/procmail"',
  'lister: :include:/nonexistent/postern-list',
  `crew: :include:${dir}/team.list`,
  'loop1: loop2',
  'loop2: loop1',
  'selfish: selfish, alice',
  'fwd: someone@remote.example',
  'tovirt: bob@example.test',
].join('\n') + '\n');
f('vmailbox', 'bob@example.test example.test/bob/\nmbox@example.test example.test/mbox\n@catch.test catch.test/all/\n');
f('valias', [
  'sales@alias.test bob@example.test, fwd@mx.test',
  'info@alias.test sales@alias.test',
  'sales@example.test bob@example.test',
  'a@alias.test b@alias.test',
  'b@alias.test a@alias.test',
  'self@example.test self@example.test, bob@example.test',
  'ext@alias.test bob@example.test',
].join('\n') + '\n');
f('domains', 'other.test OK\n');
f('users', 'alice x\nbob x\npm x\n');

const BASE: Record<string, string> = {
  myhostname: 'mx.test', mydomain: 'test', myorigin: 'mx.test',
  mydestination: `mx.test, localhost.test, localhost, [192.0.2.10], texthash:${join(dir, 'domains')}`,
  relay_domains: 'relay.test', virtual_alias_domains: 'alias.test',
  virtual_mailbox_domains: 'example.test, catch.test', virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`,
  virtual_alias_maps: `texthash:${join(dir, 'valias')}`, virtual_mailbox_base: '/srv/vmail',
  alias_maps: `hash:${join(dir, 'aliases')}`, local_recipient_maps: `texthash:${join(dir, 'users')} $alias_maps`,
  recipient_delimiter: '+', config_directory: dir,
};

function resolver(values: Record<string, string> = {}, uid = 0) {
  const merged = Object.fromEntries(Object.entries({ ...BASE, ...values }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const params = paramsFrom(merged);
  const tables = new TableRegistry({ baseDir: dir });
  return createResolver(params, { tables, passwd: new PasswdTable('unix:passwd.byname', join(dir, 'passwd')), uid });
}

test('classify: each address class, normalised', async () => {
  const r = resolver();
  const cases: [string, string, string, boolean][] = [
    ['alice@mx.test', 'local', 'mx.test', true],
    ['ALICE@MX.TEST.', 'local', 'mx.test', true],
    ['alice', 'local', 'mx.test', true],
    ['alice@localhost', 'local', 'localhost', true],
    ['alice@[192.0.2.10]', 'local', '[192.0.2.10]', true],
    ['x@other.test', 'local', 'other.test', true],
    ['x@alias.test', 'virtual_alias', 'alias.test', true],
    ['x@Example.Test', 'virtual_mailbox', 'example.test', true],
    ['x@relay.test', 'relay', 'relay.test', false],
    ['x@example.com', 'default', 'example.com', false],
    ['@a.example,@b.example:alice@mx.test', 'local', 'mx.test', true],
  ];
  for (const [addr, cls, domain, final] of cases) {
    assert.deepEqual(await r.classify(addr), { className: cls, domain, isFinal: final }, addr);
  }
});

test('classify: relay_domains subdomains only with parent_domain_matches_subdomains', async () => {
  assert.equal((await resolver().classify('x@sub.relay.test')).className, 'default');
  assert.equal((await resolver({ parent_domain_matches_subdomains: 'relay_domains' }).classify('x@sub.relay.test')).className, 'relay');
});

test('classify: virtual_mailbox_domains defaults to the keys of virtual_mailbox_maps', async () => {
  const r = resolver({ virtual_mailbox_domains: undefined as unknown as string, virtual_mailbox_maps: `texthash:${f('vm2', 'u@vdom.test vdom.test/u/\nvdom2.test x\n')}` });
  assert.equal((await r.classify('u@vdom2.test')).className, 'virtual_mailbox');
  assert.equal((await r.classify('u@vdom.test')).className, 'default'); // a user key is not a domain key
});

test('classify: every address trick is non-final', async () => {
  const r = resolver();
  const tricks: [string, string][] = [
    ['user%evil.example@mx.test', 'evil.example'],
    ['USER%EVIL.EXAMPLE@MX.TEST', 'evil.example'],
    ['user%evil.example.@mx.test.', 'evil.example'],
    ['user%a.example%evil.example@mx.test', 'evil.example'],
    ['user%evil.example@example.test', 'evil.example'],
    ['user%evil.example@alias.test', 'evil.example'],
    ['user%evil.example@[192.0.2.10]', 'evil.example'],
    ['evil.example!user@mx.test', 'evil.example'],
    ['evil.example!user@example.test', 'evil.example'],
    ['evil.example!other.example!user@mx.test', 'evil.example'],
    ['"user@evil.example"@mx.test', 'evil.example'],
    ['"user@evil.example"@[192.0.2.10]', 'evil.example'],
    ['"user%evil.example"@mx.test', 'evil.example'],
    ['"evil.example!user"@mx.test', 'evil.example'],
    ['"user\\@evil.example"@mx.test', 'evil.example'],
    ['@mx.test:user@evil.example', 'evil.example'],
    ['@mx.test,@example.test:user%evil.example@mx.test', 'evil.example'],
    ['user%mx.test@mx.test', 'mx.test'],
    ['mx.test!user@mx.test', 'mx.test'],
    ['"user@mx.test"@mx.test', 'mx.test'],
    ['user%[192.0.2.1]@mx.test', '[192.0.2.1]'],
    ['user@mx.test.evil.example', 'mx.test.evil.example'],
    ['user@evil-mx.test', 'evil-mx.test'],
    ['user@mx.test.evil', 'mx.test.evil'],
    ['user@sub.mx.test', 'sub.mx.test'],
    ['user@[192.0.2.99]', '[192.0.2.99]'],
    ['user@[IPv6:2001:db8::1]', '[ipv6:2001:db8::1]'],
  ];
  assert.equal(tricks.length >= 20, true, 'at least 20 tricks');
  for (const [addr, domain] of tricks) {
    const c = await r.classify(addr);
    assert.equal(c.isFinal, false, addr);
    assert.equal(c.className, 'default', addr);
    assert.equal(c.domain, domain, addr);
  }
  // An embedded relay_domains destination is relayed, as Postfix would route it: still not final.
  assert.deepEqual(await r.classify('user%relay.test@mx.test'), { className: 'relay', domain: 'relay.test', isFinal: false });
});

test('classify: with the percent hack and bang paths off, % and ! are ordinary characters', async () => {
  const r = resolver({ allow_percent_hack: 'no', swap_bangpath: 'no' });
  assert.equal((await r.classify('user%evil.example@mx.test')).className, 'local');
  assert.equal((await r.classify('evil.example!user@mx.test')).className, 'local');
  // … and the user does not exist, so the address is still refused at RCPT.
  assert.equal((await r.checkRecipient('user%evil.example@mx.test')).known, false);
  // Quoted "@" is always a trick.
  assert.equal((await r.classify('"user@evil.example"@mx.test')).isFinal, false);
});

test('checkRecipient: local users, extensions, aliases and postmaster', async () => {
  const r = resolver();
  for (const a of ['alice@mx.test', 'Alice@MX.test', 'alice+lists@mx.test', 'team@mx.test', 'sales dept@mx.test', 'postmaster@mx.test', 'POSTMASTER@localhost', 'postmaster', 'root@mx.test']) {
    assert.deepEqual(await r.checkRecipient(a), { known: true }, a);
  }
  const no = await r.checkRecipient('nobody@mx.test');
  assert.equal(no.known, false);
  assert.equal(formatReply((no as Refused).reply), '550 5.1.1 <nobody@mx.test>: Recipient address rejected: User unknown in local recipient table\r\n');
});

test('checkRecipient: virtual mailbox and virtual alias wording', async () => {
  const r = resolver();
  for (const a of ['bob@example.test', 'bob+x@example.test', 'sales@example.test', 'sales@alias.test', 'anyone@catch.test', 'postmaster@example.test', 'postmaster@alias.test']) {
    assert.deepEqual(await r.checkRecipient(a), { known: true }, a);
  }
  const vm = await r.checkRecipient('nope@example.test');
  assert.equal(vm.known, false);
  assert.equal(formatReply((vm as Refused).reply), '550 5.1.1 <nope@example.test>: Recipient address rejected: User unknown in virtual mailbox table\r\n');
  const va = await r.checkRecipient('nope@alias.test');
  assert.equal(va.known, false);
  assert.equal(formatReply((va as Refused).reply), '550 5.1.1 <nope@alias.test>: Recipient address rejected: User unknown in virtual alias table\r\n');
});

test('checkRecipient: reject codes, empty local_recipient_maps, non-final domains', async () => {
  const c450 = await resolver({ unknown_local_recipient_reject_code: '450' }).checkRecipient('nobody@mx.test');
  assert.equal(c450.known, false);
  assert.equal(formatReply((c450 as Refused).reply), '450 4.1.1 <nobody@mx.test>: Recipient address rejected: User unknown in local recipient table\r\n');
  assert.deepEqual(await resolver({ local_recipient_maps: '' }).checkRecipient('anybody@mx.test'), { known: true });
  // Postfix's default: UNIX accounts from the passwd database plus aliases.
  const dflt = resolver({ local_recipient_maps: undefined as unknown as string });
  assert.deepEqual(await dflt.checkRecipient('root@mx.test'), { known: true });
  assert.deepEqual(await dflt.checkRecipient('team@mx.test'), { known: true });
  assert.equal((await dflt.checkRecipient('no-such-unix-user-x7@mx.test')).known, false);
  assert.deepEqual(await resolver().checkRecipient('x@relay.test'), { known: true });
  assert.deepEqual(await resolver().checkRecipient('x@example.com'), { known: true });
});

test('checkRecipient: a table that cannot be read is a temporary failure', async () => {
  const r = resolver({ virtual_mailbox_maps: `texthash:${join(dir, 'missing-vmailbox')}` });
  const c = await r.checkRecipient('bob@example.test');
  assert.equal(c.known, 'tempfail');
  assert.equal(formatReply((c as Refused).reply), '451 4.3.0 <bob@example.test>: Temporary lookup failure\r\n');
});

const brief = (ts: DeliveryTarget[]) => ts.map((t) => (t.kind === 'maildir' ? `maildir ${t.via} ${t.path} ${t.uid ?? '-'}:${t.gid ?? '-'} ${t.recipient}` : t.kind === 'remote' ? `remote ${t.recipient}` : t.kind === 'bounce' || t.kind === 'defer' ? `${t.kind} ${t.dsn} ${t.text}` : t.kind === 'transport' ? `${t.transport}:${t.nexthop} ${t.recipient}` : `${t.kind} ${t.recipient}`));

test('expand: local user to home Maildir with uid/gid, extension kept as recipient', async () => {
  const r = resolver();
  assert.deepEqual(brief(await r.expand('alice@mx.test')), [`maildir local ${dir}/home/alice/Maildir/ 1001:1002 alice@mx.test`]);
  const t = (await r.expand('Alice+lists@mx.test'))[0] as Maildir;
  assert.equal(t.kind, 'maildir');
  assert.equal(t.path, `${dir}/home/alice/Maildir/`);
  assert.equal(t.originalRecipient, 'Alice+lists@mx.test');
});

test('expand: allow_mail_to_commands / allow_mail_to_files without "alias" bounce 5.7.1 as local(8) does', async () => {
  const r = resolver({ allow_mail_to_commands: 'forward', allow_mail_to_files: 'forward, include' });
  assert.deepEqual(brief(await r.expand('piper@mx.test')), ['bounce 5.7.1 mail to command is restricted']);
  assert.deepEqual(brief(await r.expand('mboxer@mx.test')), ['bounce 5.7.1 mail to file is restricted']);
  assert.deepEqual(brief(await r.expand('archive@mx.test')), ['bounce 5.7.1 mail to file is restricted'], 'a Maildir path is a file delivery too');
});

test('expand: aliases — chains, lists, Maildir path, forward, unsupported kinds, loops, self', async () => {
  const r = resolver();
  assert.deepEqual(brief(await r.expand('postmaster@mx.test')), [`maildir local ${dir}/home/alice/Maildir/ 1001:1002 alice@mx.test`]); // Delivered-To is the expanded address
  assert.deepEqual(brief(await r.expand('team@mx.test')), [
    `maildir local ${dir}/home/alice/Maildir/ 1001:1002 alice@mx.test`,
    `maildir local ${dir}/home/bob/Maildir/ 1003:1004 bob@mx.test`,
    'smtp:elsewhere.example carol@elsewhere.example',
  ]);
  assert.deepEqual(brief(await r.expand('archive@mx.test')), ['maildir local /srv/mail/archive/ -:- archive@mx.test']);
  assert.deepEqual(brief(await r.expand('fwd@mx.test')), ['smtp:remote.example someone@remote.example']);
  assert.deepEqual(brief(await r.expand('tovirt@mx.test')), ['maildir virtual /srv/vmail/example.test/bob/ -:- bob@example.test']);
  assert.deepEqual(await r.expand('mboxer@mx.test'), [{ kind: 'file', path: '/var/mail/file', recipient: 'mboxer@mx.test', originalRecipient: 'mboxer@mx.test' }]);
  assert.deepEqual(await r.expand('piper@mx.test'), [{ kind: 'command', command: '/usr/bin/procmail', recipient: 'piper@mx.test', originalRecipient: 'piper@mx.test' }]);
  assert.deepEqual(brief(await r.expand('lister@mx.test')), ['bounce 5.3.5 mail system configuration error'], 'a missing :include: file');
  assert.deepEqual(brief(await r.expand('crew@mx.test')), [
    `maildir local ${dir}/home/alice/Maildir/ 1001:1002 alice@mx.test`,
    'smtp:elsewhere.example carol@elsewhere.example',
    'bounce 5.7.1 mail to file is restricted',
  ], ':include: members: a local user, an address, and a file (refused: allow_mail_to_files has no "include" by default, as in Postfix)');
  // loop1 → loop2 → loop1: the repeated alias is not expanded again; no such user → bounce.
  assert.deepEqual(brief(await r.expand('loop1@mx.test')), ['bounce 5.1.1 unknown user: "loop1"']);
  assert.deepEqual(brief(await r.expand('selfish@mx.test')), [
    'bounce 5.1.1 unknown user: "selfish"',
    `maildir local ${dir}/home/alice/Maildir/ 1001:1002 alice@mx.test`,
  ]);
  assert.deepEqual(brief(await r.expand('ghost@mx.test')), ['bounce 5.1.1 unknown user: "ghost"']);
});

test('expand: aliases file changes are picked up', async () => {
  let now = 1_000_000;
  const file = f('aliases2', 'x: alice\n');
  const { AliasTable } = await import('./aliases.js');
  const t = new AliasTable('hash:' + file, file, () => now);
  assert.equal(await t.lookup('x'), 'alice');
  writeFileSync(file, 'x: bob, alice\n');
  now += 2000;
  assert.equal(await t.lookup('X'), 'bob, alice');
});

test('expand: postmaster without an alias goes to root, or to our own user when not root', async () => {
  const noAlias = { alias_maps: '', local_recipient_maps: 'unix:passwd.byname' };
  assert.deepEqual(brief(await resolver(noAlias, 0).expand('postmaster@mx.test')), ['maildir local /root/Maildir/ 0:0 postmaster@mx.test']);
  const other = await resolver(noAlias, 987_654).expand('postmaster@mx.test');
  assert.equal(other.length, 1);
  assert.notEqual(other[0]!.kind, 'bounce'); // never lost: a mailbox or a deferral
});

test('expand: virtual aliases, recursion, loops and extension propagation', async () => {
  const r = resolver();
  assert.deepEqual(brief(await r.expand('info@alias.test')), [
    'maildir virtual /srv/vmail/example.test/bob/ -:- bob@example.test',
    'smtp:remote.example someone@remote.example',
  ]);
  assert.deepEqual(brief(await r.expand('self@example.test')), ['bounce 5.1.1 unknown user: "self@example.test"', 'maildir virtual /srv/vmail/example.test/bob/ -:- bob@example.test']);
  assert.deepEqual(brief(await r.expand('a@alias.test')), ['bounce 5.1.1 unknown user: "a@alias.test"']);
  const t = (await r.expand('ext+news@alias.test'))[0] as Maildir;
  assert.equal(t.kind, 'maildir');
  assert.equal(t.recipient, 'bob+news@example.test');
  assert.equal(t.originalRecipient, 'ext+news@alias.test');
  assert.equal(t.path, '/srv/vmail/example.test/bob/');
  const [u] = await resolver({ propagate_unmatched_extensions: 'canonical' }).expand('ext+news@alias.test');
  assert.equal(u!.recipient, 'bob@example.test');
});

test('expand: virtual mailboxes with static uid/gid, catch-all, mbox refusal, minimum uid', async () => {
  const r = resolver({ virtual_uid_maps: 'static:5000', virtual_gid_maps: 'static:5001' });
  assert.deepEqual(brief(await r.expand('Bob@Example.Test')), ['maildir virtual /srv/vmail/example.test/bob/ 5000:5001 Bob@Example.Test']);
  assert.deepEqual(brief(await r.expand('zed@catch.test')), ['maildir virtual /srv/vmail/catch.test/all/ 5000:5001 zed@catch.test']);
  assert.deepEqual(brief(await r.expand('mbox@example.test')), ['defer 4.3.0 virtual mailbox example.test/mbox is an mbox file; Postern delivers to Maildir only (end it with /)']);
  assert.deepEqual(brief(await r.expand('nope@example.test')), ['bounce 5.1.1 unknown user: "nope@example.test"']);
  const low = await resolver({ virtual_uid_maps: 'static:10', virtual_gid_maps: 'static:10' }).expand('bob@example.test');
  assert.equal(low[0]!.kind, 'defer');
  // Unset uid/gid maps: written as the Postern user (no chown).
  assert.deepEqual(brief(await resolver().expand('bob@example.test')), ['maildir virtual /srv/vmail/example.test/bob/ -:- bob@example.test']);
});

test('expand: relay, default and tricks are remote targets', async () => {
  const r = resolver();
  assert.deepEqual(brief(await r.expand('x@relay.test')), ['relay:relay.test x@relay.test']);
  assert.deepEqual(brief(await r.expand('x@example.com')), ['smtp:example.com x@example.com']);
  assert.deepEqual(brief(await r.expand('user%evil.example@mx.test')), ['smtp:evil.example user%evil.example@mx.test']);
});
