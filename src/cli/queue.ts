/**
 * `postern queue [list|flush|hold|release|delete|requeue|show] …`: Postfix's mailq /
 * postqueue / postsuper / postcat in one command. Listing and show read the queue database
 * (read-only, beside the running daemon); the changes are in queue-admin.ts.
 */

import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { openQueueStore } from '../queue/store.js';
import { formatMailq } from '../queue/list.js';
import { formatShow } from '../queue/show.js';
import { runQueueAdmin, ADMIN_COMMANDS, type AdminCommand } from './queue-admin.js';

export const QUEUE_USAGE = `usage: postern queue [list]                 list the queue like mailq
       postern queue flush [ID…]            deferred mail due now, daemon woken (postqueue -f / -i)
       postern queue hold ID…|ALL           put on hold (postsuper -h)
       postern queue release ID…|ALL        release from hold (postsuper -H)
       postern queue delete ID…|ALL|deferred   delete (postsuper -d)
       postern queue requeue ID…|ALL        due now, off hold, re-resolved (postsuper -r)
       postern queue show ID                envelope, recipients, headers and body (postcat -q)
  an ID of "-" reads IDs from standard input, one per line (as postsuper)
`;

export async function runQueueCommand(dir: string, args: string[]): Promise<number> {
  const sub = args[0] ?? 'list';
  if (sub === 'list') return list(dir);
  if (sub === 'show') return show(dir, args.slice(1));
  if ((ADMIN_COMMANDS as readonly string[]).includes(sub)) return runQueueAdmin(dir, sub as AdminCommand, args.slice(1));
  process.stderr.write(`postern: queue: unknown subcommand "${sub}"\n${QUEUE_USAGE}`);
  return 2;
}

function list(dir: string): number {
  const cfg = loadConfig(dir);
  const queueDir = cfg.main.str('queue_directory');
  if (!existsSync(queueDir)) {
    process.stdout.write('Mail queue is empty\n');
    return 0;
  }
  const store = openQueueStore(queueDir, { readonly: true });
  try {
    process.stdout.write(formatMailq(store.list()));
  } finally {
    store.close();
  }
  return 0;
}

function show(dir: string, ids: string[]): number {
  if (ids.length !== 1) {
    process.stderr.write(`postern: queue show: exactly one queue ID expected\n${QUEUE_USAGE}`);
    return 2;
  }
  const id = ids[0]!.replace(/[*!]$/, '');
  const cfg = loadConfig(dir);
  const queueDir = cfg.main.str('queue_directory');
  const store = existsSync(queueDir) ? openQueueStore(queueDir, { readonly: true }) : undefined;
  try {
    const msg = store?.get(id);
    if (!store || !msg) {
      process.stderr.write(`postern: queue show: ${id}: no such message in the queue\n`);
      return 1;
    }
    process.stdout.write(formatShow(msg, store.isHeld(id)));
    return 0;
  } finally {
    store?.close();
  }
}
