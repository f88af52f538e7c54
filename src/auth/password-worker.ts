/**
 * Password verification off the event loop: Dovecot password schemes as found in a
 * passwd-file, checked in this worker thread so a slow hash (argon2, bcrypt) never stalls
 * SMTP sessions. Schemes: ARGON2ID/ARGON2I, BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT,
 * SSHA512, SSHA256, SHA512, SHA256, PLAIN/CLEARTEXT (tests). Libraries: @node-rs/argon2,
 * bcryptjs, unixcrypt (see research/dependencies.md §8).
 */

import { parentPort } from 'node:worker_threads';
import { createHash, timingSafeEqual } from 'node:crypto';
import { verify as argon2Verify, hash as argon2Hash } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { verify as cryptVerify } from 'unixcrypt';

export interface VerifyRequest { id: number; op: 'verify'; password: string; stored: string }
export interface HashRequest { id: number; op: 'hash'; password: string }
export type WorkerReply = { id: number; ok: boolean; error?: string; hash?: string };

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function saltedDigest(algo: 'sha512' | 'sha256', stored: string, password: string): boolean {
  const raw = Buffer.from(stored, 'base64');
  const len = algo === 'sha512' ? 64 : 32;
  if (raw.length <= len) return false;
  const digest = raw.subarray(0, len);
  const salt = raw.subarray(len);
  return safeEqual(createHash(algo).update(password).update(salt).digest(), digest);
}

/** Verify `password` against a Dovecot-style "{SCHEME}value" (no prefix: CRYPT-style guess). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^\{([A-Z0-9.-]+)\}(.*)$/is.exec(stored);
  const scheme = (m?.[1] ?? (stored.startsWith('$') ? 'CRYPT' : 'PLAIN')).toUpperCase();
  const value = m ? m[2]! : stored;
  switch (scheme) {
    case 'PLAIN':
    case 'CLEARTEXT':
      return safeEqual(Buffer.from(password), Buffer.from(value));
    case 'ARGON2ID':
    case 'ARGON2I':
      return argon2Verify(value, password);
    case 'BLF-CRYPT':
    case 'BCRYPT':
      return bcrypt.compare(password, value.replace(/^\$2y\$/, '$2b$'));
    case 'SHA512-CRYPT':
    case 'SHA256-CRYPT':
    case 'CRYPT':
    case 'MD5-CRYPT':
      if (value.startsWith('$2')) return bcrypt.compare(password, value.replace(/^\$2y\$/, '$2b$'));
      if (value.startsWith('$argon2')) return argon2Verify(value, password);
      return cryptVerify(password, value);
    case 'SSHA512':
      return saltedDigest('sha512', value, password);
    case 'SSHA256':
      return saltedDigest('sha256', value, password);
    case 'SHA512':
      return safeEqual(createHash('sha512').update(password).digest(), Buffer.from(value, 'base64'));
    case 'SHA256':
      return safeEqual(createHash('sha256').update(password).digest(), Buffer.from(value, 'base64'));
    default:
      throw new Error(`password scheme {${scheme}} is not supported`);
  }
}

/** A new argon2id hash in Dovecot's format (what `doveadm pw -s ARGON2ID` writes). */
export async function hashPassword(password: string): Promise<string> {
  return `{ARGON2ID}${await argon2Hash(password, { algorithm: 2, memoryCost: 65536, timeCost: 3, parallelism: 1 })}`;
}

parentPort?.on('message', (req: VerifyRequest | HashRequest) => {
  const done = (r: WorkerReply): void => parentPort!.postMessage(r);
  if (req.op === 'hash') {
    hashPassword(req.password).then((hash) => done({ id: req.id, ok: true, hash }), (e: Error) => done({ id: req.id, ok: false, error: e.message }));
    return;
  }
  verifyPassword(req.password, req.stored).then((ok) => done({ id: req.id, ok }), (e: Error) => done({ id: req.id, ok: false, error: e.message }));
});
