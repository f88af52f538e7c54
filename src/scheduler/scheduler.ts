/**
 * The scheduler (Postfix's qmgr): picks due messages from the queue, asks resolve/ where
 * each pending recipient goes, hands targets to delivery agents with bounded concurrency,
 * logs one line per recipient and removes the message when every recipient is done.
 * Deferred recipients are retried with exponential backoff; nothing is dropped.
 */

import type { QueueStore } from '../queue/store.js';
import type { QueuedMessage, QueuedRecipient } from '../queue/types.js';
import type { AddressResolver, DeliveryTarget } from '../resolve/types.js';
import type { DeliveryAgent } from '../delivery/types.js';
import type { MailLog } from '../log/maillog.js';
import { programName } from '../log/maillog.js';
import { queueLog, noticeLog } from '../log/queue-events.js';
import type { Params } from '../config/types.js';
import { nextRetryDelay } from './backoff.js';
import { checkHops } from '../dsn/index.js';
import { createTransportDispatcher, type Transports, type TransportTarget, type TargetResult } from './transports.js';
import { splitTransport } from '../resolve/transport.js';
import type { TransportOutcome } from '../delivery/types.js';

export interface Scheduler {
  start(): void;
  /** A message cleanup has just committed: deliver it from memory, without reading the queue back. */
  submitted(msg: QueuedMessage): void;
  /** Look at the queue again (deferred messages whose time has come). */
  wake(): void;
  /** `postern queue flush`: retry suspended destinations and defer_transports in the next scan. */
  flush(): void;
  stop(): Promise<void>;
}

/** Deferral text for mail that needs outbound SMTP, which Postern does not have yet. */
export const REMOTE_NOT_AVAILABLE = 'delivery to remote domains not available yet';

/** One delivery result handed to the notifier (bounces, delay and success notices). */
export type NoticeResult = TargetResult & { readonly queued: QueuedRecipient };
/**
 * Queues the DSNs one attempt's results call for (dsn/); `expired` marks recipients returned
 * at maximal_queue_lifetime. Resolves once the notices are durable, with a function that
 * writes their log lines (called after the delivery lines).
 */
export type Notifier = (msg: QueuedMessage, results: readonly NoticeResult[], opts: { expired: boolean }) => Promise<() => void>;

