/**
 * A real Dovecot (Debian's dovecot-core) for SASL tests: its own configuration in a
 * temporary directory, no mail protocols, only the auth service with a UNIX socket and a
 * passwd-file user database. Stopped by PID.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { program } from './packages.js';
import { canConnect } from './ports.js';


export interface Dovecot {
  readonly socket: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startDovecot(dir: string, users: string): Promise<Dovecot> {
  mkdirSync(join(dir, 'run'), { recursive: true });
  mkdirSync(join(dir, 'state'), { recursive: true });
  writeFileSync(join(dir, 'users'), users);
  const socket = join(dir, 'auth');
  writeFileSync(join(dir, 'dovecot.conf'), `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
instance_name = postern-test-${process.pid}
protocols =
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
default_internal_user = root
default_login_user = root
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=${dir}
}
service auth {
  unix_listener ${socket} {
    mode = 0666
  }
}
`);
  let proc: ChildProcess | undefined;
  const self: Dovecot = {
    socket,
    async start() {
      // Own process group: stop() takes the auth child down with the master (it would keep serving open connections).
      proc = spawn(program('dovecot'), ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: 'ignore', detached: true });
      const deadline = Date.now() + 10_000;
      while (!existsSync(socket)) {
        if (proc.exitCode !== null) throw new Error(`dovecot exited with ${proc.exitCode}`);
        if (Date.now() > deadline) throw new Error('dovecot did not create its auth socket');
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
      // The auth child can outlive the master for a moment: wait until the socket refuses.
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (await canConnect(socket))) await new Promise((r) => setTimeout(r, 50));
    },
  };
  await self.start();
  return self;
}
