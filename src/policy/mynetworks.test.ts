/**
 * mynetworks forms (postconf(5) mynetworks) through the real parser, the engine and
 * validatePolicyConfig: seed 004's line, IPv4-mapped networks and clients, bare and
 * bracketed addresses, files, tables, exclusions, host bits (Postfix's lookup error).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNetworkList, NetworkListError } from './mynetworks.js';
import { validatePolicyConfig } from './validate.js';
import { paramsFrom } from '../config/test-params.js';
import { TableRegistry } from '../tables/open.js';
import { engineFor, facts, answer, file, dir } from './test-kit.js';

const list = (value: string, extra: Record<string, string> = {}) => createNetworkList(paramsFrom({ mynetworks: value, ...extra }), new TableRegistry({ baseDir: dir }));
const trusts = async (value: string, addr: string, name = 'unknown'): Promise<boolean> => list(value).matches({ addr, name });

test('seed 004: "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128" is clean and trusts loopback in every form', async () => {
  const seed = '127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128';
  assert.deepEqual(list(seed).problems, []);
  assert.deepEqual(list(seed).warnings, []);
  for (const addr of ['127.0.0.1', '::ffff:127.0.0.1', '127.255.0.9', '::1']) assert.equal(await trusts(seed, addr), true, addr);
  for (const addr of ['128.0.0.1', '::ffff:10.0.0.1', '::2']) assert.equal(await trusts(seed, addr), false, addr);
});

test('an IPv4-mapped network alone trusts the IPv4 client, whether it arrives as 127.0.0.1 or ::ffff:127.0.0.1', async () => {
  for (const net of ['[::ffff:127.0.0.0]/104', '[::ffff:7f00:0]/104', '[::ffff:127.0.0.1]']) {
    assert.equal(await trusts(net, '127.0.0.1'), true, net);
    assert.equal(await trusts(net, '::ffff:127.0.0.1'), true, net);
    assert.equal(await trusts(net, '::1'), false, net);
  }
  // And an IPv4 network trusts the mapped form of its clients.
  assert.equal(await trusts('127.0.0.0/8', '::ffff:127.0.0.1'), true);
  assert.equal(await trusts('127.0.0.0/8', '::ffff:7f00:1'), true);
});

test('every form: networks, bracketed IPv4, bare addresses, IPv6 with and without [], files, tables, names, exclusions', async () => {
  const nets = file('mynets-forms', '# one per line\n[2001:db8:1::]/48\n!10.9.0.0/16\n10.0.0.0/8\n');
  const cidr = file('mynets-forms.cidr', '[::ffff:172.16.0.0]/108 ignored\n');
  const value = `!192.0.2.66, 192.0.2.0/24 [198.51.100.0]/24 203.0.113.7 [203.0.113.8] [2001:db8::5] ::1/128 ${nets} cidr:${cidr} inline:{ 100.64.1.1=x } trusted.example`;
  const l = list(value);
  assert.deepEqual(l.problems, []);
  assert.deepEqual(l.warnings.map((w) => w.message), ['mynetworks: "::1/128": write IPv6 networks inside [], as "[::1]/128": Postern accepts this form, but Postfix would read it as a type:table']);
  const yes = ['192.0.2.1', '::ffff:192.0.2.1', '198.51.100.200', '203.0.113.7', '::ffff:203.0.113.8', '2001:db8::5', '::1', '2001:db8:1:2::3', '10.1.2.3', '172.17.0.1', '::ffff:172.31.255.255', '100.64.1.1'];
  const no = ['192.0.2.66', '::ffff:192.0.2.66', '203.0.113.9', '2001:db8::6', '10.9.1.1', '172.32.0.1', '100.64.1.2', '8.8.8.8'];
  for (const a of yes) assert.equal(await l.matches({ addr: a, name: 'unknown' }), true, a);
  for (const a of no) assert.equal(await l.matches({ addr: a, name: 'unknown' }), false, a);
  assert.equal(await l.matches({ addr: '8.8.8.8', name: 'trusted.example' }), true);
});

test('host bits set: an error with Postfix\'s words in check, and a lookup error (451 4.3.0) when matching reaches it', async () => {
  const l = list('127.0.0.0/8, 192.168.1.1/24, 10.0.0.0/8');
  assert.deepEqual(l.problems, ['mynetworks: non-null host address bits in "192.168.1.1/24", perhaps you should use "192.168.1.0/24" instead']);
  assert.equal(await l.matches({ addr: '127.0.0.1', name: 'unknown' }), true); // earlier items still answer
  await assert.rejects(l.matches({ addr: '10.0.0.1', name: 'unknown' }), NetworkListError);
  // The mapped form has host bits too; the hint keeps the form the admin used.
  assert.deepEqual(list('[::ffff:127.0.0.1]/104').problems, ['mynetworks: non-null host address bits in "::ffff:127.0.0.1/104", perhaps you should use "::ffff:127.0.0.0/104" instead']);

  const e = engineFor({ mynetworks: '192.168.1.1/24', smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination' });
  assert.equal(await answer(e, 'rcpt', facts({ addr: '192.168.1.7', recipient: 'x@elsewhere.example' })), '451 4.3.0 <unknown[192.168.1.7]>: Temporary lookup failure');

  const params = paramsFrom({ mynetworks: '127.0.0.0/8 192.168.1.1/24' });
  const diags = validatePolicyConfig(params, 'service smtp').filter((d) => /mynetworks/.test(d.message));
  assert.deepEqual(diags, [{ severity: 'error', file: '<test>', line: 0, message: 'mynetworks: non-null host address bits in "192.168.1.1/24", perhaps you should use "192.168.1.0/24" instead' }]);
});

test('malformed items are errors with Postfix wording; a broken "!" item never lets the excluded client through', async () => {
  assert.deepEqual(list('1.2.3.4/33 [1.2.3.4 010.0.0.0/8 10.1').problems, [
    'mynetworks: bad mask length in "1.2.3.4/33"',
    'mynetworks: missing \']\' character after "[1.2.3.4"',
    'mynetworks: bad network value in "010.0.0.0/8"',
    'mynetworks: bad address pattern: "10.1"',
  ]);
  const l = list('!192.0.2.66/24, 192.0.2.0/24');
  await assert.rejects(l.matches({ addr: '192.0.2.66', name: 'unknown' }), NetworkListError);
  // In a file: the file is named.
  const nets = file('mynets-bad', '192.0.2.0/24\n[2001:db8::1]/32\n');
  assert.deepEqual(list(nets).problems, [`mynetworks: non-null host address bits in "2001:db8::1/32", perhaps you should use "2001:db8::/32" instead (in ${nets})`]);
  assert.deepEqual(list('/no/such/mynetworks-file').problems, ['mynetworks: cannot read /no/such/mynetworks-file: ENOENT']);
});

test('a cidr table in mynetworks: its host-bits lines are warnings with file and line, as Postfix warns', () => {
  const cidr = file('mynets-hostbits.cidr', '10.0.0.0/8 x\n192.168.1.1/24 x\n');
  const params = paramsFrom({ mynetworks: `cidr:${cidr}` });
  const diags = validatePolicyConfig(params, 'service smtp');
  assert.deepEqual(diags.filter((d) => d.file === cidr), [
    { severity: 'warning', file: cidr, line: 2, message: `cidr map ${cidr}, line 2: non-null host address bits in "192.168.1.1/24", perhaps you should use "192.168.1.0/24" instead: skipping this rule` },
  ]);
});
