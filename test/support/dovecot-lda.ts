/**
 * A real Dovecot (Debian's dovecot-core) for dovecot-lda tests: a private configuration in
 * a temporary directory with a passwd-file user database and Maildirs under the directory,
 * owned by `nobody` (the account the tests' pipe services run as). dovecot-lda looks users
 * up through the auth service's auth-userdb socket, so the Dovecot master runs (no mail
 * protocols); the LDA reads the same file with `-c`. Stopped by PID (process group).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, chmodSync, chownSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { program } from './packages.js';

export const NOBODY = { user: 'nobody', uid: 65534, gid: 65534 };

export interface DovecotLda {
  /** The dovecot.conf to give dovecot-lda with -c. */
  readonly config: string;
  /** Files in a user's Maildir/new ("alice@example.test"), contents as latin1 strings. */
  newMail(address: string): string[];
  stop(): Promise<void>;
}

/** `users`: addresses that exist ("alice@example.test"). */
export async function startDovecotLda(dir: string, users: readonly string[]): Promise<DovecotLda> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // the LDA runs as nobody and must reach the config and the mail tree
  for (const d of ['run', 'state']) mkdirSync(join(dir, d), { recursive: true });
  const mail = join(dir, 'mail');
  mkdirSync(mail, { recursive: true });
  chownSync(mail, NOBODY.uid, NOBODY.gid);
  writeFileSync(join(dir, 'users'), users.map((u) => `${u}:{PLAIN}unused::::\n`).join(''));
  const log = join(dir, 'dovecot.log');
  writeFileSync(log, '');
  chmodSync(log, 0o666); // the LDA logs there as nobody; nothing reaches the command's output
  const config = join(dir, 'dovecot.conf');
  writeFileSync(config, `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${log}
instance_name = postern-lda-${process.pid}-${Date.now()}
protocols =
ssl = no
default_internal_user = root
default_login_user = root
auth_mechanisms = plain
mail_location = maildir:${mail}/%d/%n/Maildir
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = passwd-file
  args = ${dir}/users
  default_fields = uid=${NOBODY.uid} gid=${NOBODY.gid} home=${mail}/%d/%n
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`);
  // Own process group: stop() takes the auth child down with the master.
  const proc: ChildProcess = spawn(program('dovecot'), ['-F', '-c', config], { stdio: 'ignore', detached: true });
  const socket = join(dir, 'run', 'auth-userdb');
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (proc.exitCode !== null) throw new Error(`dovecot exited with ${proc.exitCode}: ${readFileSync(log, 'utf8')}`);
    if (Date.now() > deadline) throw new Error('dovecot did not create its auth-userdb socket');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    config,
    newMail(address: string): string[] {
      const [local, domain] = address.split('@');
      const d = join(mail, domain!, local!, 'Maildir', 'new');
      if (!existsSync(d)) return [];
      return readdirSync(d).sort().map((f) => readFileSync(join(d, f), 'latin1'));
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        proc.kill('SIGKILL');
      }
      await exited;
    },
  };
}
