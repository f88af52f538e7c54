/** pipe(8) service attributes and argv macro expansion. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipeAttributes, PipeConfigError, unescape } from './attributes.js';
import { expandArgv, morphAddress, splitExtension, type MacroContext } from './macros.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-pipe-cfg-'));
const accounts = { passwd: join(dir, 'passwd'), group: join(dir, 'group') };
writeFileSync(accounts.passwd, 'root:x:0:0:root:/root:/bin/bash\nvmail:x:5000:5001::/var/vmail:/usr/sbin/nologin\nwheelie:x:5002:0::/:/bin/sh\n');
writeFileSync(accounts.group, 'root:x:0:\nvmail:x:5001:\nmail:x:8:\n');

test('the seed 004 dovecot service line', () => {
  const a = parsePipeAttributes(['flags=DRhu', 'user=vmail:vmail', 'argv=/usr/lib/dovecot/deliver', '-f', '${sender}', '-d', '${recipient}'], accounts);
  assert.deepEqual([a.flags.D, a.flags.R, a.flags.h, a.flags.u, a.flags.F, a.flags.O, a.flags.X, a.flags.q], [true, true, true, true, false, false, false, false]);
  assert.deepEqual([a.user, a.uid, a.gid, a.sizeLimit, a.eol, a.nullSender], ['vmail', 5000, 5001, 0, '\n', 'MAILER-DAEMON']);
  assert.deepEqual(a.argv, ['/usr/lib/dovecot/deliver', '-f', '${sender}', '-d', '${recipient}']);
});

test('user=name:group takes the group id; size=, eol=, null_sender=, every flag letter, { } arguments', () => {
  const a = parsePipeAttributes(['flags=BDFORXhqu.>', 'user=vmail:mail', 'size=1000', 'eol=\\r\\n', 'null_sender=', 'argv=/bin/x', '{ two words }', '{}'], accounts);
  assert.equal(a.gid, 8);
  assert.equal(a.sizeLimit, 1000);
  assert.equal(a.eol, '\r\n');
  assert.equal(a.nullSender, '');
  assert.ok(Object.values(a.flags).every(Boolean));
  assert.deepEqual(a.argv, ['/bin/x', 'two words', '']);
  assert.equal(unescape('a\\tb\\101\\\\'), 'a\tbA\\');
});

test('refused as Postfix refuses them: root, gid 0, missing user= or argv=, unknown flags and attributes', () => {
  const bad = (words: string[], msg: string): void => assert.throws(() => parsePipeAttributes(words, accounts), (e: unknown) => e instanceof PipeConfigError && e.message === msg);
  bad(['user=root', 'argv=/bin/true'], 'user= command-line attribute specifies root privileges');
  bad(['user=vmail:root', 'argv=/bin/true'], 'user= command-line attribute specifies privileged group id 0');
  bad(['user=wheelie', 'argv=/bin/true'], 'user= command-line attribute specifies privileged group id 0');
  bad(['argv=/bin/true'], 'missing user= command-line attribute');
  bad(['user=vmail'], 'missing argv= command-line attribute');
  bad(['user=nosuch', 'argv=/bin/true'], 'get_service_attr: unknown username: nosuch');
  bad(['user=vmail:nosuch', 'argv=/bin/true'], 'get_service_attr: unknown group: nosuch');
  bad(['flags=Z', 'user=vmail', 'argv=/bin/true'], 'unknown flag: Z (ignored)');
  bad(['color=blue', 'user=vmail', 'argv=/bin/true'], 'unknown attribute name: color=blue');
  bad(['size=big', 'user=vmail', 'argv=/bin/true'], 'get_service_attr: bad size= value: big');
});

const noFlags = { h: false, q: false, u: false };
const ctx = (over: Partial<MacroContext> = {}): MacroContext => ({
  message: { sender: 'Bob@Remote.TEST', nexthop: 'Example.TEST', size: '123', client_address: '192.0.2.1', client_hostname: 'c.example', sasl_username: '' },
  recipients: [{ recipient: 'Alice+Box@Example.TEST', originalRecipient: 'Info@Example.TEST' }],
  delimiter: '+',
  flags: noFlags,
  ...over,
});

test('every macro form: $name, ${name}, $(name), $$, inside longer words', () => {
  assert.deepEqual(expandArgv(['-f', '$sender', '${nexthop}', '$(size)', 'x$${user}y', '--to=${recipient}'], ctx()),
    ['-f', 'Bob@Remote.TEST', 'Example.TEST', '123', 'x${user}y', '--to=Alice+Box@Example.TEST']);
  assert.deepEqual(expandArgv(['${user}', '${extension}', '${mailbox}', '${domain}', '${original_recipient}', '${client_address}', '${client_hostname}', '[${sasl_username}]'], ctx()),
    ['Alice', 'Box', 'Alice+Box', 'Example.TEST', 'Info@Example.TEST', '192.0.2.1', 'c.example', '[]']);
});

test('an argument with a recipient macro becomes one argument per recipient', () => {
  const c = ctx({ recipients: [{ recipient: 'a@x.test', originalRecipient: 'a@x.test' }, { recipient: 'b@y.test', originalRecipient: 'b@y.test' }] });
  assert.deepEqual(expandArgv(['-d', '${recipient}', '-n', '${nexthop}', 'u=${user}@${domain}'], c), ['-d', 'a@x.test', 'b@y.test', '-n', 'Example.TEST', 'u=a@x.test', 'u=b@y.test']);
});

test('h folds domains (and nexthop is folded by the agent), u folds local parts, both fold all', () => {
  const r = 'Alice+Box@Example.TEST';
  assert.equal(morphAddress(r, { ...noFlags, h: true }), 'Alice+Box@example.test');
  assert.equal(morphAddress(r, { ...noFlags, u: true }), 'alice+box@Example.TEST');
  assert.equal(morphAddress(r, { ...noFlags, h: true, u: true }), 'alice+box@example.test');
  assert.deepEqual(expandArgv(['${user}', '${domain}', '${recipient}'], ctx({ flags: { ...noFlags, h: true, u: true } })), ['alice', 'example.test', 'alice+box@example.test']);
});

test('q quotes address local parts only, not $user/$mailbox', () => {
  const c = ctx({ flags: { ...noFlags, q: true }, recipients: [{ recipient: 'john doe@x.test', originalRecipient: 'j d@x.test' }] });
  assert.deepEqual(expandArgv(['${recipient}', '${original_recipient}', '${mailbox}', '${user}'], c), ['"john doe"@x.test', '"j d"@x.test', 'john doe', 'john doe']);
});

test('unknown macro names are refused (service configuration error)', () => {
  assert.throws(() => expandArgv(['${nosuch}'], ctx()), /unknown macro name: "nosuch"/);
});

test('splitExtension: first delimiter, never at position 0, special local parts kept whole', () => {
  assert.deepEqual(splitExtension('user+a+b', '+'), { user: 'user', extension: 'a+b' });
  assert.deepEqual(splitExtension('user-a', '+-'), { user: 'user', extension: 'a' });
  assert.deepEqual(splitExtension('+user', '+'), { user: '+user', extension: '' });
  assert.deepEqual(splitExtension('MAILER-DAEMON', '-'), { user: 'MAILER-DAEMON', extension: '' });
  assert.deepEqual(splitExtension('owner-list', '-'), { user: 'owner-list', extension: '' });
  assert.deepEqual(splitExtension('user+x', ''), { user: 'user+x', extension: '' });
});
