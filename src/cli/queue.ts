/**
 * `postern queue`: list the queue like mailq(1) / `postqueue -p`. Reads the queue database
 * while the daemon runs (SQLite WAL allows a concurrent reader); never writes.
 */

import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { openQueueStore } from '../queue/store.js';
import { formatMailq } from '../queue/list.js';

export async function runQueueCommand(dir: string, args: string[]): Promise<number> {
  const sub = args[0] ?? 'list';
  if (sub !== 'list') {
    process.stderr.write(`postern: queue ${sub}: not available yet (only "postern queue" / "postern queue list")\n`);
    return 2;
  }
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
