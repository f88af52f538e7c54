/**
 * A Maildir writer thread. Each write is a handful of system calls (open, write, fsync,
 * close, rename); doing them synchronously here costs one thread hop per message instead
 * of one per call on libuv's pool. Writes that arrive together are handled as a batch:
 * every file is fsync'd, renamed into new/, then each touched new/ directory is fsync'd
 * once, and only then are the writes acknowledged.
 */

import { parentPort } from 'node:worker_threads';
import { openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, chownSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';

export interface WriteRequest {
  id: number;
  dir: string;
  prepend: string;
  data: Uint8Array;
  uid?: number;
  gid?: number;
}
export type WriteReply = { id: number; path: string } | { id: number; error: { code?: string; message: string } };

const host = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
const known = new Set<string>();
let counter = 0;

function ensureDirs(dir: string, uid?: number, gid?: number): void {
  if (known.has(dir)) return;
  for (const sub of ['', 'tmp', 'new', 'cur']) {
    const p = join(dir, sub);
    mkdirSync(p, { recursive: true, mode: 0o700 });
    if (uid !== undefined && gid !== undefined && process.getuid?.() === 0) chownSync(p, uid, gid);
  }
  known.add(dir);
}

/** CRLF → LF (Maildir files use the local line ending). */
function toLf(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 13 && data[i + 1] === 10) continue;
    out[o++] = b;
  }
  return out.subarray(0, o);
}

function writeOne(r: WriteRequest): string {
  ensureDirs(r.dir, r.uid, r.gid);
  const now = Date.now();
  const name = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000 + (counter % 1000)}P${process.pid}Q${++counter}T${threadTag}.${host}`;
  const tmp = join(r.dir, 'tmp', name);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (err) {
    known.delete(r.dir);
    throw err;
  }
  try {
    writeSync(fd, Buffer.from(r.prepend, 'utf8'));
    writeSync(fd, toLf(r.data));
    fsyncSync(fd);
    if (r.uid !== undefined && r.gid !== undefined && process.getuid?.() === 0) chownSync(tmp, r.uid, r.gid);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  closeSync(fd);
  const dest = join(r.dir, 'new', name);
  renameSync(tmp, dest);
  return dest;
}

let threadTag = 0;
let batch: WriteRequest[] = [];
let scheduled = false;

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function processBatch(): void {
  scheduled = false;
  const work = batch;
  batch = [];
  const replies: WriteReply[] = [];
  const dirs = new Set<string>();
  for (const r of work) {
    try {
      replies.push({ id: r.id, path: writeOne(r) });
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
      fsyncPath(d);
    } catch (err) {
      failedDirs.set(d, err as NodeJS.ErrnoException);
    }
  }
  for (const rep of replies) {
    const dirErr = 'path' in rep ? failedDirs.get(join(rep.path, '..')) : undefined;
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
