/**
 * Writing one message into a Maildir (maildir(5), cr.yp.to/proto/maildir.html): create
 * cur/ new/ tmp/ (0700) if missing, write tmp/<unique>, fsync it, rename into new/, then
 * fsync new/ so the rename survives a crash. Lines are stored with LF endings, as
 * Postfix's local(8) and virtual(8) do. Inputs are trusted (paths come from the resolver,
 * bytes from the queue). The synchronous core runs on writer threads (maildir-worker.ts);
 * deliverToMaildir() is the async entry point for callers on the main thread.
 */

import { openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, chownSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MaildirWriterPool } from './writer-pool.js';

// "/" and ":" cannot appear in the host part of a Maildir name (maildir(5)).
const host = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
let counter = 0;

/**
 * Unique file name "<sec>.M<usec>P<pid>Q<n>[T<thread>].<host>": seconds and microseconds of
 * now, the pid, a per-thread delivery counter and the writer thread's tag (several threads
 * share one pid), so two deliveries in one process never collide.
 */
export function uniqueName(tag?: number): string {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const sec = Math.floor(us / 1_000_000);
  const t = tag === undefined ? '' : `T${tag}`;
  return `${sec}.M${us % 1_000_000}P${process.pid}Q${++counter}${t}.${host}`;
}

/** CRLF → LF (Maildir files use the local line ending). A lone CR is kept. */
export function toLf(data: Uint8Array): Uint8Array {
  if (Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf('\r\n') < 0) return data;
  const out = new Uint8Array(data.length);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 13 && data[i + 1] === 10) continue;
    out[o++] = b;
  }
  return out.subarray(0, o);
}

const asRoot = (): boolean => process.getuid?.() === 0;
// Maildirs known to exist in this thread: saves four mkdir calls per delivery.
const known = new Set<string>();

/** Create dir, dir/tmp, dir/new, dir/cur (0700), owned by uid/gid when we run as root. */
export function ensureMaildirSync(dir: string, uid?: number, gid?: number): void {
  if (known.has(dir)) return;
  for (const sub of ['', 'tmp', 'new', 'cur']) {
    const p = join(dir, sub);
    mkdirSync(p, { recursive: true, mode: 0o700 });
    if (uid !== undefined && gid !== undefined && asRoot()) chownSync(p, uid, gid);
  }
  if (known.size > 100_000) known.clear();
  known.add(dir);
}

export interface MaildirWrite {
  dir: string;
  prepend: string;
  data: Uint8Array;
  uid?: number;
  gid?: number;
}

/** tmp/ → fsync → new/. Returns the path in new/; the caller fsyncs new/ (fsyncDirSync). */
export function writeMessageSync(r: MaildirWrite, tag?: number): string {
  ensureMaildirSync(r.dir, r.uid, r.gid);
  const name = uniqueName(tag);
  const tmp = join(r.dir, 'tmp', name);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (err) {
    known.delete(r.dir); // the Maildir may have been removed under us: recreate next time
    throw err;
  }
  try {
    writeSync(fd, Buffer.from(r.prepend, 'utf8'));
    writeSync(fd, toLf(r.data));
    fsyncSync(fd);
    if (r.uid !== undefined && r.gid !== undefined && asRoot()) chownSync(tmp, r.uid, r.gid);
    closeSync(fd);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  const dest = join(r.dir, 'new', name);
  try {
    renameSync(tmp, dest);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  return dest;
}

/** fsync a directory so that renames into it are durable. */
export function fsyncDirSync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

let shared: MaildirWriterPool | undefined;

/** Deliver one message (durable when the promise resolves); rejects with the errno error. */
export async function deliverToMaildir(dir: string, data: Buffer, opts: { uid?: number; gid?: number; prepend: string }): Promise<string> {
  shared ??= new MaildirWriterPool(1);
  return shared.write(dir, data, opts);
}
