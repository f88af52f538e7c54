/**
 * The scheduler's side of transports (Postfix qmgr's transport and destination queues):
 * routed recipients are grouped by (transport, next hop), split into requests of at most
 * <transport>_destination_recipient_limit recipients, and handed to the transport's agent
 * with at most <transport>_destination_concurrency_limit requests in flight per destination
 * (initial_destination_concurrency until the destination has had a success). A destination
 * whose connection fails is suspended until its retry time, so the rest of the queue for it
 * is deferred at once ("delivery temporarily suspended: …") instead of each message
 * hammering a dead host. Transports in defer_transports stay deferred until a flush.
 */

import type { Params } from '../config/types.js';
import type { QueuedMessage, QueuedRecipient } from '../queue/types.js';
import type { DeliveryTarget } from '../resolve/types.js';
import type { RoutedRecipient, TransportAgent, TransportOutcome } from '../delivery/types.js';

/** A master.cf service (or built-in transport) as the scheduler needs it. */
export interface TransportService {
  readonly name: string;
  /** The delivery agent: smtp, lmtp, pipe, discard, error. */
  readonly command: string;
  readonly params: Params;
  readonly args: readonly string[];
}

export interface Transports {
  service(name: string): TransportService | undefined;
  agent(command: string): TransportAgent | undefined;
}

export type TransportTarget = Extract<DeliveryTarget, { kind: 'transport' }>;

/** One target's result, in the shape the scheduler logs (relay, dsn, text) plus DSN details. */
export interface TargetResult {
  readonly target: DeliveryTarget;
  readonly outcome: TransportOutcome;
  readonly program: string;
}

interface Destination {
  active: number;
  waiting: (() => void)[];
  /** Had a successful delivery: the concurrency limit is the full one. */
  proven: boolean;
  /** Suspended until this time (ms), with this reason. */
  deadUntil: number;
  deadReason: string;
}

export interface TransportDispatcher {
  deliver(msg: QueuedMessage, targets: { target: TransportTarget; queued: QueuedRecipient }[], opts: { flush: boolean }): Promise<TargetResult[]>;
  /** Forget suspensions (a queue flush tries every destination again). */
  revive(): void;
}

export function createTransportDispatcher(deps: { transports: Transports; params: Params; now?: () => number }): TransportDispatcher {
  const { transports, params } = deps;
  const now = deps.now ?? Date.now;
  const destinations = new Map<string, Destination>();
  const deferTransports = new Set(params.list('defer_transports'));
  const suspend = params.bool('postern_destination_failure_backoff');
  const backoff = params.timeMs('minimal_backoff_time');

  const dest = (key: string): Destination => {
    let d = destinations.get(key);
    if (!d) destinations.set(key, (d = { active: 0, waiting: [], proven: false, deadUntil: 0, deadReason: '' }));
    return d;
  };

  async function acquire(d: Destination, limit: number): Promise<void> {
    while (d.active >= limit) await new Promise<void>((r) => d.waiting.push(r));
    d.active++;
  }
  function release(d: Destination): void {
    d.active--;
    d.waiting.shift()?.();
  }

  const outcome = (r: RoutedRecipient, status: TransportOutcome['status'], dsn: string, text: string, relay = 'none'): TransportOutcome => ({ recipient: r, status, dsn, text, relay });

  async function deliverGroup(msg: QueuedMessage, transport: string, nexthop: string, group: { target: TransportTarget; routed: RoutedRecipient }[], flush: boolean): Promise<TargetResult[]> {
    const svc = transports.service(transport);
    const program = `${svc?.params.str('syslog_name') ?? params.str('syslog_name')}/${svc?.command ?? 'qmgr'}`;
    const results = (outcomes: TransportOutcome[]): TargetResult[] =>
      outcomes.map((o) => ({ target: group.find((g) => g.routed === o.recipient)!.target, outcome: o, program }));
    if (!svc) return results(group.map((g) => outcome(g.routed, 'deferred', '4.3.0', `mail transport unavailable: no master.cf service "${transport}"`)));
    if (deferTransports.has(transport) && !flush) return results(group.map((g) => outcome(g.routed, 'deferred', '4.3.2', 'deferred transport')));
    const agent = transports.agent(svc.command);
    if (!agent) return results(group.map((g) => outcome(g.routed, 'deferred', '4.3.0', `mail transport unavailable: Postern has no "${svc.command}" delivery agent`)));

    const key = `${transport}\0${nexthop.toLowerCase()}`;
    const d = dest(key);
    if (d.deadUntil > now() && !flush) {
      return results(group.map((g) => outcome(g.routed, 'deferred', '4.4.1', `delivery temporarily suspended: ${d.deadReason}`)));
    }
    const recipientLimit = Math.max(1, Number(svc.params.byTransport(transport, 'destination_recipient_limit', 'default_destination_recipient_limit')) || 1);
    const full = Math.max(1, Number(svc.params.byTransport(transport, 'destination_concurrency_limit', 'default_destination_concurrency_limit')) || 1);
    const initial = Math.max(1, Number(svc.params.byTransport(transport, 'initial_destination_concurrency', 'initial_destination_concurrency')) || 1);
    const chunks: (typeof group)[] = [];
    for (let i = 0; i < group.length; i += recipientLimit) chunks.push(group.slice(i, i + recipientLimit));
    const all = await Promise.all(chunks.map(async (chunk): Promise<TargetResult[]> => {
      await acquire(d, d.proven ? full : Math.min(initial, full));
      try {
        const outs = await agent.deliver({ msg, transport, nexthop, params: svc.params, args: svc.args, recipients: chunk.map((c) => c.routed) });
        if (outs.some((o) => o.status === 'sent' || o.status === 'bounced' || o.relay !== 'none')) {
          d.proven = true;
          d.deadUntil = 0;
        } else if (suspend && outs.length > 0 && outs.every((o) => o.status === 'deferred')) {
          // No connection could be made at all: the destination is down, not this message.
          d.deadUntil = now() + backoff;
          d.deadReason = outs[0]!.text;
        }
        // An agent must answer for every recipient; a missing answer is a deferral, never a loss.
        const answered = new Set(outs.map((o) => o.recipient));
        const missing = chunk.filter((c) => !answered.has(c.routed)).map((c) => outcome(c.routed, 'deferred', '4.3.0', `${svc.command} agent returned no result for this recipient`));
        return results([...outs, ...missing]);
      } catch (err) {
        return results(chunk.map((c) => outcome(c.routed, 'deferred', '4.3.0', `${svc.command} delivery failed: ${(err as Error).message}`)));
      } finally {
        release(d);
      }
    }));
    return all.flat();
  }

  return {
    async deliver(msg, targets, opts) {
      const groups = new Map<string, { transport: string; nexthop: string; items: { target: TransportTarget; routed: RoutedRecipient }[] }>();
      for (const { target, queued } of targets) {
        const key = `${target.transport}\0${target.nexthop}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { transport: target.transport, nexthop: target.nexthop, items: [] }));
        g.items.push({ target, routed: { recipient: target.recipient, originalRecipient: target.originalRecipient, orcpt: queued.orcpt, notify: queued.notify } });
      }
      const out = await Promise.all([...groups.values()].map((g) => deliverGroup(msg, g.transport, g.nexthop, g.items, opts.flush)));
      return out.flat();
    },
    revive() {
      for (const d of destinations.values()) d.deadUntil = 0;
    },
  };
}
