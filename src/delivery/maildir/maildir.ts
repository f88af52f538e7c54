/**
 * Writing one message into a Maildir (maildir(5), cr.yp.to/proto/maildir.html): create
 * cur/ new/ tmp/ if missing, write tmp/<unique>, fsync it, rename into new/, fsync new/.
 * Lines are stored with LF endings, as Postfix's local and virtual agents do.
 */

import { mkdir, open, rename, unlink, chown } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

let counter = 0;
const host = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');

/** Unique file name: "<sec>.M<usec>P<pid>Q<n>.<host>". */
export function uniqueName(now = process.hrtime.bigint()): string {
  const t = Date.now();
  const usec = Number(now % 1_000_000n);
  return `${Math.floor(t / 1000)}.M${usec}P${process.pid}Q${++counter}.${host}`;
}

/** CRLF → LF (Maildir files use the local line ending). */
export function toLf(data: Buffer): Buffer {
  if (data.indexOf('\r\n') < 0) return data;
  const out = Buffer.allocUnsafe(data.length);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 13 && data[i + 1] === 10) continue;
    out[o++] = b;
  }
  return out.subarray(0, o);
}

// Maildirs known to exist (created or seen by this process): saves four mkdir calls per delivery.
const known = new Set<string>();

async function ensureDirs(dir: string, uid?: number, gid?: number): Promise<void> {
  if (known.has(dir)) return;
  for (const sub of ['', 'tmp', 'new', 'cur']) {
    const p = join(dir, sub);
    await mkdir(p, { recursive: true, mode: 0o700 });
    if (uid !== undefined && gid !== undefined && process.getuid?.() === 0) await chown(p, uid, gid).catch(() => undefined);
  }
  if (known.size > 100_000) known.clear();
  known.add(dir);
}

export async function deliverToMaildir(dir: string, data: Buffer, opts: { uid?: number; gid?: number; prepend: string }): Promise<string> {
  await ensureDirs(dir, opts.uid, opts.gid);
  const name = uniqueName();
  const tmp = join(dir, 'tmp', name);
  const dest = join(dir, 'new', name);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o600);
  } catch (err) {
    known.delete(dir); // the Maildir may have been removed under us: recreate next time
    throw err;
  }
  try {
    await fh.writeFile(Buffer.concat([Buffer.from(opts.prepend, 'utf8'), toLf(data)]));
    await fh.sync();
    if (opts.uid !== undefined && opts.gid !== undefined && process.getuid?.() === 0) await fh.chown(opts.uid, opts.gid);
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, dest);
  await syncDir(join(dir, 'new'));
  return dest;
}

// Directory fsyncs are group-committed per directory: one sync at a time; every rename
// that finished while a sync was running waits for the next one (which covers it). Under
// load one fsync of new/ makes many deliveries durable.
interface DirSync {
  running: boolean;
  waiting: { resolve: () => void; reject: (e: Error) => void }[];
}
const dirSyncs = new Map<string, DirSync>();

function syncDir(path: string): Promise<void> {
  let st = dirSyncs.get(path);
  if (!st) {
    st = { running: false, waiting: [] };
    dirSyncs.set(path, st);
  }
  const state = st;
  return new Promise((resolve, reject) => {
    state.waiting.push({ resolve, reject });
    kickDir(path, state);
  });
}

function kickDir(path: string, st: DirSync): void {
  if (st.running || st.waiting.length === 0) {
    if (!st.running && st.waiting.length === 0) dirSyncs.delete(path);
    return;
  }
  const batch = st.waiting;
  st.waiting = [];
  st.running = true;
  void (async () => {
    let err: Error | undefined;
    try {
      const d = await open(path, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (e) {
      err = e as Error;
    }
    st.running = false;
    for (const w of batch) (err ? w.reject(err) : w.resolve());
    kickDir(path, st);
  })();
}
