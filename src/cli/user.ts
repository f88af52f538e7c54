/**
 * `postern user add|passwd|remove|list [--file FILE] [user]`: the built-in SASL users, in
 * Dovecot's passwd-file format ("user@domain:{ARGON2ID}…"). Passwords are read from the
 * terminal (not echoed) or from standard input — never from the command line, where other
 * users could see them. The file is replaced atomically (write, fsync, rename).
 */

import { readFileSync, existsSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig } from '../config/load.js';
import { hashPassword } from '../auth/password-worker.js';

async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const rlAny = rl as unknown as { _writeToOutput: (s: string) => void };
  let muted = false;
  rlAny._writeToOutput = (s: string): void => {
    if (!muted) process.stdout.write(s);
  };
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  const d = openSync(dirname(file), 'r');
  fsyncSync(d);
  closeSync(d);
}

export async function runUserCommand(dir: string, args: string[]): Promise<number> {
  const sub = args[0];
  let file: string | undefined;
  const rest: string[] = [];
  for (let i = 1; i < args.length; i++) {
    if (args[i] === '--file') file = args[++i];
    else rest.push(args[i]!);
  }
  if (!file) {
    const cfg = existsSync(`${dir}/main.cf`) ? loadConfig(dir) : undefined;
    file = cfg?.main.str('smtpd_sasl_path');
    if (!file || !file.startsWith('/')) file = cfg?.main.str('smtpd_sasl_type') === 'passwd-file' && file ? `${dir}/${file}` : '/etc/postern/sasl-passwd';
  }
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '') : [];
  const find = (user: string): number => lines.findIndex((l) => l.split(':')[0]?.toLowerCase() === user.toLowerCase());
  const user = rest[0];
  switch (sub) {
    case 'list':
      for (const l of lines) if (!l.startsWith('#')) process.stdout.write(`${l.split(':')[0]}\n`);
      return 0;
    case 'add':
    case 'passwd': {
      if (!user || !/^[^\s:]+$/.test(user)) {
        process.stderr.write(`postern: user ${sub}: give a user name (no spaces or ":")\n`);
        return 2;
      }
      const i = find(user);
      if (sub === 'add' && i >= 0) {
        process.stderr.write(`postern: user ${user} already exists in ${file} (use "postern user passwd")\n`);
        return 1;
      }
      if (sub === 'passwd' && i < 0) {
        process.stderr.write(`postern: no user ${user} in ${file}\n`);
        return 1;
      }
      const pw = await readPassword(`Password for ${user}: `);
      if (pw.length < 8) {
        process.stderr.write('postern: the password must have at least 8 characters\n');
        return 1;
      }
      const entry = `${user}:${await hashPassword(pw)}`;
      if (i >= 0) lines[i] = entry + lines[i]!.slice(lines[i]!.indexOf(':', lines[i]!.indexOf(':') + 1) >= 0 ? lines[i]!.indexOf(':', lines[i]!.indexOf(':') + 1) : lines[i]!.length);
      else lines.push(entry);
      writeAtomic(file, lines.join('\n') + '\n');
      process.stdout.write(`postern: ${sub === 'add' ? 'added' : 'changed the password of'} ${user} in ${file}\n`);
      return 0;
    }
    case 'remove': {
      const i = user ? find(user) : -1;
      if (i < 0) {
        process.stderr.write(`postern: no user ${user ?? ''} in ${file}\n`);
        return 1;
      }
      lines.splice(i, 1);
      writeAtomic(file, lines.join('\n') + (lines.length ? '\n' : ''));
      process.stdout.write(`postern: removed ${user} from ${file}\n`);
      return 0;
    }
    default:
      process.stderr.write('usage: postern [-c dir] user add|passwd|remove|list [--file FILE] [user]\n');
      return 2;
  }
}
