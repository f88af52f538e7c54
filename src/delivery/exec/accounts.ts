/**
 * getpwnam(3)/getgrnam(3) for delivery agents that run commands as another user (pipe's
 * user=, local's default_privs). Node has neither, so this reads /etc/passwd and
 * /etc/group (XXX: accounts that only NSS modules such as LDAP or sssd know are not seen;
 * unix:passwd.byname has the same limit). The files are the system's: trusted, but
 * malformed lines are skipped. A numeric user ("65534") is looked up by uid; a numeric
 * group is taken as the gid.
 */

import { readFileSync } from 'node:fs';

export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

export interface AccountFiles {
  readonly passwd?: string;
  readonly group?: string;
}

function lines(file: string): string[][] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

/** The passwd entry for a name (or a numeric uid), undefined when there is none. */
export function getpwnam(name: string, files: AccountFiles = {}): Account | undefined {
  const byId = /^\d+$/.test(name);
  for (const f of lines(files.passwd ?? '/etc/passwd')) {
    if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    if (byId ? f[2] === String(Number(name)) : f[0] === name) {
      return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '', shell: f[6] ?? '' };
    }
  }
  return undefined;
}

/** The gid of a group name (or a numeric gid), undefined when there is none. */
export function getgrnam(name: string, files: AccountFiles = {}): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  for (const f of lines(files.group ?? '/etc/group')) {
    if (f[0] === name && /^\d+$/.test(f[2] ?? '')) return Number(f[2]);
  }
  return undefined;
}
