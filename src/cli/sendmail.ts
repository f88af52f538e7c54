/**
 * `postern sendmail` — the sendmail(1) interface that cron, scripts and PHP's mail() use,
 * installable as /usr/sbin/sendmail (bin/sendmail.js). The message comes on stdin; it is
 * stored durably in the queue whether or not the server runs (cleanup/pickup.ts), and the
 * running daemon is woken to deliver it at once; a stopped one finds it when it starts.
 *
 * Exit status as sendmail's (sysexits.h): 0 queued; 64 EX_USAGE bad options or no
 * recipients; 65 EX_DATAERR a malformed address in the headers or -f, or a message over
 * message_size_limit; 67 EX_NOUSER a malformed recipient on the command line; 69
 * EX_UNAVAILABLE a mode Postern does not offer (-bd, -bi, -bv, -I); 75 EX_TEMPFAIL the queue
 * cannot be written (with the reason on stderr — most often a user who is neither root nor
 * the mail owner: the queue is 0700, and there is no setgid postdrop helper yet); 78
 * EX_CONFIG the configuration does not load.
 *
 * Trust: the invoking user is trusted to name any sender (-f), as with Postfix's sendmail
 * (authorized_submit_users defaults to everyone); addresses are checked for syntax only.
 */

import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import type { Params } from '../config/types.js';
import { splitMessage, fieldValue } from '../cleanup/headers.js';
import { submitLocal } from '../cleanup/pickup.js';
import type { SubmittedRecipient } from '../cleanup/types.js';
import { parseAddressList } from '../protocol/address-list.js';
import { splitAddress } from '../protocol/address.js';
import { parseSendmailArgs, SendmailUsageError, type SendmailArgs } from './sendmail-args.js';
import { openQueueForTool, openToolLog } from './tool-context.js';
import { wakeDaemon } from './daemon-wake.js';

export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_NOUSER = 67;
export const EX_UNAVAILABLE = 69;
export const EX_TEMPFAIL = 75;
export const EX_CONFIG = 78;

const USAGE = 'usage: postern sendmail [-t] [-i] [-oi] [-f sender] [-F fullname] [-r sender] [-N dsn] [-R ret] [-V envid] [-bm|-bs|-bp] [-q] [-C config_dir] [--] [recipient …]\n';

export class ExitError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** Reads all of stdin. */
async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * sendmail's input rules: LF or CRLF lines stored as CRLF; without -i a line holding only
 * "." ends the message (no dot-unstuffing: this is not SMTP); a leading mbox "From " line
 * is dropped, as Postfix's sendmail does.
 */
export function normaliseInput(input: Buffer, ignoreDots: boolean): Buffer {
  const lines = input.toString('latin1').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (!ignoreDots && line === '.') break;
    if (i === 0 && line.startsWith('From ')) continue;
    out.push(line);
  }
  return Buffer.from(out.map((l) => l + '\r\n').join(''), 'latin1');
}

/** user → user@$myorigin (append_at_myorigin); undefined when the address is unusable. */
export function qualify(address: string, params: Params): string | undefined {
  let a = address.trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1).trim();
  if (a === '' || /[\s<>()]/.test(a.replace(/"(?:[^"\\]|\\.)*"/g, '')) || /[\x00-\x1f\x7f]/.test(a)) return undefined;
  const { local, domain } = splitAddress(a);
  if (local === '') return undefined;
  if (a.includes('@')) return domain === '' ? undefined : a;
  return params.bool('append_at_myorigin') ? `${a}@${params.str('myorigin')}` : a;
}

function gecosName(uid: number): string | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
    const gecos = line?.split(':')[4]?.split(',')[0]?.trim();
    return gecos || undefined;
  } catch {
    return undefined;
  }
}

function loginName(uid: number): string {
  try {
    return userInfo().username;
  } catch {
    return `uid${uid}`;
  }
}

