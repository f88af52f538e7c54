import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type DnsServer } from '../../../test/support/dns-server.js';
import { createDns } from '../../dns/resolver.js';
import type { Dns } from '../../dns/types.js';
import { orderCandidates, resolveCandidates, type Candidate, type ResolveOptions } from './mx.js';

let server: DnsServer;
let dns: Dns;
const opts: ResolveOptions = { ipv4: true, ipv6: true, randomize: false, preference: 'any', addressLimit: 5 };

before(async () => {
  server = await startDnsServer({
    'multi.test': { MX: [{ priority: 20, exchange: 'backup.multi.test' }, { priority: 10, exchange: 'mx1.multi.test' }, { priority: 10, exchange: 'mx2.multi.test' }] },
    'mx1.multi.test': { A: ['127.0.0.11'] },
    'mx2.multi.test': { A: ['127.0.0.12'], AAAA: ['::1'] },
    'backup.multi.test': { A: ['127.0.0.20'] },
    'nomx.test': { A: ['127.0.0.30'] },
    'nullmx.test': { MX: [{ priority: 0, exchange: '.' }] },
    'dangling.test': { MX: [{ priority: 10, exchange: 'gone.dangling.test' }] },
    'halfdangling.test': { MX: [{ priority: 10, exchange: 'gone.dangling.test' }, { priority: 20, exchange: 'mx1.multi.test' }] },
    'many.test': { MX: [1, 2, 3, 4, 5, 6, 7].map((i) => ({ priority: i, exchange: `h${i}.many.test` })) },
    ...Object.fromEntries([1, 2, 3, 4, 5, 6, 7].map((i) => [`h${i}.many.test`, { A: [`127.0.1.${i}`] }])),
  });
  dns = createDns({ servers: [server.address], timeoutMs: 300, tries: 1 });
});
after(() => server.close());

const addrs = (r: Awaited<ReturnType<typeof resolveCandidates>>): string[] => (r.kind === 'ok' ? r.candidates.map((c) => `${c.host}/${c.address}/${c.pref}`) : []);

test('MX records are tried in preference order, with each host\'s addresses', async () => {
  const r = await resolveCandidates(dns, { host: 'multi.test', port: 25, mx: true }, opts);
  assert.deepEqual(addrs(r), ['mx1.multi.test/127.0.0.11/10', 'mx2.multi.test/127.0.0.12/10', 'mx2.multi.test/::1/10', 'backup.multi.test/127.0.0.20/20']);
  const v4first = await resolveCandidates(dns, { host: 'multi.test', port: 25, mx: true }, { ...opts, ipv6: false });
  assert.ok(!addrs(v4first).some((a) => a.includes('::1')), 'inet_protocols = ipv4 asks for no AAAA');
});

test('equal preferences are shuffled, different preferences never are', () => {
  const list: Candidate[] = [
    { host: 'a', address: '10.0.0.1', port: 25, pref: 10 },
    { host: 'b', address: '10.0.0.2', port: 25, pref: 10 },
    { host: 'c', address: '10.0.0.3', port: 25, pref: 10 },
    { host: 'z', address: '10.0.0.9', port: 25, pref: 5 },
  ];
  const seen = new Set<string>();
  let seed = 1;
  const rnd = (): number => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  for (let i = 0; i < 60; i++) {
    const o = orderCandidates(list, { randomize: true, preference: 'any', random: rnd });
    assert.equal(o[0]!.host, 'z', 'the best preference always comes first');
    seen.add(o.slice(1).map((c) => c.host).join(''));
  }
  assert.equal(seen.size, 6, 'all orders of the three equal-preference hosts occur');
  assert.deepEqual(orderCandidates(list, { randomize: false, preference: 'any' }).map((c) => c.host), ['z', 'a', 'b', 'c']);
  const v6 = orderCandidates([{ host: 'a', address: '10.0.0.1', port: 25, pref: 1 }, { host: 'a', address: '2001:db8::1', port: 25, pref: 1 }], { randomize: false, preference: 'ipv6' });
  assert.equal(v6[0]!.address, '2001:db8::1');
});

test('no MX: the domain\'s own address; null MX bounces; unknown domain 5.4.4', async () => {
  assert.deepEqual(addrs(await resolveCandidates(dns, { host: 'nomx.test', port: 25, mx: true }, opts)), ['nomx.test/127.0.0.30/0']);
  const nul = await resolveCandidates(dns, { host: 'nullmx.test', port: 25, mx: true }, opts);
  assert.equal(nul.kind, 'fail');
  assert.deepEqual(nul.kind === 'fail' && [nul.nullMx, nul.failure], [true, { dsn: '5.1.10', text: 'Domain nullmx.test does not accept mail (nullMX)' }]);
  const nx = await resolveCandidates(dns, { host: 'nowhere.test', port: 25, mx: true }, opts);
  assert.deepEqual(nx.kind === 'fail' && nx.failure, { dsn: '5.4.4', text: 'Host or domain name not found. Name service error for name=nowhere.test type=A: Host not found' });
});

test('MX hosts without addresses are skipped; none left is an error with a warning', async () => {
  assert.deepEqual(addrs(await resolveCandidates(dns, { host: 'halfdangling.test', port: 25, mx: true }, opts)), ['mx1.multi.test/127.0.0.11/20']);
  const r = await resolveCandidates(dns, { host: 'dangling.test', port: 25, mx: true }, opts);
  assert.equal(r.kind, 'fail');
  assert.deepEqual(r.warnings, ['no MX host for dangling.test has a valid address record']);
  assert.equal(r.kind === 'fail' && r.failure.dsn, '5.4.4');
});

test('smtp_mx_address_limit cuts the list; [host] skips the MX lookup', async () => {
  assert.equal(addrs(await resolveCandidates(dns, { host: 'many.test', port: 25, mx: true }, opts)).length, 5);
  assert.equal(addrs(await resolveCandidates(dns, { host: 'many.test', port: 25, mx: true }, { ...opts, addressLimit: 0 })).length, 7);
  const bracket = await resolveCandidates(dns, { host: 'mx1.multi.test', port: 2525, mx: false }, opts);
  assert.deepEqual(bracket.kind === 'ok' && bracket.candidates, [{ host: 'mx1.multi.test', address: '127.0.0.11', port: 2525, pref: 0 }]);
  const lit = await resolveCandidates(dns, { host: '192.0.2.5', port: 25, mx: false }, opts);
  assert.deepEqual(lit.kind === 'ok' && lit.candidates.map((c) => c.host + '/' + c.address), ['192.0.2.5/192.0.2.5']);
});

test('a DNS server that does not answer is a temporary failure (4.4.3), never a bounce', async () => {
  server.setBlackhole(true);
  try {
    const r = await resolveCandidates(dns, { host: 'slow.test', port: 25, mx: true }, opts);
    assert.deepEqual(r.kind === 'fail' && r.failure, { dsn: '4.4.3', text: 'Host or domain name not found. Name service error for name=slow.test type=MX: Host not found, try again' });
  } finally {
    server.setBlackhole(false);
  }
});
