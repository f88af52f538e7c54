/**
 * The `postern` command line: `postern [-c DIR] COMMAND`, in the spirit of postfix(1),
 * postqueue(1) and postconf(1). Each command is a small async function returning an exit
 * code; the daemon itself lives in main.ts.
 */

import { parseArgs } from 'node:util';
import { readFileSync, existsSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const USAGE = `usage: postern [-c config_dir] command

commands:
  start-fg        run in the foreground (SIGTERM stops, SIGHUP reloads)
  start           start in the background (pid file in data_directory)
  stop            stop a background or foreground instance (SIGTERM)
  reload          reload the configuration (SIGHUP)
  status          say whether Postern is running
  check           validate main.cf and master.cf (exit 1 on errors)
  check --dns     test every configured DNS list live with its test entries
  queue [list]    list the queue like mailq
  queue flush [ID…] | hold ID…|ALL | release ID…|ALL | delete ID…|ALL|deferred
        | requeue ID…|ALL | show ID
                  change the queue of the running server (postqueue/postsuper/postcat)
  sendmail [-t] [-i] [-f sender] [-F name] [-bs] [--] [rcpt…]
                  submit a message from stdin, like sendmail(1) (also bin/sendmail.js)
  user add|passwd|remove|list [--file F] [name]
                  manage built-in SASL users (Dovecot passwd-file format)
  bans [status] | ban ADDR [--time T] | unban ADDR
                  the built-in auto-ban: status like fail2ban-client, ban and unban at once
  greylist [clear]
                  built-in greylisting: triplets pending and passed, auto-whitelisted clients
  dkim keygen DOMAIN [--selector S] [--type rsa|ed25519] [--key-dir DIR]
                  make a DKIM signing key; prints the DNS record to publish
  version         print the version
`;

const DEFAULT_CONFIG_DIR = '/etc/postern';

/**
 * `postern [-c DIR] sendmail …`: sendmail's own options (-t, -i, -oi, -f …) are not ours,
 * so its arguments are handed over unparsed; undefined when the command is another one.
 */
function sendmailCommand(argv: string[]): { config?: string; rest: string[] } | undefined {
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-c' || a === '--config') && i + 1 < argv.length) config = argv[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (a.startsWith('-c') && a.length > 2) config = a.slice(2);
    else if (a === '-v' || a === '--verbose') continue;
    else return a === 'sendmail' ? { config, rest: argv.slice(i + 1) } : undefined;
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  const sendmail = sendmailCommand(argv);
  if (sendmail) {
    const { runSendmail } = await import('./sendmail.js');
    return runSendmail(resolve(sendmail.config ?? process.env.POSTERN_CONFIG_DIR ?? DEFAULT_CONFIG_DIR), sendmail.rest);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, file: { type: 'string' }, time: { type: 'string' }, dns: { type: 'boolean' }, selector: { type: 'string' }, type: { type: 'string' }, 'key-dir': { type: 'string' }, verbose: { type: 'boolean', short: 'v' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (err) {
    process.stderr.write(`postern: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  const dir = resolve(values.config ?? process.env.POSTERN_CONFIG_DIR ?? DEFAULT_CONFIG_DIR);
  switch (command) {
    case 'start-fg': {
      const { runForeground } = await import('../main.js');
      return runForeground(dir, { verbose: values.verbose ?? false });
    }
    case 'start':
      return startBackground(dir);
    case 'stop':
      return signalRunning(dir, 'SIGTERM', 'stopping');
    case 'reload':
      return signalRunning(dir, 'SIGHUP', 'reloading');
    case 'status':
      return status(dir);
    case 'check': {
      if (values.dns) {
        const { runCheckDns } = await import('./check-dns.js');
        return runCheckDns(dir, (line) => process.stdout.write(line + '\n'));
      }
      const { runCheck } = await import('../config/check.js');
      return runCheck(dir, (line) => process.stdout.write(line + '\n'));
    }
    case 'queue': {
      const { runQueueCommand } = await import('./queue.js');
      return runQueueCommand(dir, positionals.slice(1));
    }
    case 'user': {
      const { runUserCommand } = await import('./user.js');
      return runUserCommand(dir, positionals.slice(1).concat(values.file ? ['--file', values.file] : []));
    }
    case 'bans': {
      const { runBansCommand } = await import('./bans.js');
      return runBansCommand(dir, positionals.slice(1), { ...(values.time !== undefined ? { time: values.time } : {}) });
    }
    case 'greylist': {
      const { runGreylistCommand } = await import('./greylist.js');
      return runGreylistCommand(dir, positionals.slice(1));
    }
    case 'dkim': {
      const { runDkimCommand } = await import('./dkim.js');
      return runDkimCommand(dir, positionals.slice(1), { selector: values.selector, type: values.type, keyDir: values['key-dir'] });
    }
    case 'version':
      process.stdout.write(`postern ${packageVersion()}\n`);
      return 0;
    default:
      process.stderr.write(`postern: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

let version: string | undefined;

/** Read once (the daemon reads it before dropping privileges); later calls, e.g. every policy request, use the copy. */
export function packageVersion(): string {
  if (version === undefined) {
    const pkg = fileURLToPath(new URL('../../package.json', import.meta.url));
    version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  }
  return version;
}

/** Where the pid file of the instance using this config directory lives. */
export async function pidFilePath(dir: string): Promise<string> {
  const { loadConfig } = await import('../config/load.js');
  const cfg = loadConfig(dir);
  const dataDir = cfg.main.str('data_directory');
  return join(dataDir, 'postern.pid');
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function startBackground(dir: string): Promise<number> {
  const pidFile = await pidFilePath(dir);
  const running = readPid(pidFile);
  if (running) {
    process.stderr.write(`postern: already running (pid ${running})\n`);
    return 1;
  }
  const bin = fileURLToPath(new URL('../../bin/postern.js', import.meta.url));
  const child = spawn(process.execPath, [bin, '-c', dir, 'start-fg'], { detached: true, stdio: 'ignore' });
  child.unref();
  process.stdout.write(`postern: started (pid ${child.pid})\n`);
  return 0;
}

async function signalRunning(dir: string, signal: NodeJS.Signals, verb: string): Promise<number> {
  const pid = readPid(await pidFilePath(dir));
  if (!pid) {
    process.stderr.write('postern: not running\n');
    return 1;
  }
  process.kill(pid, signal);
  process.stdout.write(`postern: ${verb} (pid ${pid})\n`);
  return 0;
}

async function status(dir: string): Promise<number> {
  const pid = readPid(await pidFilePath(dir));
  process.stdout.write(pid ? `postern: running (pid ${pid})\n` : 'postern: not running\n');
  return pid ? 0 : 1;
}

/** Write our pid file (start-fg); removed again on clean exit. */
export function writePidFile(file: string): () => void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${process.pid}\n`);
  return () => {
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  };
}