/** The recipients: command line, plus To/Cc/Bcc (or the Resent- ones when present) with -t. */
export function collectRecipients(args: SendmailArgs, data: Buffer, params: Params): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (addr: string, code: number, where: string): void => {
    const q = qualify(addr, params);
    if (!q) throw new ExitError(code, `${where}: bad address syntax: "${addr}"`);
    if (seen.has(q.toLowerCase())) return; // Postfix's duplicate filter
    seen.add(q.toLowerCase());
    out.push(q);
  };
  for (const arg of args.recipients) {
    const list = parseAddressList(arg);
    if (list.error) throw new ExitError(EX_NOUSER, `recipient "${arg}": ${list.error}`);
    for (const a of list.addresses) add(a, EX_NOUSER, 'recipient');
  }
  if (args.extractRecipients) {
    const fields = splitMessage(data).fields;
    const resent = fields.some((f) => /^resent-(to|cc|bcc)$/i.test(f.name));
    const wanted = resent ? /^resent-(to|cc|bcc)$/i : /^(to|cc|bcc)$/i;
    for (const f of fields.filter((x) => wanted.test(x.name))) {
      const list = parseAddressList(fieldValue(f));
      if (list.error) throw new ExitError(EX_DATAERR, `${f.name} header: ${list.error}`);
      for (const a of list.addresses) add(a, EX_DATAERR, `${f.name} header`);
    }
    if (out.length === 0) throw new ExitError(EX_USAGE, 'No recipient addresses found in message header');
  } else if (out.length === 0) {
    throw new ExitError(EX_USAGE, 'Recipient addresses must be specified on the command line or via the -t option');
  }
  return out;
}

export async function runSendmail(configDir: string, argv: string[]): Promise<number> {
  let args: SendmailArgs;
  try {
    args = parseSendmailArgs(argv);
  } catch (err) {
    if (!(err instanceof SendmailUsageError)) throw err;
    process.stderr.write(`postern sendmail: ${err.message}\n${USAGE}`);
    return EX_USAGE;
  }
  const dir = args.configDir ? resolve(args.configDir) : configDir;
  if (args.mode === 'list') {
    const { runQueueCommand } = await import('./queue.js');
    return runQueueCommand(dir, ['list']);
  }
  if (args.mode === 'flush') {
    const { runQueueAdmin } = await import('./queue-admin.js');
    return runQueueAdmin(dir, 'flush', []);
  }
  if (args.mode === 'unsupported') {
    process.stderr.write(`postern sendmail: ${args.unsupported} is not supported by Postern (aliases are read directly from alias_maps; no rebuild is needed)\n`);
    return EX_UNAVAILABLE;
  }
  let cfg: LoadedConfig;
  try {
    cfg = loadConfig(dir);
  } catch (err) {
    process.stderr.write(`postern sendmail: fatal: ${(err as Error).message}\n`);
    return EX_CONFIG;
  }
  const errors = cfg.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    for (const d of errors) process.stderr.write(`postern sendmail: ${d.file}:${d.line}: error: ${d.message}\n`);
    return EX_CONFIG;
  }
  if (args.mode === 'smtp') {
    const { runSendmailSmtp } = await import('./sendmail-smtp.js');
    return runSendmailSmtp(cfg, args);
  }
  const data = normaliseInput(await readStdin(), args.ignoreDots);
  try {
    await queueMessage(cfg, args, data);
    return 0;
  } catch (err) {
    if (err instanceof ExitError) {
      process.stderr.write(`postern sendmail: fatal: ${err.message}\n`);
      return err.code;
    }
    throw err;
  }
}

/**
 * Check the envelope, store the message, wake the daemon. Throws ExitError. `recipients`
 * given (SMTP mode) replaces the command line / -t extraction.
 */
export async function queueMessage(cfg: LoadedConfig, args: SendmailArgs, data: Buffer, recipients?: readonly string[]): Promise<string> {
  const params = cfg.main;
  const uid = process.getuid?.() ?? 0;
  const login = loginName(uid);
  const givenSender = args.sender ?? login;
  let sender: string;
  if (givenSender === '' || givenSender === '<>') sender = '';
  else {
    const q = qualify(givenSender, params);
    if (!q) throw new ExitError(EX_DATAERR, `sender: bad address syntax: "${givenSender}"`);
    sender = q;
  }
  const rcpts = recipients && recipients.length > 0 ? [...recipients] : collectRecipients(args, data, params);
  const limit = params.int('message_size_limit');
  if (limit > 0 && data.length > limit) throw new ExitError(EX_DATAERR, `message file too big (${data.length} bytes; message_size_limit is ${limit})`);

  let store;
  try {
    store = openQueueForTool(cfg);
  } catch (err) {
    throw new ExitError(EX_TEMPFAIL, (err as Error).message);
  }
  const log = openToolLog(cfg);
  let id: string;
  try {
    const subs: SubmittedRecipient[] = rcpts.map((address) => (args.notify ? { address, notify: args.notify } : { address }));
    id = await submitLocal({ store, log, params }, {
      uid, givenSender, sender, fullname: args.fullname ?? process.env.NAME ?? gecosName(uid),
      recipients: subs, data, envid: args.envid, ret: args.ret,
    });
  } catch (err) {
    throw new ExitError(EX_TEMPFAIL, `queue file write error: ${(err as Error).message}; the message was not queued`);
  } finally {
    store.close();
    log?.close();
  }
  wakeDaemon(params.str('data_directory'));
  return id;
}
