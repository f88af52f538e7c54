import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDestination, parseNexthop, servicePort } from './nexthop.js';

const smtp = { lmtp: false, defaultPort: 25, queueDirectory: '/var/spool/postern' };
const lmtp = { lmtp: true, defaultPort: 24, queueDirectory: '/var/spool/postern' };

test('SMTP next hops: domain (MX), domain:port, [host], [host]:port, literals', () => {
  assert.deepEqual(parseDestination('example.com', smtp), { kind: 'inet', host: 'example.com', port: 25, mx: true, written: 'example.com' });
  assert.deepEqual(parseDestination('example.com:2525', smtp), { kind: 'inet', host: 'example.com', port: 2525, mx: true, written: 'example.com:2525' });
  assert.deepEqual(parseDestination('[mx.example.com]', smtp), { kind: 'inet', host: 'mx.example.com', port: 25, mx: false, written: '[mx.example.com]' });
  assert.deepEqual(parseDestination('[mx.example.com]:submission', smtp), { kind: 'inet', host: 'mx.example.com', port: 587, mx: false, written: '[mx.example.com]:submission' });
  assert.deepEqual(parseDestination('[192.0.2.1]', smtp), { kind: 'inet', host: '192.0.2.1', port: 25, mx: false, written: '[192.0.2.1]' });
  assert.deepEqual(parseDestination('[ipv6:2001:db8::1]:26', smtp), { kind: 'inet', host: '2001:db8::1', port: 26, mx: false, written: '[ipv6:2001:db8::1]:26' });
  assert.deepEqual(parseDestination('[2001:db8::1]', smtp), { kind: 'inet', host: '2001:db8::1', port: 25, mx: false, written: '[2001:db8::1]' });
  // An address literal without brackets is never an MX lookup.
  assert.equal((parseDestination('192.0.2.7', smtp) as { mx: boolean }).mx, false);
  assert.equal((parseDestination('inet:example.com', smtp) as { mx: boolean }).mx, true);
});

test('LMTP next hops: unix: absolute and relative to queue_directory, inet:, host:port, no MX lookups', () => {
  assert.deepEqual(parseDestination('unix:/run/dovecot/lmtp', lmtp), { kind: 'unix', path: '/run/dovecot/lmtp', written: '/run/dovecot/lmtp' });
  assert.deepEqual(parseDestination('unix:private/dovecot-lmtp', lmtp), { kind: 'unix', path: '/var/spool/postern/private/dovecot-lmtp', written: 'private/dovecot-lmtp' });
  assert.deepEqual(parseDestination('inet:127.0.0.1:2424', lmtp), { kind: 'inet', host: '127.0.0.1', port: 2424, mx: false, written: '127.0.0.1:2424' });
  assert.deepEqual(parseDestination('inet:mail.example', lmtp), { kind: 'inet', host: 'mail.example', port: 24, mx: false, written: 'mail.example' });
  assert.deepEqual(parseDestination('[mail.example]:24', lmtp), { kind: 'inet', host: 'mail.example', port: 24, mx: false, written: '[mail.example]:24' });
  assert.deepEqual(parseDestination('mail.example:lmtp', lmtp), { kind: 'inet', host: 'mail.example', port: 24, mx: false, written: 'mail.example:lmtp' });
});

test('next-hop lists and errors', () => {
  const list = parseNexthop('[a.example]:2525, b.example', smtp);
  assert.ok(Array.isArray(list));
  assert.deepEqual(list.map((d) => (d.kind === 'inet' ? `${d.host}:${d.port}:${d.mx}` : d.path)), ['a.example:2525:false', 'b.example:25:true']);
  assert.match((parseDestination('[a.example', smtp) as { error: string }).error, /missing "\]"/);
  assert.match((parseDestination('a.example:nosuchservice', smtp) as { error: string }).error, /unknown port or service "nosuchservice"/);
  assert.match((parseDestination('unix:', lmtp) as { error: string }).error, /no socket path/);
  assert.deepEqual(parseNexthop('  ', smtp), { error: 'empty next-hop destination' });
  assert.equal(servicePort('smtp'), 25);
  assert.equal(servicePort('70000'), undefined);
});
