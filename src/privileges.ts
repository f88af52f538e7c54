/**
 * Dropping root after the listeners are bound (ports below 1024 need root only to bind).
 * Postern switches to `mail_owner` when it was started as root and the admin set
 * mail_owner explicitly: the queue, data directory and mail log are handed to that user
 * first. What still needs root afterwards: delivery into local users' home Maildirs with
 * their own ownership — with privileges dropped those deliveries are deferred (never lost),
 * so an MX with local UNIX users keeps running as root until Postern has a privileged
 * delivery helper; virtual mailboxes owned by mail_owner work unprivileged.
 */

import { readFileSync, chownSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Params } from './config/types.js';

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const e of readdirSync(path)) chownTree(join(path, e), uid, gid);
}

/** Returns the user switched to, or undefined when nothing was done. Throws with a clear reason. */
export function dropPrivileges(main: Params): string | undefined {
  if (process.getuid?.() !== 0 || !main.isSet('mail_owner')) return undefined;
  const owner = main.str('mail_owner');
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[0] === owner);
  if (!line) throw new Error(`mail_owner ${owner} is not a user in /etc/passwd`);
  const [, , uidS, gidS] = line.split(':');
  const uid = Number(uidS);
  const gid = Number(gidS);
  if (uid === 0) throw new Error(`mail_owner ${owner} has uid 0; it must be an unprivileged account`);
  for (const name of ['queue_directory', 'data_directory'] as const) chownTree(main.str(name), uid, gid);
  const log = main.str('maillog_file');
  if (log && log !== '/dev/stdout' && existsSync(log)) chownSync(log, uid, gid);
  process.setgroups?.([gid]);
  process.setgid!(gid);
  process.setuid!(uid);
  return owner;
}
