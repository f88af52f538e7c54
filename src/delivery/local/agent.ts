/**
 * local(8) deliveries of alias entries to commands ("|command") and files ("/path/mbox"):
 * the resolver has already applied allow_mail_to_commands / allow_mail_to_files and
 * chosen the rights (default_privs for alias files; a target never runs as root — uid 0
 * means "use default_privs", as in Postfix).
 *
 * Commands run as `/bin/sh -c command` with the message on standard input in the form
 * local(8) gives it — "From sender  date" line, Return-Path, X-Original-To, Delivered-To —
 * the environment local(8) sets (HOME, LOGNAME, USER, SENDER, RECIPIENT, LOCAL, DOMAIN,
 * EXTENSION, ORIGINAL_RECIPIENT, ENVID, CLIENT_*; values outside command_expansion_filter
 * become "_"), and command_time_limit; exit statuses map as in pipe(8).
 * Files get the mbox form (From_ line, ">From " quoting, a blank line after the message)
 * appended by a child process running with the target's rights (mbox.ts).
 * Texts are Postfix's: "delivered to command: …", "delivered to file: …",
 * "cannot append message to file …: …". Never throws for one target's failure.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DeliveryAgent, DeliveryOutcome } from '../types.js';
import type { QueuedMessage } from '../../queue/types.js';
import type { DeliveryTarget } from '../../resolve/types.js';
import type { Params } from '../../config/types.js';
import type { MailLog } from '../../log/maillog.js';
import { programName } from '../../log/maillog.js';
import { hasDeliveredTo } from '../maildir/agent.js';
import { mailCopy } from '../exec/mail-copy.js';
import { runCommand } from '../exec/run-command.js';
import { commandStatus } from '../exec/command-status.js';
import { commandEnvironment } from '../exec/environment.js';
import { getpwnam, type AccountFiles } from '../exec/accounts.js';
import { splitExtension } from '../pipe/macros.js';
import type { MboxResult } from './mbox.js';

export interface LocalAgentDeps {
  params: Params;
  log?: MailLog;
  /** Test hooks: other passwd/group files; the uid Postern runs as. */
  accounts?: AccountFiles;
  uid?: number;
}

type CommandTarget = Extract<DeliveryTarget, { kind: 'command' }>;
type FileTarget = Extract<DeliveryTarget, { kind: 'file' }>;

const underTsx = import.meta.url.endsWith('.ts');
const workerPath = fileURLToPath(new URL(underTsx ? './mbox-worker.ts' : './mbox-worker.js', import.meta.url));

/** node [tsx loader] mbox-worker path limit */
function workerArgv(path: string, limit: number): string[] {
  const loader = underTsx ? ['--import', import.meta.resolve('tsx')] : [];
  return [process.execPath, ...loader, workerPath, path, String(limit)];
}

