import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDns, reverseName } from './resolver.js';
import { lookupClientInfo } from './client-name.js';
import { startDnsServer, ptrName, type DnsServer } from '../../test/support/dns-server.js';

let dns: DnsServer;
before(async () => {
  dns = await startDnsServer({
    'mx.test': { A: ['192.0.2.10'], MX: [{ priority: 10, exchange: 'mx.test' }], TXT: ['v=spf1 -all'], ttl: 2 },
    [ptrName('192.0.2.10')]: { PTR: ['mx.test'] },
    [ptrName('192.0.2.11')]: { PTR: ['liar.test'] },
    'liar.test': { A: ['192.0.2.99'] },
  });
});
after(async () => dns.close());

test('typed results: records, nxdomain, nodata', async () => {
  const d = createDns({ servers: [dns.address], timeoutMs: 500, tries: 1 });
  assert.deepEqual(await d.a('mx.test'), { kind: 'records', records: ['192.0.2.10'], ttl: 2 });
  assert.deepEqual((await d.mx('mx.test')).kind, 'records');
  assert.deepEqual(await d.txt('mx.test').then((r) => (r.kind === 'records' ? r.records : [])), ['v=spf1 -all']);
  assert.deepEqual(await d.a('nope.test'), { kind: 'nxdomain' });
  assert.deepEqual(await d.aaaa('mx.test'), { kind: 'nodata' });
  assert.equal(reverseName('192.0.2.10'), '10.2.0.192.in-addr.arpa');
  assert.equal(reverseName('2001:db8::1'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
});

test('the cache answers repeated lookups until the TTL runs out', async () => {
  let now = 1_000_000;
  const d = createDns({ servers: [dns.address], timeoutMs: 500, tries: 1, now: () => now });
  const q0 = dns.queries;
  await d.a('mx.test');
  await d.a('mx.test');
  await d.a('MX.test');
  assert.equal(dns.queries - q0, 1);
  now += 2500;
  await d.a('mx.test');
  assert.equal(dns.queries - q0, 2);
});

test('a dead DNS server is a quick temporary failure, not a 22 s stall', async () => {
  dns.setBlackhole(true);
  try {
    const d = createDns({ servers: [dns.address], timeoutMs: 200, tries: 2 });
    const t0 = Date.now();
    const r = await d.a('slow.test');
    assert.equal(r.kind, 'tempfail');
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  } finally {
    dns.setBlackhole(false);
  }
});

test('client names are forward-confirmed', async () => {
  const d = createDns({ servers: [dns.address], timeoutMs: 500, tries: 1 });
  assert.deepEqual(await lookupClientInfo(d, '::ffff:192.0.2.10', 25, { peernameLookup: true }), { addr: '192.0.2.10', port: 25, name: 'mx.test', reverseName: 'mx.test', nameStatus: 'ok', reverseStatus: 'ok' });
  const liar = await lookupClientInfo(d, '192.0.2.11', 25, { peernameLookup: true });
  assert.deepEqual([liar.name, liar.reverseName, liar.nameStatus], ['unknown', 'liar.test', 'unknown']);
  const off = await lookupClientInfo(d, '192.0.2.10', 25, { peernameLookup: false });
  assert.equal(off.name, 'unknown');
  dns.setBlackhole(true);
  try {
    const slow = createDns({ servers: [dns.address], timeoutMs: 100, tries: 1 });
    assert.equal((await lookupClientInfo(slow, '192.0.2.12', 25, { peernameLookup: true })).nameStatus, 'tempfail');
  } finally {
    dns.setBlackhole(false);
  }
});
