/**
 * A Maildir writer thread. Each write is a handful of system calls (open, write, fsync,
 * close, rename); doing them synchronously here costs one thread hop per message instead
 * of one per call on libuv's pool. Writes that arrive together are handled as a batch:
 * every file is fsync'd and renamed into new/, then each touched new/ directory is
 * fsync'd once, and only then are the writes acknowledged. Input comes from writer-pool.ts.
 */

import { parentPort } from 'node:worker_threads';
import { join, dirname } from 'node:path';
import { writeMessageSync, fsyncDirSync, type MaildirWrite } from './maildir.js';

export interface WriteRequest extends MaildirWrite {
  id: number;
}
export type WriteReply = { id: number; path: string } | { id: number; error: { code?: string; message: string } };

let threadTag = 0;
let batch: WriteRequest[] = [];
let scheduled = false;

function processBatch(): void {
  scheduled = false;
  const work = batch;
  batch = [];
  const replies: WriteReply[] = [];
  const dirs = new Set<string>();
  for (const r of work) {
    try {
      replies.push({ id: r.id, path: writeMessageSync(r, threadTag) });
      dirs.add(join(r.dir, 'new'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      replies.push({ id: r.id, error: { code: e.code, message: e.message } });
    }
  }
  // One directory fsync per new/ makes every rename of this batch durable.
  const failedDirs = new Map<string, NodeJS.ErrnoException>();
  for (const d of dirs) {
    try {
      fsyncDirSync(d);
    } catch (err) {
      failedDirs.set(d, err as NodeJS.ErrnoException);
    }
  }
  for (const rep of replies) {
    const dirErr = 'path' in rep ? failedDirs.get(dirname(rep.path)) : undefined;
    parentPort!.postMessage(dirErr ? ({ id: rep.id, error: { code: dirErr.code, message: dirErr.message } } satisfies WriteReply) : rep);
  }
}

parentPort?.on('message', (m: WriteRequest | { tag: number }) => {
  if ('tag' in m) {
    threadTag = m.tag;
    return;
  }
  batch.push(m);
  if (!scheduled) {
    scheduled = true;
    setImmediate(processBatch);
  }
});
