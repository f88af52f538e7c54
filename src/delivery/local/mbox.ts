/**
 * Append one message to an mbox file (local(8) delivery to "/path/file" alias entries),
 * the way Postfix's deliver_file()/mbox_open() do, minus kernel locks: a "path.lock"
 * dotlock (O_EXCL; stale after 500 s; when the directory does not allow one, delivery goes
 * on without it, as Postfix's MBOX_DOT_LOCK_MAY_FAIL), open with O_APPEND|O_NOFOLLOW,
 * created 0600 when missing, refused when it is a symbolic link, a directory, a FIFO or
 * socket, has several hard links, or is executable; mailbox_size_limit honoured; fsync;
 * on a failed write the file is cut back to its old length. Character devices (/dev/null)
 * are written without locking, as in Postfix.
 *
 * This runs in a child process with the target's uid/gid (mbox-worker.ts), so the file
 * system checks the rights of default_privs, not Postern's. Texts and DSN codes are
 * Postfix's (mbox_dsn(): EAGAIN 4.2.0, ENOSPC 4.3.0, EDQUOT/EFBIG 5.2.2, else 5.2.0 for
 * opening and 5.3.0 for writing); the caller prefixes "cannot append message to file P: ".
 */

import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { strerror } from '../../log/strerror.js';

export interface MboxResult {
  readonly ok: boolean;
  readonly dsn: string;
  readonly why: string;
  /** Notes for the mail log (a lock that could not be made). */
  readonly warnings: readonly string[];
}

export interface MboxOptions {
  /** 0: no limit. */
  readonly sizeLimit: number;
  readonly lockTries?: number;
  readonly lockDelayMs?: number;
  readonly staleLockMs?: number;
}

function mboxDsn(code: string | undefined, def: string): string {
  if (code === 'EAGAIN' || code === 'ESTALE') return '4.2.0';
  if (code === 'ENOSPC') return '4.3.0';
  if (code === 'EDQUOT' || code === 'EFBIG') return '5.2.2';
  return def;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Postfix's dot_lockfile(): true when the lock is ours, else the errno error. */
async function dotLock(lock: string, o: Required<Omit<MboxOptions, 'sizeLimit'>>): Promise<true | NodeJS.ErrnoException> {
  for (let n = 1; ; n++) {
    try {
      closeSync(openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0));
      return true;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'EEXIST' || n >= o.lockTries) return err;
      try {
        if (Date.now() > statSync(lock).ctimeMs + o.staleLockMs) unlinkSync(lock);
      } catch {
        /* gone meanwhile: try again */
      }
      await sleep(o.lockDelayMs / 2 + Math.random() * o.lockDelayMs);
    }
  }
}

function fail(dsn: string, why: string, warnings: string[]): MboxResult {
  return { ok: false, dsn, why, warnings };
}

export async function appendMbox(path: string, data: Buffer, opts: MboxOptions): Promise<MboxResult> {
  const o = { lockTries: opts.lockTries ?? 20, lockDelayMs: opts.lockDelayMs ?? 1000, staleLockMs: opts.staleLockMs ?? 500_000 };
  const warnings: string[] = [];
  let before: ReturnType<typeof lstatSync> | undefined;
  try {
    before = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return fail(mboxDsn((e as NodeJS.ErrnoException).code, '5.2.0'), `cannot open file: ${strerror(e as NodeJS.ErrnoException)}`, warnings);
  }
  if (before?.isSymbolicLink()) return fail('5.2.0', 'file is a symbolic link', warnings);
  if (before?.isDirectory()) return fail('5.2.0', 'cannot open file: Is a directory', warnings);
  if (before && !before.isFile() && !before.isCharacterDevice()) return fail('5.2.0', 'file is not a regular file', warnings);
  const regular = !before || before.isFile();

  const lock = `${path}.lock`;
  let locked = false;
  if (regular) {
    const r = await dotLock(lock, o);
    if (r === true) locked = true;
    else if (r.code === 'EEXIST') return fail('4.2.0', `unable to create lock file ${lock}: ${strerror(r)}`, warnings);
    else warnings.push(`unable to create lock file ${lock}: ${strerror(r)}`);
  }
  let fd = -1;
  try {
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ELOOP') return fail('5.2.0', 'file is a symbolic link', warnings);
      return fail(mboxDsn(err.code, '5.2.0'), `cannot open file: ${strerror(err)}`, warnings);
    }
    const st = fstatSync(fd);
    if (before && (st.ino !== before.ino || st.dev !== before.dev)) return fail('4.2.0', 'file status changed unexpectedly', warnings);
    if (st.isFile() && st.nlink !== 1) return fail('5.2.0', `file has ${st.nlink} hard links`, warnings);
    if (st.isFile() && (st.mode & 0o111) !== 0) return fail('5.7.1', 'file is executable', warnings);
    const orig = st.isFile() ? st.size : 0;
    if (st.isFile() && opts.sizeLimit > 0 && orig + data.length > opts.sizeLimit) return fail('5.2.2', 'error writing message: File too large', warnings);
    try {
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
      if (st.isFile()) fsyncSync(fd);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (st.isFile()) {
        try {
          ftruncateSync(fd, orig);
        } catch {
          /* the write error is what matters */
        }
      }
      return fail(mboxDsn(err.code, '5.3.0'), `error writing message: ${strerror(err)}`, warnings);
    }
    return { ok: true, dsn: '2.0.0', why: '', warnings };
  } finally {
    if (fd >= 0) closeSync(fd);
    if (locked) {
      try {
        unlinkSync(lock);
      } catch {
        /* nothing to undo */
      }
    }
  }
}
