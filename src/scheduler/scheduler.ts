/**
 * The scheduler (Postfix's qmgr): picks due messages from the queue, asks resolve/ where
 * each pending recipient goes, hands targets to delivery agents with bounded concurrency,
 * logs one line per recipient and removes the message when every recipient is done.
 * Deferred recipients are retried with exponential backoff; nothing is dropped.
 */

import type { QueueStore } from '../queue/store.js';
import type { QueuedMessage, QueuedRecipient } from '../queue/types.js';
import type { AddressResolver, DeliveryTarget } from '../resolve/types.js';
import type { DeliveryAgent, DeliveryOutcome } from '../delivery/types.js';
import type { MailLog } from '../log/maillog.js';
import { programName } from '../log/maillog.js';
import { queueLog } from '../log/queue-events.js';
import type { Params } from '../config/types.js';
import { nextRetryDelay } from './backoff.js';

export interface Scheduler {
  start(): void;
  /** A message cleanup has just committed: deliver it from memory, without reading the queue back. */
  submitted(msg: QueuedMessage): void;
  /** Look at the queue again (deferred messages whose time has come). */
  wake(): void;
  stop(): Promise<void>;
}

/** Deferral text for mail that needs outbound SMTP, which Postern does not have yet. */
export const REMOTE_NOT_AVAILABLE = 'delivery to remote domains not available yet';

export function createScheduler(deps: { store: QueueStore; resolver: AddressResolver; agents: { maildir: DeliveryAgent }; log: MailLog; params: Params }): Scheduler {
  const { store, resolver, agents, log, params } = deps;
  const syslogName = params.str('syslog_name');
  const qmgr = programName(syslogName, 'qmgr');
  const concurrency = params.int('postern_delivery_concurrency_limit');
  const minBackoff = params.timeMs('minimal_backoff_time');
  const maxBackoff = params.timeMs('maximal_backoff_time');
  const lifetime = params.timeMs('maximal_queue_lifetime');
  const runDelay = params.timeMs('queue_run_delay');
  const inflight = new Map<string, Promise<void>>();
  // Delivered messages whose deletion is not committed yet: never pick them up again.
  const finishing = new Set<string>();
  // Fresh messages handed over by cleanup, delivered from memory (Postfix's incoming queue).
  const ready: QueuedMessage[] = [];
  const readyIds = new Set<string>();
  let scanQueue = true; // at start: recover everything accepted before a stop or crash
  let timer: NodeJS.Timeout | undefined;
  let scheduled = false;
  let stopped = true;

  function launch(msg: QueuedMessage): void {
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
    while (inflight.size < concurrency && ready.length > 0) {
      const msg = ready.shift()!;
      readyIds.delete(msg.id);
      launch(msg);
    }
    if (!scanQueue || inflight.size >= concurrency) return;
    const room = concurrency - inflight.size;
    const exclude = new Set<string>([...inflight.keys(), ...finishing, ...readyIds]);
    const due = store.due(Date.now(), room, exclude);
    if (due.length < room) scanQueue = false;
    for (const msg of due) launch(msg);
  }

  function wake(): void {
    if (!scheduled && !stopped) {
      scheduled = true;
      setImmediate(pump);
    }
  }

  function finish(id: string): void {
    finishing.add(id);
    void store.remove(id).finally(() => finishing.delete(id));
  }

  async function deliverMessage(msg: QueuedMessage): Promise<void> {
    const started = Date.now();
    const recipients: QueuedRecipient[] = msg.recipients.map((r) => ({ ...r }));
    const pending = recipients.filter((r) => r.status !== 'done');
    // Expand every pending recipient, remembering which queue recipient each target serves.
    const byTarget = new Map<DeliveryTarget, QueuedRecipient>();
    const outcomes: DeliveryOutcome[] = [];
    const maildirTargets: DeliveryTarget[] = [];
    for (const r of pending) {
      let targets: DeliveryTarget[];
      try {
        targets = await resolver.expand(r.address);
      } catch (err) {
        targets = [{ kind: 'defer', recipient: r.address, originalRecipient: r.address, dsn: '4.3.0', text: `address resolution failed: ${(err as Error).message}` }];
      }
      for (const t of targets) {
        byTarget.set(t, r);
        if (t.kind === 'maildir') maildirTargets.push(t);
        else if (t.kind === 'remote') outcomes.push({ target: t, status: 'deferred', dsn: '4.4.1', text: REMOTE_NOT_AVAILABLE, relay: 'none' });
        else if (t.kind === 'bounce') outcomes.push({ target: t, status: 'bounced', dsn: t.dsn, text: t.text, relay: 'local' });
        else if (t.kind === 'defer') outcomes.push({ target: t, status: 'deferred', dsn: t.dsn, text: t.text, relay: 'local' });
      }
    }
    const transmitStart = Date.now();
    if (maildirTargets.length) outcomes.push(...(await agents.maildir.deliver(msg, maildirTargets)));
    const end = Date.now();

    // A queue recipient is done when all its targets are sent or bounced; deferred otherwise.
    const state = new Map<QueuedRecipient, { deferred?: string }>();
    for (const o of outcomes) {
      const r = byTarget.get(o.target)!;
      const s = state.get(r) ?? {};
      if (o.status === 'deferred') s.deferred = o.text;
      state.set(r, s);
      const program = programName(syslogName, o.relay === 'virtual' ? 'virtual' : o.relay === 'none' ? 'qmgr' : 'local');
      queueLog.delivery(log, program, msg.id, {
        to: o.target.recipient, origTo: o.target.originalRecipient, relay: o.relay,
        // Postfix's delays=a/b/c/d: before the queue manager picked the message up, in the
        // queue manager (address resolution here), connection setup (none for local
        // delivery), transmission.
        delay: (end - msg.arrival) / 1000,
        delays: [(started - msg.arrival) / 1000, (transmitStart - started) / 1000, 0, (end - transmitStart) / 1000],
        dsn: o.dsn, status: o.status, text: o.text,
      });
      // XXX: bounce messages (RFC 3464 DSNs) to the sender arrive with the DSN issue; bounced
      // recipients are logged with status=bounced and leave the queue.
    }
    for (const r of pending) {
      const s = state.get(r);
      if (!s || s.deferred === undefined) {
        r.status = 'done';
        delete r.reason;
      } else {
        r.status = 'deferred';
        r.reason = s.deferred;
      }
    }
    if (recipients.every((r) => r.status === 'done')) {
      finish(msg.id);
      queueLog.removed(log, qmgr, msg.id);
      return;
    }
    if (end - msg.arrival > lifetime) {
      // XXX: Postfix returns the message to the sender here ("status=expired, returned to
      // sender"). Without bounce messages that would silently drop mail, so the message stays
      // queued, retried every maximal_backoff_time, with a warning each time.
      queueLog.expiredKept(log, qmgr, msg.id, msg.sender);
    }
    const attempts = msg.attempts + 1;
    store.updateRecipients(msg.id, recipients, end + nextRetryDelay(end - msg.arrival, minBackoff, maxBackoff), attempts);
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
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await Promise.allSettled([...inflight.values()]);
    },
  };
}
