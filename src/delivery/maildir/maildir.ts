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

// Directory fsyncs are shared: deliveries that renamed into the same new/ before a sync
// starts are all covered by that one sync (the rename is durable once new/ is fsync'd).
const dirSyncs = new Map<string, Promise<void>>();

function syncDir(path: string): Promise<void> {
  const pending = dirSyncs.get(path);
  if (pending) return pending;
  const p = (async () => {
    await Promise.resolve(); // let other renames into this directory join
    dirSyncs.delete(path);
    const d = await open(path, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  })();
  dirSyncs.set(path, p);
  return p;
}
