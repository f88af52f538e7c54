/**
 * The built-in SASL backend: a Dovecot passwd-file ("user@domain:{SCHEME}hash:…"), so an
 * existing Dovecot users file works unchanged. Re-read when it changes. Hashes are checked
 * on a worker thread; an unknown user costs the same as a wrong password (a dummy hash of
 * the same kind is checked), so timing does not reveal which users exist.
 */

import { Worker } from 'node:worker_threads';
import { TextSource } from '../tables/text-source.js';
import type { AuthBackend, AuthResult } from './types.js';
import type { WorkerReply } from './password-worker.js';

interface Entry {
  readonly user: string;
  readonly stored: string;
}

export function parsePasswdFile(lines: { text: string; line: number }[], file: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const { text, line } of lines) {
    const colon = text.indexOf(':');
    if (colon <= 0) throw new Error(`${file}:${line}: expected "user:{SCHEME}password"`);
    const user = text.slice(0, colon);
    // The password field ends at the next ':' that is not part of the hash itself; Dovecot hashes contain no ':'.
    const rest = text.slice(colon + 1);
    const stored = rest.split(':')[0] ?? '';
    out.set(user.toLowerCase(), { user, stored });
  }
  return out;
}

/** A thread that verifies and makes hashes (password-worker.ts). */
export class PasswordWorker {
  private readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<number, (r: WorkerReply) => void>();

  constructor() {
    this.worker = new Worker(new URL('./password-worker.js', import.meta.url));
    this.worker.on('message', (r: WorkerReply) => {
      this.pending.get(r.id)?.(r);
      this.pending.delete(r.id);
    });
    this.worker.on('error', (err) => {
      for (const [id, cb] of this.pending) {
        this.pending.delete(id);
        cb({ id, ok: false, error: err.message });
      }
    });
    this.worker.unref();
  }

  private call(req: { op: 'verify'; password: string; stored: string } | { op: 'hash'; password: string }): Promise<WorkerReply> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ id, ...req });
    });
  }

  verify(password: string, stored: string): Promise<WorkerReply> {
    return this.call({ op: 'verify', password, stored });
  }

  async hash(password: string): Promise<string> {
    const r = await this.call({ op: 'hash', password });
    if (!r.ok || !r.hash) throw new Error(r.error ?? 'hashing failed');
    return r.hash;
  }

  close(): void {
    void this.worker.terminate();
  }
}

// Checked for unknown users so they cost as much as known ones (argon2id of a random string).
const DUMMY: Record<string, string> = {
  ARGON2ID: '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$3QoISU6KAmc+hqhNQn7XlQ$q+voVZszxQR1gbFh8L5lCfeMKDmLCESdX/LAf170m2M',
  'BLF-CRYPT': '{BLF-CRYPT}$2y$05$mIOZ43Pog0yOKl3Utwfunu5I48V.i4nBBBRVIvKKLwjSkw4hNp8cu',
  'SHA512-CRYPT': '{SHA512-CRYPT}$6$1vJluNaew.Oi2JFj$wYg1ipoksKqQVyGfGM1z8KwNm4CuaNvkfhje69j.4SAHt5GGnZ71bNbGpoF3PXWRO/TMWy8Rg2lAPklx8yKzW.',
};

export function createPasswdFileBackend(file: string, opts: { localDomain?: string } = {}): AuthBackend {
  const source = new TextSource(file, parsePasswdFile);
  const worker = new PasswordWorker();
  return {
    async verify(userIn, password): Promise<AuthResult> {
      const user = opts.localDomain && !userIn.includes('@') ? `${userIn}@${opts.localDomain}` : userIn;
      let entries: Map<string, Entry>;
      try {
        entries = source.get();
      } catch (err) {
        return { kind: 'tempfail', reason: (err as Error).message };
      }
      const entry = entries.get(user.toLowerCase());
      const firstScheme = /^\{([^}]+)\}/.exec([...entries.values()][0]?.stored ?? '')?.[1]?.toUpperCase() ?? 'ARGON2ID';
      const stored = entry?.stored ?? DUMMY[firstScheme] ?? DUMMY.ARGON2ID!;
      const r = await worker.verify(password, stored);
      if (r.error && entry) return { kind: 'tempfail', reason: r.error };
      if (!entry) return { kind: 'fail', reason: 'authentication failure' };
      return r.ok ? { kind: 'ok', user: entry.user } : { kind: 'fail', reason: 'authentication failure' };
    },
    close: () => worker.close(),
  };
}
