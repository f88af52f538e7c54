/** The transport dispatcher: grouping by destination, recipient limits, concurrency, suspended destinations, defer_transports. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paramsFrom } from '../config/test-params.js';
import { createTransportDispatcher, type Transports, type TransportTarget } from './transports.js';
import type { TransportAgent, TransportRequest } from '../delivery/types.js';
import type { QueuedMessage, QueuedRecipient } from '../queue/types.js';

const msg: QueuedMessage = { id: 'ABC', arrival: 0, sender: 's@x.test', recipients: [], data: Buffer.from('x'), client: 'c', nextAttempt: 0, attempts: 0 };
const target = (rcpt: string, nexthop: string, transport = 'smtp'): { target: TransportTarget; queued: QueuedRecipient } => ({
  target: { kind: 'transport', transport, nexthop, recipient: rcpt, originalRecipient: rcpt },
  queued: { address: rcpt, status: 'pending', notify: ['FAILURE'] },
});

function setup(values: Record<string, string>, behave: (req: TransportRequest) => Promise<'sent' | 'down'>) {
  const params = paramsFrom(values);
  const calls: TransportRequest[] = [];
  let active = 0;
  let peak = 0;
  const agent: TransportAgent = {
    async deliver(req) {
      calls.push(req);
      peak = Math.max(peak, ++active);
      try {
        const how = await behave(req);
        return req.recipients.map((r) => (how === 'sent'
          ? { recipient: r, status: 'sent' as const, dsn: '2.0.0', text: '250 ok', relay: 'mx[192.0.2.1]:25' }
          : { recipient: r, status: 'deferred' as const, dsn: '4.4.1', text: 'connect to mx[192.0.2.1]:25: Connection refused', relay: 'none' }));
      } finally {
        active--;
      }
    },
  };
  const transports: Transports = {
    service: (name) => (name === 'smtp' || name === 'slow' ? { name, command: 'smtp', params, args: [] } : undefined),
    agent: (cmd) => (cmd === 'smtp' ? agent : undefined),
  };
  let clock = 1000;
  const d = createTransportDispatcher({ transports, params, now: () => clock });
  return { d, calls, peak: () => peak, tick: (ms: number) => (clock += ms) };
}

test('recipients are grouped per destination and split at the recipient limit; orcpt/notify travel with them', async () => {
  const { d, calls } = setup({ smtp_destination_recipient_limit: '2' }, async () => 'sent');
  const out = await d.deliver(msg, [target('a@one.test', 'one.test'), target('b@one.test', 'one.test'), target('c@one.test', 'one.test'), target('d@two.test', 'two.test')], { flush: false });
  assert.equal(out.length, 4);
  assert.deepEqual(calls.map((c) => `${c.nexthop}:${c.recipients.map((r) => r.recipient).join(',')}`).sort(), ['one.test:a@one.test,b@one.test', 'one.test:c@one.test', 'two.test:d@two.test']);
  assert.deepEqual(calls[0]!.recipients[0]!.notify, ['FAILURE']);
  assert.ok(out.every((o) => o.program === 'postfix/smtp' && o.outcome.status === 'sent'));
});

test('concurrency per destination: initial_destination_concurrency before the first success', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { d, peak } = setup({ smtp_destination_recipient_limit: '1', initial_destination_concurrency: '2', default_destination_concurrency_limit: '10' }, async () => {
    await gate;
    return 'sent';
  });
  const p = d.deliver(msg, ['a', 'b', 'c', 'd', 'e'].map((u) => target(`${u}@one.test`, 'one.test')), { flush: false });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(peak(), 2);
  release();
  await p;
});

test('a destination that cannot be reached is suspended: the next message is deferred at once, a flush tries again', async () => {
  const { d, calls, tick } = setup({ minimal_backoff_time: '300s' }, async () => 'down');
  const first = await d.deliver(msg, [target('a@dead.test', 'dead.test')], { flush: false });
  assert.equal(first[0]!.outcome.text, 'connect to mx[192.0.2.1]:25: Connection refused');
  const second = await d.deliver(msg, [target('b@dead.test', 'dead.test')], { flush: false });
  assert.equal(second[0]!.outcome.text, 'delivery temporarily suspended: connect to mx[192.0.2.1]:25: Connection refused');
  assert.equal(calls.length, 1, 'the suspended destination was not contacted again');
  await d.deliver(msg, [target('c@dead.test', 'dead.test')], { flush: true });
  assert.equal(calls.length, 2, 'a flush contacts it');
  tick(301_000);
  await d.deliver(msg, [target('d@dead.test', 'dead.test')], { flush: false });
  assert.equal(calls.length, 3, 'after the backoff it is tried again');
});

test('defer_transports keeps mail deferred until a flush; an unknown transport defers, never drops', async () => {
  const { d, calls } = setup({ defer_transports: 'smtp' }, async () => 'sent');
  const held = await d.deliver(msg, [target('a@one.test', 'one.test')], { flush: false });
  assert.equal(held[0]!.outcome.status, 'deferred');
  assert.equal(held[0]!.outcome.text, 'deferred transport');
  assert.equal(calls.length, 0);
  const flushed = await d.deliver(msg, [target('a@one.test', 'one.test')], { flush: true });
  assert.equal(flushed[0]!.outcome.status, 'sent');
  const unknown = await d.deliver(msg, [target('a@one.test', 'one.test', 'nosuch')], { flush: false });
  assert.match(unknown[0]!.outcome.text, /mail transport unavailable: no master.cf service "nosuch"/);
});
