/** Routing (transport:nexthop) per transport(5) and postconf(5): maps, class defaults, relayhost, sender-dependent relayhost. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paramsFrom } from '../config/test-params.js';
import { TableRegistry } from '../tables/open.js';
import { createRouter, splitTransport } from './transport.js';

const router = (values: Record<string, string>) => createRouter(paramsFrom({ myhostname: 'mx.test', ...values }), new TableRegistry());
const r = async (values: Record<string, string>, address: string, cls: Parameters<ReturnType<typeof createRouter>['route']>[1], sender?: string) => {
  const x = await router(values).route(address, cls, sender);
  return `${x.transport}:${x.nexthop}`;
};

test('splitTransport keeps everything after the first colon as the next hop', () => {
  assert.deepEqual(splitTransport('lmtp:unix:private/dovecot-lmtp'), { transport: 'lmtp', nexthop: 'unix:private/dovecot-lmtp' });
  assert.deepEqual(splitTransport('smtp:[192.0.2.1]:587'), { transport: 'smtp', nexthop: '[192.0.2.1]:587' });
  assert.deepEqual(splitTransport('dovecot'), { transport: 'dovecot', nexthop: '' });
  assert.deepEqual(splitTransport(':[gw.example]'), { transport: '', nexthop: '[gw.example]' });
});

test('class defaults: local → local:$myhostname, virtual → virtual:domain, relay → relay:domain, default → smtp:domain', async () => {
  assert.equal(await r({}, 'a@mx.test', 'local'), 'local:mx.test');
  assert.equal(await r({}, 'a@v.example', 'virtual_mailbox'), 'virtual:v.example');
  assert.equal(await r({}, 'a@r.example', 'relay'), 'relay:r.example');
  assert.equal(await r({}, 'a@far.example', 'default'), 'smtp:far.example');
  assert.equal(await r({ virtual_transport: 'lmtp:unix:private/dovecot-lmtp' }, 'a@v.example', 'virtual_mailbox'), 'lmtp:unix:private/dovecot-lmtp');
  assert.equal(await r({ virtual_transport: 'dovecot' }, 'a@v.example', 'virtual_mailbox'), 'dovecot:v.example');
});

test('relayhost applies to relay and default classes, never to local or virtual; a transport\'s own next hop wins', async () => {
  assert.equal(await r({ relayhost: '[smarthost.example]:587' }, 'a@far.example', 'default'), 'smtp:[smarthost.example]:587');
  assert.equal(await r({ relayhost: '[smarthost.example]:587' }, 'a@r.example', 'relay'), 'relay:[smarthost.example]:587');
  assert.equal(await r({ relayhost: '[smarthost.example]' }, 'a@mx.test', 'local'), 'local:mx.test');
  assert.equal(await r({ relayhost: '[smarthost.example]', default_transport: 'smtp:[other.example]' }, 'a@far.example', 'default'), 'smtp:[other.example]');
});

test('transport_maps: address before domain before .parent before *, empty fields keep the defaults', async () => {
  const maps = { transport_maps: 'inline:{ a@far.example={error:5.1.1 gone}, far.example=smtp:[gw1.example], .sub.example=:[gw2.example], b.example=relay:, *=smtp:[catchall.example] }', relayhost: '[rh.example]' };
  assert.equal(await r(maps, 'a@far.example', 'default'), 'error:5.1.1 gone');
  assert.equal(await r(maps, 'b@far.example', 'default'), 'smtp:[gw1.example]');
  assert.equal(await r(maps, 'c@x.sub.example', 'default'), 'smtp:[gw2.example]');
  assert.equal(await r(maps, 'c@sub.example', 'default'), 'smtp:[catchall.example]', '.sub.example matches only subdomains');
  assert.equal(await r(maps, 'd@b.example', 'default'), 'relay:[rh.example]', 'an empty next hop keeps relayhost');
  assert.equal(await r(maps, 'e@mx.test', 'local'), 'smtp:[catchall.example]', 'transport_maps wins over local_transport, as in Postfix');
});

test('sender_dependent_relayhost_maps picks the relay by sender address, then @domain', async () => {
  const v = { sender_dependent_relayhost_maps: 'inline:{ alice@mx.test=[alice-relay.example]:587, @mx.test=[domain-relay.example] }', relayhost: '[rh.example]' };
  assert.equal(await r(v, 'x@far.example', 'default', 'alice@mx.test'), 'smtp:[alice-relay.example]:587');
  assert.equal(await r(v, 'x@far.example', 'default', 'bob@mx.test'), 'smtp:[domain-relay.example]');
  assert.equal(await r(v, 'x@far.example', 'default', 'carol@other.example'), 'smtp:[rh.example]');
});

test('mailbox_transport and fallback_transport are exposed for local(8)', () => {
  const x = router({ mailbox_transport: 'lmtp:unix:private/dovecot-lmtp', fallback_transport: 'relay:[old-mx.example]' });
  assert.deepEqual(x.mailboxTransport, { transport: 'lmtp', nexthop: 'unix:private/dovecot-lmtp' });
  assert.deepEqual(x.fallbackTransport, { transport: 'relay', nexthop: '[old-mx.example]' });
  assert.equal(router({}).mailboxTransport, undefined);
});
