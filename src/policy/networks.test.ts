import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp, inCidr, ipBytes, networkContaining, normalizeAddr, parseCidr, parseNetwork } from './networks.js';

const show = (text: string): string => {
  const r = parseNetwork(text);
  return r.net ? `${formatIp(r.net.family, r.net.bytes)}/${r.net.prefix}` : `error: ${r.error}`;
};

test('every form Postfix accepts parses to the same network', () => {
  const forms: [string, string][] = [
    ['192.0.2.0/24', '192.0.2.0/24'],
    ['[192.0.2.0]/24', '192.0.2.0/24'],
    ['[192.0.2.0/24]', '192.0.2.0/24'],
    ['192.0.2.1', '192.0.2.1/32'],
    ['[192.0.2.1]', '192.0.2.1/32'],
    ['1.2.3.0/024', '1.2.3.0/24'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['[2001:db8::]/32', '2001:db8::/32'],
    ['[2001:DB8::]/32', '2001:db8::/32'],
    ['[2001:db8::/32]', '2001:db8::/32'],
    ['[2001:db8::1]', '2001:db8::1/128'],
    ['2001:db8::1', '2001:db8::1/128'],
    ['[::1]/128', '::1/128'],
    ['::1/128', '::1/128'],
    ['[::1]', '::1/128'],
    ['::/0', '::/0'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    // IPv4-mapped networks are the IPv4 networks they map.
    ['[::ffff:127.0.0.0]/104', '127.0.0.0/8'],
    ['[::ffff:7f00:0]/104', '127.0.0.0/8'],
    ['::ffff:127.0.0.0/104', '127.0.0.0/8'],
    ['[::FFFF:192.0.2.0]/120', '192.0.2.0/24'],
    ['[::ffff:192.0.2.1]', '192.0.2.1/32'],
    ['[::ffff:0:0]/96', '0.0.0.0/0'],
    // Wider than the mapped range: an IPv6 network.
    ['[::fffe:0:0]/95', '::fffe:0:0/95'],
  ];
  for (const [text, want] of forms) assert.equal(show(text), want, text);
  assert.equal(parseNetwork('[::fffe:0:0]/95').net?.family, 6);
  assert.equal(inCidr('192.0.2.1', parseCidr('[::fffe:0:0]/95')!), false);
});

test('malformed networks get Postfix wording, naming the pattern without brackets', () => {
  const bad: [string, string][] = [
    ['1.2.3.4/33', 'bad mask length in "1.2.3.4/33"'],
    ['::/129', 'bad mask length in "::/129"'],
    ['1.2.3.4/', 'bad mask value in "1.2.3.4/"'],
    ['1.2.3.0/x', 'bad mask value in "1.2.3.0/x"'],
    ['foo/24', 'bad network value in "foo/24"'],
    ['010.0.0.0/8', 'bad network value in "010.0.0.0/8"'],
    ['1.2.3', 'bad address pattern: "1.2.3"'],
    ['1.2.3.4:25', 'bad address pattern: "1.2.3.4:25"'],
    ['fe80::1%eth0', 'bad address pattern: "fe80::1%eth0"'],
    ['[1.2.3.4', 'missing \']\' character after "[1.2.3.4"'],
    ['[[1.2.3.4]]', 'garbage after "[[1.2.3.4]"'],
    ['[1.2.3.4]x', 'garbage after "[1.2.3.4]"'],
  ];
  for (const [text, want] of bad) {
    const r = parseNetwork(text);
    assert.equal(r.net, undefined, text);
    assert.equal(r.error, want, text);
    assert.notEqual(r.hostBits, true, text);
  }
});

test('host bits set: Postfix\'s "non-null host address bits" with the network it probably meant', () => {
  const cases: [string, string][] = [
    ['192.168.1.1/24', 'non-null host address bits in "192.168.1.1/24", perhaps you should use "192.168.1.0/24" instead'],
    ['[192.168.1.1]/24', 'non-null host address bits in "192.168.1.1/24", perhaps you should use "192.168.1.0/24" instead'],
    ['1.2.3.4/0', 'non-null host address bits in "1.2.3.4/0", perhaps you should use "0.0.0.0/0" instead'],
    ['[2001:db8::1]/32', 'non-null host address bits in "2001:db8::1/32", perhaps you should use "2001:db8::/32" instead'],
    ['[::ffff:127.0.0.1]/104', 'non-null host address bits in "::ffff:127.0.0.1/104", perhaps you should use "::ffff:127.0.0.0/104" instead'],
    ['[::ffff:127.0.0.0]/103', 'non-null host address bits in "::ffff:127.0.0.0/103", perhaps you should use "::ffff:126.0.0.0/103" instead'],
  ];
  for (const [text, want] of cases) {
    const r = parseNetwork(text);
    assert.equal(r.net, undefined, text);
    assert.equal(r.error, want, text);
    assert.equal(r.hostBits, true, text);
  }
});

test('client addresses: IPv4-mapped IPv6 is IPv4 (dotted or hex), both ways', () => {
  const lo8 = parseCidr('127.0.0.0/8')!;
  const mapped = parseCidr('[::ffff:127.0.0.0]/104')!;
  for (const client of ['127.0.0.1', '::ffff:127.0.0.1', '::FFFF:127.0.0.1', '::ffff:7f00:1']) {
    assert.equal(inCidr(client, lo8), true, client);
    assert.equal(inCidr(client, mapped), true, client);
  }
  for (const client of ['128.0.0.1', '::ffff:128.0.0.1', '::1', '::127.0.0.1', '2001:db8::1']) {
    assert.equal(inCidr(client, lo8), false, client);
    assert.equal(inCidr(client, mapped), false, client);
  }
  // ::/0 means every IPv6 client, as in Postfix, not the IPv4 ones.
  assert.equal(inCidr('192.0.2.1', parseCidr('::/0')!), false);
  assert.equal(inCidr('::ffff:192.0.2.1', parseCidr('::/0')!), false);
  assert.equal(inCidr('2001:db8::1', parseCidr('::/0')!), true);
  assert.equal(inCidr('192.0.2.1', parseCidr('0.0.0.0/0')!), true);
  assert.equal(inCidr('2001:db8::1', parseCidr('0.0.0.0/0')!), false);
  // [::ffff:0:0]/96 is every IPv4 client.
  assert.equal(inCidr('198.51.100.7', parseCidr('[::ffff:0:0]/96')!), true);
  // IPv6 prefixes that are not byte-aligned.
  assert.equal(inCidr('2001:db8:8000::1', parseCidr('2001:db8:8000::/33')!), true);
  assert.equal(inCidr('2001:db8:7fff::1', parseCidr('2001:db8:8000::/33')!), false);
  // Garbage and bracketed keys never match (Postfix does not match "[10.1.1.1]" either).
  assert.equal(inCidr('not-an-address', parseCidr('0.0.0.0/0')!), false);
  assert.equal(inCidr('[10.1.1.1]', parseCidr('0.0.0.0/0')!), false);
});

test('normalizeAddr and ipBytes: what the listener logs and the resolver reverses', () => {
  assert.equal(normalizeAddr('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeAddr('::ffff:7f00:1'), '127.0.0.1');
  assert.equal(normalizeAddr('::FFFF:192.0.2.1'), '192.0.2.1');
  assert.equal(normalizeAddr('::1'), '::1');
  assert.equal(normalizeAddr('2001:db8::ffff:1'), '2001:db8::ffff:1');
  assert.equal(normalizeAddr('192.0.2.1'), '192.0.2.1');
  assert.deepEqual(ipBytes('::ffff:c000:201'), { family: 4, bytes: Uint8Array.from([192, 0, 2, 1]) });
  assert.equal(ipBytes('fe80::1%eth0'), undefined);
});

test('networkContaining clears host bits (mynetworks_style subnet); formatIp writes inet_ntop text', () => {
  const n = networkContaining('192.168.1.77', 24)!;
  assert.equal(`${formatIp(n.family, n.bytes)}/${n.prefix}`, '192.168.1.0/24');
  const m = networkContaining('2001:db8:1:2::5', 64)!;
  assert.equal(`${formatIp(m.family, m.bytes)}/${m.prefix}`, '2001:db8:1:2::/64');
  const b = (s: string) => ipBytes(s)!;
  assert.equal(formatIp(6, parseNetwork('::1').net!.bytes), '::1');
  assert.equal(formatIp(6, parseNetwork('::').net!.bytes), '::');
  assert.equal(formatIp(6, parseNetwork('2001:db8:0:1:0:0:0:1').net!.bytes), '2001:db8:0:1::1');
  assert.equal(formatIp(6, parseNetwork('1:0:0:2:0:0:0:3').net!.bytes), '1:0:0:2::3');
  assert.equal(formatIp(6, parseNetwork('2001:db8::').net!.bytes), '2001:db8::');
  assert.equal(formatIp(4, b('10.0.0.1').bytes), '10.0.0.1');
});
