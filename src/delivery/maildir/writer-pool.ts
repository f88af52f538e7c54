/**
 * A small pool of Maildir writer threads (maildir-worker.ts). Deliveries are spread over
 * the threads; each resolves with the path of the file in new/ once it is durable.
 */

import { Worker } from 'node:worker_threads';
import type { WriteReply, WriteRequest } from './maildir-worker.js';

export class MaildirWriterPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (p: string) => void; reject: (e: Error) => void }>();
  private next = 0;
  private seq = 0;

  constructor(size = 4) {
    const here = new URL('./maildir-worker.js', import.meta.url);
    for (let i = 0; i < size; i++) {
      const w = new Worker(here);
      w.postMessage({ tag: i });
      w.on('message', (r: WriteReply) => {
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if ('path' in r) p.resolve(r.path);
        else p.reject(Object.assign(new Error(r.error.message), { code: r.error.code }));
      });
      w.on('error', (err) => {
        // A crashed writer fails its outstanding writes; they are retried from the queue.
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(err);
        }
      });
      w.unref();
      this.workers.push(w);
    }
  }

  write(dir: string, data: Buffer, opts: { uid?: number; gid?: number; prepend: string }): Promise<string> {
    const id = ++this.seq;
    const req: WriteRequest = { id, dir, prepend: opts.prepend, data, uid: opts.uid, gid: opts.gid };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const w = this.workers[this.next++ % this.workers.length]!;
      w.postMessage(req);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
