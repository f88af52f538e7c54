/**
 * What the queue tools and `postern sendmail` share: the configuration, the queue opened
 * for writing beside a running daemon (SQLite WAL; busy_timeout waits out the daemon's
 * short transactions), the mail log for postsuper/pickup lines, and a clear reason when the
 * queue cannot be opened (most often: the queue directory is 0700 for the mail owner).
 */

import { accessSync, constants, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { LoadedConfig } from '../config/types.js';
import { MailLog } from '../log/maillog.js';
import { openQueueStore, type QueueStore } from '../queue/store.js';

/**
 * The mail log for a tool's lines, or undefined when the daemon logs to standard output
 * (a tool's stdout belongs to its caller) or the file cannot be opened by this user.
 */
export function openToolLog(cfg: LoadedConfig): MailLog | undefined {
  const file = cfg.main.str('maillog_file');
  if (!file || file === '/dev/stdout') return undefined;
  try {
    return new MailLog({ file, hostname: cfg.main.str('myhostname') });
  } catch {
    return undefined;
  }
}

function whoami(): string {
  try {
    return `${userInfo().username} (uid ${process.getuid?.() ?? '?'})`;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** A sentence for a queue that cannot be opened for writing; names the likely cause. */
export function explainQueueOpenError(queueDirectory: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  let denied = code === 'EACCES' || code === 'EPERM';
  try {
    accessSync(queueDirectory, constants.W_OK | constants.X_OK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') denied = true;
  }
  if (denied) {
    let owner = '';
    try {
      const st = statSync(queueDirectory);
      owner = ` (owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`;
    } catch {
      /* the directory itself may be out of reach */
    }
    return `cannot write the queue in ${queueDirectory}${owner}: permission denied for ${whoami()}. ` +
      'The queue belongs to the mail owner and is closed to other users; only root and the mail owner ' +
      'can submit or change queued mail (Postern has no setgid postdrop helper yet). ' +
      'Run this as root or as the mail owner, or submit over SMTP (port 587) instead.';
  }
  return `cannot open the queue in ${queueDirectory}: ${(err as Error).message}`;
}

/** Open the queue for writing; throws an Error whose message is explainQueueOpenError's. */
export function openQueueForTool(cfg: LoadedConfig): QueueStore {
  const dir = cfg.main.str('queue_directory');
  try {
    return openQueueStore(dir, { groupCommitMax: 1 });
  } catch (err) {
    throw new Error(explainQueueOpenError(dir, err));
  }
}