export function createLocalAgent(deps: LocalAgentDeps): DeliveryAgent {
  const { params } = deps;
  const myUid = deps.uid ?? process.getuid?.() ?? 0;
  const program = programName(params.str('syslog_name'), 'local');
  const relay = 'local';

  /** uid/gid to run as, or the reason delivery must wait. */
  function rights(target: CommandTarget | FileTarget): { uid?: number; gid?: number } | { defer: string } {
    let uid = target.uid;
    let gid = target.gid;
    if (!uid || !gid) {
      const name = params.str('default_privs');
      const pw = getpwnam(name, deps.accounts);
      if (!pw) {
        deps.log?.warning(program, `unknown default_privs user: ${name}`);
        return { defer: 'mail system configuration error' };
      }
      if (pw.uid === 0 || pw.gid === 0) {
        deps.log?.warning(program, `default_privs user ${name} has privileged user or group id 0`);
        return { defer: 'mail system configuration error' };
      }
      if (!uid) uid = pw.uid;
      if (!gid) gid = pw.gid;
    }
    if (myUid === 0) return { uid, gid };
    if (uid === myUid) return {}; // already that user
    return { defer: `cannot run as uid ${uid}: Postern is not running as root` };
  }

  /** local(8)'s environment for a command, censored by command_expansion_filter. */
  function environment(msg: QueuedMessage, t: CommandTarget): Record<string, string> {
    const at = t.recipient.lastIndexOf('@');
    const local = (at < 0 ? t.recipient : t.recipient.slice(0, at)).toLowerCase();
    const domain = at < 0 ? '' : t.recipient.slice(at + 1);
    const { user, extension } = splitExtension(local, params.str('recipient_delimiter'));
    const client = /^(.*)\[([^\]]*)\]/.exec(msg.client);
    const vars: [string, string | undefined][] = [
      ['HOME', t.home], ['LOGNAME', user], ['USER', user], ['SENDER', msg.sender], ['RECIPIENT', t.recipient], ['LOCAL', local],
      ['DOMAIN', domain || undefined], ['EXTENSION', extension || undefined], ['ORIGINAL_RECIPIENT', t.originalRecipient || undefined],
      ['ENVID', msg.envid || undefined], ['CLIENT_HOSTNAME', client?.[1] || undefined], ['CLIENT_ADDRESS', client?.[2] || undefined],
    ];
    const allowed = new Set(params.str('command_expansion_filter'));
    const extra: Record<string, string> = {};
    for (const [k, v] of vars) if (v !== undefined) extra[k] = [...v].map((c) => (allowed.has(c) ? c : '_')).join('');
    return commandEnvironment(params, extra);
  }

  function cwd(): string {
    const q = params.str('queue_directory');
    return existsSync(q) ? q : '/';
  }

  async function deliverCommand(msg: QueuedMessage, t: CommandTarget): Promise<DeliveryOutcome> {
    const who = rights(t);
    if ('defer' in who) return { target: t, status: 'deferred', dsn: '4.3.5', text: who.defer, relay };
    const input = mailCopy(msg.data, { sender: msg.sender, originalRecipient: t.originalRecipient, recipient: t.recipient }, { from: true, returnPath: true, origRcpt: true, delivered: true });
    const result = await runCommand({ shellCommand: t.command, ...who, env: environment(msg, t), cwd: cwd(), input, timeLimitMs: params.timeMs('command_time_limit') });
    const st = commandStatus(result, t.command, 'local');
    if (st.status === 'sent') return { target: t, status: 'sent', dsn: '2.0.0', text: `delivered to command: ${t.command}`, relay };
    return { target: t, status: st.status, dsn: st.dsn, text: st.text, relay };
  }

  async function deliverFile(msg: QueuedMessage, t: FileTarget): Promise<DeliveryOutcome> {
    const who = rights(t);
    if ('defer' in who) return { target: t, status: 'deferred', dsn: '4.3.5', text: who.defer, relay };
    const input = mailCopy(msg.data, { sender: msg.sender, originalRecipient: t.originalRecipient, recipient: t.recipient },
      { from: true, quoteFrom: true, returnPath: true, origRcpt: true, delivered: true, blank: true });
    const result = await runCommand({
      argv: workerArgv(t.path, params.int('mailbox_size_limit')), ...who, env: { PATH: '/usr/bin:/bin' }, cwd: '/', input, timeLimitMs: params.timeMs('command_time_limit'),
    });
    let r: MboxResult | undefined;
    try {
      r = result.kind === 'exit' && result.code === 0 ? (JSON.parse(result.output) as MboxResult) : undefined;
    } catch {
      r = undefined;
    }
    if (!r) {
      const st = commandStatus(result, 'mbox writer', 'local');
      return { target: t, status: 'deferred', dsn: '4.3.0', text: `cannot append message to file ${t.path}: ${st.text || 'mbox writer failed'}`, relay };
    }
    for (const w of r.warnings) deps.log?.warning(program, `${msg.id}: ${w}`);
    if (r.ok) return { target: t, status: 'sent', dsn: '2.0.0', text: `delivered to file: ${t.path}`, relay };
    return { target: t, status: r.dsn.startsWith('4') ? 'deferred' : 'bounced', dsn: r.dsn, text: `cannot append message to file ${t.path}: ${r.why}`, relay };
  }

  return {
    name: 'local',
    async deliver(msg: QueuedMessage, targets: readonly DeliveryTarget[]): Promise<DeliveryOutcome[]> {
      const out: DeliveryOutcome[] = [];
      // One at a time: each is a process; the scheduler bounds concurrency across messages.
      for (const target of targets) {
        if (target.kind !== 'command' && target.kind !== 'file') {
          out.push({ target, status: 'deferred', dsn: '4.3.5', text: `not a command or file target: ${target.kind}`, relay });
          continue;
        }
        if (hasDeliveredTo(msg.data, target.recipient)) {
          out.push({ target, status: 'bounced', dsn: '5.4.6', text: `mail forwarding loop for ${target.recipient}`, relay });
          continue;
        }
        try {
          out.push(target.kind === 'command' ? await deliverCommand(msg, target) : await deliverFile(msg, target));
        } catch (err) {
          out.push({ target, status: 'deferred', dsn: '4.3.0', text: `local delivery failed: ${(err as Error).message}`, relay });
        }
      }
      return out;
    },
  };
}
