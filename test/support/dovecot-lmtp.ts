/**
 * A real Dovecot LMTP server (Debian's dovecot-core + dovecot-lmtpd) for the LMTP client's
 * tests: its own configuration in a temporary directory, only the lmtp protocol, a UNIX
 * listener in that directory, a passwd-file user database and Maildirs under the
 * directory (mail_location = maildir:…). Started in the foreground in its own process
 * group and stopped by PID (the group), like test/support/dovecot.ts; start() again after
 * stop() brings it back on the same socket.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { program } from './packages.js';
import { canConnect } from './ports.js';


export interface DovecotLmtp {
  readonly socket: string;
  /** Messages in user@domain's INBOX (new/ and cur/), full paths. */
  delivered(address: string): string[];
  log(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** `users`: full addresses ("alice@lmtp.test") that have a mailbox. */
export async function startDovecotLmtp(dir: string, users: string[]): Promise<DovecotLmtp> {
  const mail = join(dir, 'mail');
  for (const d of ['run', 'state', 'mail']) mkdirSync(join(dir, d), { recursive: true });
  // Deliveries run as nobody, who must reach the Maildirs (the parents' modes are the caller's job).
  chmodSync(dir, 0o755);
  const nobody = 65534;
  chownSync(mail, nobody, nobody);
  writeFileSync(join(dir, 'users'), users.map((u) => `${u}::${nobody}:${nobody}::${join(mail, u)}::\n`).join(''));
  const socket = join(dir, 'lmtp');
  writeFileSync(join(dir, 'dovecot.conf'), `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
instance_name = postern-lmtp-${process.pid}-${Date.now()}
protocols = lmtp
ssl = no
default_internal_user = root
default_login_user = root
first_valid_uid = 1
mail_location = maildir:~/Maildir
postmaster_address = postmaster@${users[0]?.split('@')[1] ?? 'localhost'}
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = passwd-file
  args = ${dir}/users
}
service lmtp {
  unix_listener ${socket} {
    mode = 0666
  }
}
`);
  let proc: ChildProcess | undefined;
  const inbox = (address: string): string[] => {
    const out: string[] = [];
    for (const sub of ['new', 'cur']) {
      const d = join(mail, address, 'Maildir', sub);
      if (existsSync(d)) for (const f of readdirSync(d)) out.push(join(d, f));
    }
    return out.sort();
  };
  const self: DovecotLmtp = {
    socket,
    delivered: inbox,
    log: () => (existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8') : ''),
    async start() {
      // Own process group: stop() takes the lmtp children down with the master.
      proc = spawn(program('dovecot'), ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: 'ignore', detached: true });
      const deadline = Date.now() + 10_000;
      while (!(await canConnect(socket))) {
        if (proc.exitCode !== null) throw new Error(`dovecot exited with ${proc.exitCode}; log:\n${self.log()}`);
        if (Date.now() > deadline) throw new Error(`dovecot did not open its LMTP socket; log:\n${self.log()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (!proc || proc.exitCode !== null) return;
      const p = proc;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        p.kill('SIGKILL');
      }
      await exited;
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (await canConnect(socket))) await new Promise((r) => setTimeout(r, 50));
    },
  };
  await self.start();
  return self;
}
