/**
 * The queue changes of `postern queue`: flush (postqueue -f / -i), hold, release, delete,
 * requeue (postsuper -h / -H / -d / -r). They act on the running server without a restart:
 * the change is committed durably to the queue database (the daemon's own connection sees
 * it at its next read), then the daemon is woken (daemon-wake.ts) to look again at once.
 *
 * Logged as Postfix's postsuper does, in the mail log ("ID: removed", "ID: placed on hold",
 * "ID: released from hold", "ID: requeued") and counted on stderr ("Deleted: 2 messages").
 * An unknown ID is named on stderr and makes the exit status 1; the other IDs are still
 * acted on, as postsuper does.
 *
 * A message being delivered at that moment: delete and hold win over the delivery's
 * record-keeping (an UPDATE of a deleted row changes nothing; the hold flag is not touched
 * by delivery updates); the scheduler checks store.state() before it starts a
 * delivery, so it never starts one for a message deleted or held after it was read.
 */

import { existsSync, readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import { programName, type MailLog } from '../log/maillog.js';
import { toolLog } from '../log/queue-events.js';
import type { QueueStore } from '../queue/store.js';
import { openQueueForTool, openToolLog } from './tool-context.js';
import { wakeDaemon } from './daemon-wake.js';

export const ADMIN_COMMANDS = ['flush', 'hold', 'release', 'delete', 'requeue'] as const;
export type AdminCommand = (typeof ADMIN_COMMANDS)[number];

/** What each command does to the selected messages, logs, and counts (postsuper's words). */
const ACTIONS: Record<AdminCommand, {
  apply(store: QueueStore, ids: string[], now: number): Promise<string[]>;
  log?: (log: MailLog, program: string, id: string) => void;
  counted?: string;
  /** Messages "ALL" means for this command. */
  all(store: QueueStore): string[];
}> = {
  flush: {
    apply: (s, ids, now) => s.admin.flush(ids, now),
    all: (s) => s.list().filter((e) => !e.held).map((e) => e.id),
  },
  hold: {
    apply: (s, ids) => s.admin.hold(ids),
    log: toolLog.placedOnHold,
    counted: 'Placed on hold',
    all: (s) => s.list().filter((e) => !e.held).map((e) => e.id),
  },
  release: {
    apply: (s, ids, now) => s.admin.release(ids, now),
    log: toolLog.releasedFromHold,
    counted: 'Released from hold',
    all: (s) => s.list().filter((e) => e.held).map((e) => e.id),
  },
  delete: {
    apply: (s, ids) => s.admin.delete(ids),
    log: toolLog.removed,
    counted: 'Deleted',
    all: (s) => s.list().map((e) => e.id),
  },
  requeue: {
    apply: (s, ids, now) => s.admin.requeue(ids, now),
    log: toolLog.requeued,
    counted: 'Requeued',
    all: (s) => s.list().map((e) => e.id),
  },
};

/** "Deleted: 1 message", "Deleted: 3 messages" (postsuper's summary). */
export function countLine(what: string, n: number): string {
  return `${what}: ${n} message${n === 1 ? '' : 's'}`;
}

/** IDs as given: mailq's "!" / "*" markers dropped, "-" read from stdin. */
function expandIds(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (a === '-') {
      out.push(...readFileSync(0, 'utf8').split(/\s+/).filter(Boolean));
    } else {
      out.push(a);
    }
  }
  return out.map((id) => id.replace(/[*!]+$/, ''));
}

export async function runQueueAdmin(dir: string, cmd: AdminCommand, args: string[]): Promise<number> {
  const wantsAll = args.includes('ALL') || (cmd === 'delete' && args.includes('deferred'));
  if (args.length === 0 && cmd !== 'flush') {
    process.stderr.write(`postern: queue ${cmd}: queue IDs, or ALL, expected\n`);
    return 2;
  }
  let cfg: LoadedConfig;
  try {
    cfg = loadConfig(dir);
  } catch (err) {
    process.stderr.write(`postern: ${(err as Error).message}\n`);
    return 1;
  }
  const main = cfg.main;
  const queueDir = main.str('queue_directory');
  const action = ACTIONS[cmd];
  const given = wantsAll ? [] : expandIds(args);
  if (!existsSync(queueDir)) {
    for (const id of given) process.stderr.write(`postern: queue ${cmd}: ${id}: no such message in the queue\n`);
    if (action.counted) process.stderr.write(`postern: ${countLine(action.counted, 0)}\n`);
    return given.length > 0 ? 1 : 0;
  }
  let store: QueueStore;
  try {
    store = openQueueForTool(cfg);
  } catch (err) {
    process.stderr.write(`postern: fatal: ${(err as Error).message}\n`);
    return 75;
  }
  let status = 0;
  let changed: string[];
  try {
    let ids: string[];
    if (wantsAll || (cmd === 'flush' && args.length === 0)) {
      ids = cmd === 'delete' && args.includes('deferred')
        ? store.list().filter((e) => !e.held && e.recipients.some((r) => r.status === 'deferred')).map((e) => e.id)
        : action.all(store);
    } else {
      ids = [];
      for (const id of given) {
        if (store.exists(id)) ids.push(id);
        else {
          process.stderr.write(`postern: queue ${cmd}: ${id}: no such message in the queue\n`);
          status = 1;
        }
      }
      if (cmd === 'flush') {
        for (const id of ids) if (store.isHeld(id)) process.stderr.write(`postern: queue flush: ${id}: on hold; release it first\n`);
      }
    }
    changed = await action.apply(store, [...new Set(ids)], Date.now());
  } catch (err) {
    process.stderr.write(`postern: fatal: queue ${cmd}: cannot write the queue: ${(err as Error).message}\n`);
    return 75;
  } finally {
    store.close();
  }

  if (action.log) {
    const log = openToolLog(cfg);
    const program = programName(main.str('syslog_name'), 'postsuper');
    if (log) {
      for (const id of changed) action.log(log, program, id);
      log.close();
    }
  }
  if (action.counted && changed.length > 0) process.stderr.write(`postern: ${countLine(action.counted, changed.length)}\n`);

  // Deletions need no wake-up (a deleted message is simply gone); the others ask for
  // delivery now or a fresh look.
  if (cmd !== 'delete' && cmd !== 'hold' && changed.length > 0) {
    const woke = wakeDaemon(main.str('data_directory'), cmd === 'flush' ? 'flush' : 'wake');
    if (woke === 'not-running' && cmd === 'flush') {
      process.stderr.write('postern: warning: Postern is not running; the mail is due now and goes out when it starts\n');
      return 1;
    }
    if (woke === 'no-permission') {
      process.stderr.write('postern: warning: cannot signal the running daemon (permission denied); it sees the change at its next queue scan\n');
    }
  }
  return status;
}