export interface SchedulerDeps {
  store: QueueStore;
  resolver: AddressResolver;
  /** Local agents: Maildir, and local(8) deliveries to |command and /file when available. */
  agents: { maildir: DeliveryAgent; command?: DeliveryAgent; file?: DeliveryAgent };
  /** master.cf transports and their agents (smtp, lmtp, pipe, discard, error). */
  transports?: Transports;
  /** Bounces and notices (built by main.ts with createNotifier); without it, bounced recipients are only logged and expired mail stays queued. */
  notify?: Notifier;
  log: MailLog;
  params: Params;
}

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { store, resolver, agents, log, params, notify } = deps;
  const dispatcher = createTransportDispatcher({ transports: deps.transports ?? { service: () => undefined, agent: () => undefined }, params });
  const localProgram = programName(params.str('syslog_name'), 'local');
  const bounceLifetime = params.timeMs('bounce_queue_lifetime');
  const hopLimit = params.int('hopcount_limit');
  // A queue flush (postern queue flush) retries suspended destinations and defer_transports once.
  let flushing = false;
  const syslogName = params.str('syslog_name');
  const qmgr = programName(syslogName, 'qmgr');
  const concurrency = params.int('postern_delivery_concurrency_limit');
  const minBackoff = params.timeMs('minimal_backoff_time');
  const maxBackoff = params.timeMs('maximal_backoff_time');
  const maxLifetime = params.timeMs('maximal_queue_lifetime');
  const runDelay = params.timeMs('queue_run_delay');
  const inflight = new Map<string, Promise<void>>();
  // Delivered messages whose deletion is not committed yet: never pick them up again. They
  // hold no delivery slot (as Postfix's qmgr frees the agent before the queue file is gone),
  // so a removal waiting for its group commit does not idle a destination; their number is
  // bounded apart (each still holds its message in memory).
  const finishing = new Set<string>();
  const maxHeld = concurrency * 10;
  const room = (): number => Math.min(concurrency - (inflight.size - finishing.size), maxHeld - inflight.size);
  // Fresh messages handed over by cleanup, delivered from memory (Postfix's incoming queue).
  const ready: QueuedMessage[] = [];
  const readyIds = new Set<string>();
  let scanQueue = true; // at start: recover everything accepted before a stop or crash
  let timer: NodeJS.Timeout | undefined;
  let scheduled = false;
  let stopped = true;

  function launch(msg: QueuedMessage): void {
    // Held or deleted (postern queue hold/delete) since it was read: leave it alone.
    if (store.state(msg.id) !== 'queued') return;
    const p = deliverMessage(msg)
      .catch((err: unknown) => log.error(qmgr, `${msg.id}: delivery failed unexpectedly: ${(err as Error).stack ?? String(err)}`))
      .finally(() => {
        inflight.delete(msg.id);
        wake();
      });
    inflight.set(msg.id, p);
  }

  function pump(): void {
    scheduled = false;
    if (stopped) return;
    while (room() > 0 && ready.length > 0) {
      const msg = ready.shift()!;
      readyIds.delete(msg.id);
      launch(msg);
    }
    const free = room();
    if (!scanQueue || free <= 0) return;
    const exclude = new Set<string>([...inflight.keys(), ...finishing, ...readyIds]);
    const due = store.due(Date.now(), free, exclude);
    if (due.length < free) scanQueue = false;
    for (const msg of due) launch(msg);
    if (!scanQueue) flushing = false;
  }

  function wake(): void {
    if (!scheduled && !stopped) {
      scheduled = true;
      setImmediate(pump);
    }
  }

  /**
   * content_filter / FILTER (set by cleanup): every recipient goes, unexpanded, to the
   * filter's transport and next hop; the filter re-injects the message, which then arrives
   * without a filter (the re-injection listener sets content_filter empty) and is delivered
   * normally. An empty next hop is the recipient's domain, as in Postfix.
   */
  function filterTarget(filter: string, address: string): DeliveryTarget {
    const f = splitTransport(filter);
    const nexthop = f.nexthop || address.slice(address.lastIndexOf('@') + 1);
    return { kind: 'transport', transport: f.transport, nexthop, recipient: address, originalRecipient: address };
  }

  async function deliverMessage(msg: QueuedMessage): Promise<void> {
    const started = Date.now();
    const flush = flushing;
    const recipients: QueuedRecipient[] = msg.recipients.map((r) => ({ ...r }));
    const pending = recipients.filter((r) => r.status !== 'done');
    // Expand every pending recipient, remembering which queue recipient each target serves.
    const byTarget = new Map<DeliveryTarget, QueuedRecipient>();
    const results: TargetResult[] = [];
    const local: DeliveryTarget[] = [];
    const routed: { target: TransportTarget; queued: QueuedRecipient }[] = [];
    const direct = (t: DeliveryTarget, status: TransportOutcome['status'], dsn: string, text: string, relay: string, program = localProgram): void => {
      results.push({ target: t, program, outcome: { recipient: { recipient: t.recipient, originalRecipient: t.originalRecipient }, status, dsn, text, relay } });
    };
    // A mail loop (too many Received: headers) is returned, not delivered again (cleanup's hopcount_limit).
    const looping = checkHops(msg.data, hopLimit);
    for (const r of pending) {
      let targets: DeliveryTarget[];
      try {
        targets = looping
          ? [{ kind: 'bounce', recipient: r.address, originalRecipient: r.address, dsn: looping.dsn, text: looping.text }]
          : msg.filter ? [filterTarget(msg.filter, r.address)]
          : await resolver.expand(r.address, { sender: msg.sender });
      } catch (err) {
        targets = [{ kind: 'defer', recipient: r.address, originalRecipient: r.address, dsn: '4.3.0', text: `address resolution failed: ${(err as Error).message}` }];
      }
      for (const t of targets) {
        byTarget.set(t, r);
        if (t.kind === 'maildir' || t.kind === 'command' || t.kind === 'file') local.push(t);
        else if (t.kind === 'transport') routed.push({ target: t, queued: r });
        else if (t.kind === 'remote') direct(t, 'deferred', '4.4.1', REMOTE_NOT_AVAILABLE, 'none', qmgr);
        else if (t.kind === 'bounce') direct(t, 'bounced', t.dsn, t.text, 'local');
        else direct(t, 'deferred', t.dsn, t.text, 'local');
      }
    }
    const transmitStart = Date.now();
    const [localResults, transportResults] = await Promise.all([deliverLocal(msg, local), routed.length ? dispatcher.deliver(msg, routed, { flush }) : Promise.resolve([])]);
    results.push(...localResults, ...transportResults);
    const end = Date.now();

    // A queue recipient is done when all its targets are sent or bounced; deferred otherwise.
    const deferred = new Map<QueuedRecipient, string>();
    for (const res of results) if (res.outcome.status === 'deferred') deferred.set(byTarget.get(res.target)!, res.outcome.text);
    for (const r of pending) {
      const why = deferred.get(r);
      if (why === undefined) {
        r.status = 'done';
        delete r.reason;
      } else {
        r.status = 'deferred';
        r.reason = why;
      }
    }
    const allDone = recipients.every((r) => r.status === 'done');
    const lifetime = msg.sender === '' ? bounceLifetime : maxLifetime;
    const expired = !allDone && end - msg.arrival > lifetime && notify !== undefined;
    // Notices first (durable), then the attempt's record, then the log: a crash in between
    // repeats a notice at worst; a failure is never recorded without its bounce queued.
    const noticeResults = results.map((r) => ({ ...r, queued: byTarget.get(r.target)! }));
    let logNotices = (): void => undefined;
    try {
      if (notify) logNotices = await notify(msg, noticeResults, { expired: false });
    } catch (err) {
      // The bounce could not be queued: keep every recipient of this attempt for a retry.
      log.warning(qmgr, `${msg.id}: cannot queue a delivery status notification: ${(err as Error).message}; will retry`);
      for (const r of pending) if (r.status === 'done') r.status = 'deferred';
    }
    const done = recipients.every((r) => r.status === 'done');
    // Record the outcome durably BEFORE logging it: a recipient logged status=sent is never
    // delivered again after a crash (a crash before this point is "mid-delivery").
    if (done) {
      finishing.add(msg.id);
      wake(); // this message's delivery slot is free
      try {
        await store.remove(msg.id);
      } finally {
        finishing.delete(msg.id);
      }
    } else if (!expired) {
      const attempts = msg.attempts + 1;
      await store.updateRecipients(msg.id, recipients, end + nextRetryDelay(end - msg.arrival, minBackoff, maxBackoff), attempts).catch((err: Error) => {
        log.warning(qmgr, `${msg.id}: cannot record delivery state: ${err.message}`);
      });
    }
    for (const res of results) {
      const o = res.outcome;
      queueLog.delivery(log, res.program, msg.id, {
        to: o.recipient.recipient, origTo: o.recipient.originalRecipient, relay: o.relay,
        // Postfix's delays=a/b/c/d: before the queue manager picked the message up, in the
        // queue manager (address resolution here), connection setup, transmission.
        delay: (end - msg.arrival) / 1000,
        delays: [(started - msg.arrival) / 1000, (transmitStart - started) / 1000, o.connectSeconds ?? 0, Math.max(0, (end - transmitStart) / 1000 - (o.connectSeconds ?? 0))],
        dsn: o.dsn, status: o.status, text: o.text,
      });
    }
    logNotices();
    if (done) {
      queueLog.removed(log, qmgr, msg.id);
      return;
    }
    if (expired) {
      await expire(msg, recipients);
      return;
    }
    if (end - msg.arrival > lifetime) {
      // Without bounce messages the mail stays queued rather than disappear.
      queueLog.expiredKept(log, qmgr, msg.id, msg.sender);
    }
  }

  /** maximal_queue_lifetime passed: the deferred recipients are returned to the sender. */
  async function expire(msg: QueuedMessage, recipients: QueuedRecipient[]): Promise<void> {
    const left = recipients.filter((r) => r.status !== 'done');
    let logNotices: () => void;
    try {
      logNotices = await notify!(msg, left.map((r) => {
        const target: DeliveryTarget = { kind: 'bounce', recipient: r.address, originalRecipient: r.address, dsn: '4.4.7', text: r.reason ?? 'message expired' };
        return { target, queued: r, program: qmgr, outcome: { recipient: { recipient: r.address, originalRecipient: r.address, orcpt: r.orcpt, notify: r.notify }, status: 'bounced', dsn: '4.4.7', text: r.reason ?? 'message expired', relay: 'none' } };
      }), { expired: true });
    } catch (err) {
      log.warning(qmgr, `${msg.id}: cannot queue the expiry notification: ${(err as Error).message}; kept in the queue`);
      await store.updateRecipients(msg.id, recipients, Date.now() + maxBackoff, msg.attempts + 1).catch(() => undefined);
      return;
    }
    finishing.add(msg.id);
    try {
      await store.remove(msg.id);
    } finally {
      finishing.delete(msg.id);
    }
    noticeLog.expired(log, qmgr, msg.id, msg.sender);
    logNotices();
    queueLog.removed(log, qmgr, msg.id);
  }

  async function deliverLocal(msg: QueuedMessage, targets: DeliveryTarget[]): Promise<TargetResult[]> {
    const out: TargetResult[] = [];
    const groups = new Map<DeliveryAgent, DeliveryTarget[]>();
    for (const t of targets) {
      const agent = t.kind === 'maildir' ? agents.maildir : t.kind === 'command' ? agents.command : agents.file;
      if (agent) groups.set(agent, [...(groups.get(agent) ?? []), t]);
      else out.push({ target: t, program: localProgram, outcome: { recipient: { recipient: t.recipient, originalRecipient: t.originalRecipient }, status: 'deferred', dsn: '4.3.0', text: `delivery to ${t.kind === 'command' ? 'a command' : 'a file'} is not available`, relay: 'local' } });
    }
    for (const [agent, ts] of groups) {
      for (const o of await agent.deliver(msg, ts)) {
        const program = programName(syslogName, o.relay === 'virtual' ? 'virtual' : 'local');
        out.push({ target: o.target, program, outcome: { recipient: { recipient: o.target.recipient, originalRecipient: o.target.originalRecipient }, status: o.status, dsn: o.dsn, text: o.text, relay: o.relay } });
      }
    }
    return out;
  }

  return {
    start() {
      stopped = false;
      timer = setInterval(() => {
        scanQueue = true;
        wake();
      }, Math.min(runDelay, 60_000));
      timer.unref();
      wake();
    },
    submitted(msg) {
      if (readyIds.has(msg.id) || inflight.has(msg.id)) return;
      ready.push(msg);
      readyIds.add(msg.id);
      wake();
    },
    wake: () => {
      scanQueue = true;
      wake();
    },
    flush: () => {
      flushing = true;
      dispatcher.revive();
      scanQueue = true;
      wake();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await Promise.allSettled([...inflight.values()]);
    },
  };
}
