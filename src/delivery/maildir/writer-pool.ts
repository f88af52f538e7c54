/**
 * A small pool of Maildir writer threads (maildir-worker.ts). Deliveries are spread over
 * the threads; each resolves with the path of the file in new/ once it is durable. A
 * thread that dies fails only its own outstanding writes (the queue retries them) and is
 * replaced. Under tsx (unit tests run from src/) the worker is the .ts file.
 */

import { Worker } from 'node:worker_threads';
import type { WriteReply, WriteRequest } from './maildir-worker.js';

interface Pending {
  resolve: (p: string) => void;
  reject: (e: Error) => void;
}

const underTsx = import.meta.url.endsWith('.ts');
const workerUrl = new URL(underTsx ? './maildir-worker.ts' : './maildir-worker.js', import.meta.url);

/**
 * A writer thread keeps almost nothing alive between messages (the bytes are external
 * memory), so its young generation is kept at 1 MB instead of growing to V8's default
 * (measured: ~3 MB less heap per thread under load, same delivery rate).
 */
const resourceLimits = { maxYoungGenerationSizeMb: 1 };

/** The compiled worker directly; from src/ a bootstrap that registers tsx in the thread first. */
function newWorker(): Worker {
  if (!underTsx) return new Worker(workerUrl, { resourceLimits });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(boot, { eval: true, resourceLimits });
}

export class MaildirWriterPool {
  private readonly workers: { w: Worker; pending: Map<number, Pending> }[] = [];
  private next = 0;
  private seq = 0;
  private closed = false;

  constructor(size = 2) {
    for (let i = 0; i < Math.max(1, size); i++) this.workers.push(this.spawn(i));
  }

  private spawn(tag: number): { w: Worker; pending: Map<number, Pending> } {
    const pending = new Map<number, Pending>();
    const w = newWorker();
    const slot = { w, pending };
    w.postMessage({ tag });
    w.on('message', (r: WriteReply) => {
      const p = pending.get(r.id);
      if (!p) return;
      pending.delete(r.id);
      if (pending.size === 0) w.unref(); // idle threads never keep the process alive
      if ('path' in r) p.resolve(r.path);
      else p.reject(Object.assign(new Error(r.error.message), { code: r.error.code }));
    });
    const fail = (err: Error): void => {
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(err);
      }
      if (!this.closed) {
        const i = this.workers.indexOf(slot);
        if (i >= 0) this.workers[i] = this.spawn(tag);
      }
    };
    w.on('error', fail);
    w.on('exit', (code) => {
      if (this.workers.includes(slot)) fail(new Error(`maildir writer thread exited (code ${code})`));
    });
    w.unref();
    return slot;
  }

  write(dir: string, data: Buffer, opts: { uid?: number; gid?: number; prepend: string }): Promise<string> {
    if (this.closed) return Promise.reject(new Error('maildir writer pool is closed'));
    const id = ++this.seq;
    const req: WriteRequest = { id, dir, prepend: opts.prepend, data, uid: opts.uid, gid: opts.gid };
    const slot = this.workers[this.next++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      if (slot.pending.size === 0) slot.w.ref(); // an outstanding write keeps the process alive
      slot.pending.set(id, { resolve, reject });
      slot.w.postMessage(req);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.workers.splice(0);
    await Promise.all(slots.map((s) => s.w.terminate()));
    for (const s of slots) for (const p of s.pending.values()) p.reject(new Error('maildir writer pool closed'));
  }
}
