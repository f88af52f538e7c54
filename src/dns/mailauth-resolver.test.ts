/**
 * The mailauth resolver adapter against the local test DNS server: record shapes mailauth
 * reads, and the error codes it maps (ENOTFOUND, ENODATA, ETIMEOUT for a SERVFAIL).
 */

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDns } from './resolver.js';
import { mailauthResolver, addressOfReverseName } from './mailauth-resolver.js';
import { startDnsServer, ptrName } from '../../test/support/dns-server.js';

const server = await startDnsServer({
  'example.test': { TXT: ['v=spf1 -all'], A: ['192.0.2.1'], MX: [{ priority: 10, exchange: 'mx.example.test' }] },
  'long.example.test': { TXT: ['k'.repeat(400)] },
  [ptrName('192.0.2.1')]: { PTR: ['host.example.test'] },
  'broken.example.test': { servfail: true },
});
after(() => server.close());
const resolve = mailauthResolver(createDns({ servers: [server.address], timeoutMs: 500, tries: 1 }));

const code = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: { code: string }) => e.code);

test('records in the shapes mailauth reads', async () => {
  assert.deepEqual(await resolve('example.test', 'TXT'), [['v=spf1 -all']]);
  assert.deepEqual(await resolve('long.example.test', 'TXT'), [['k'.repeat(400)]]);
  assert.deepEqual(await resolve('example.test', 'A'), ['192.0.2.1']);
  assert.deepEqual(await resolve('example.test', 'MX'), [{ exchange: 'mx.example.test', priority: 10 }]);
  assert.deepEqual(await resolve('1.2.0.192.in-addr.arpa', 'PTR'), ['host.example.test']);
});

test('NXDOMAIN → ENOTFOUND, no such type → ENODATA, SERVFAIL → ETIMEOUT', async () => {
  assert.equal(await code(resolve('nothing.example.test', 'TXT')), 'ENOTFOUND');
  assert.equal(await code(resolve('example.test', 'AAAA')), 'ENODATA');
  assert.equal(await code(resolve('broken.example.test', 'TXT')), 'ETIMEOUT');
});

test('reverse names back to addresses', () => {
  assert.equal(addressOfReverseName('7.2.0.192.in-addr.arpa'), '192.0.2.7');
  assert.equal(addressOfReverseName('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'), '2001:0db8:0000:0000:0000:0000:0000:0001');
  assert.equal(addressOfReverseName('example.test'), undefined);
});
