/**
 * The pipe(8) transport agent: delivers to an external command named by a master.cf
 * `pipe` service (seed 004: `dovecot unix - n n - - pipe flags=DRhu user=vmail:vmail
 * argv=/usr/lib/dovecot/deliver -f ${sender} -d ${recipient}`). The service's words are
 * parsed once per distinct service (attributes.ts), macros expanded per request
 * (macros.ts), the message copied as mail_copy() does (exec/mail-copy.ts) and the command
 * run as user= with <transport>_time_limit (exec/run-command.ts); its exit status becomes
 * one outcome per recipient (exec/command-status.ts) with relay=<service>.
 *
 * Recipients per command: <transport>_destination_recipient_limit (default
 * default_destination_recipient_limit). With 1 each recipient gets its own command (what
 * dovecot-lda needs); otherwise one command for the whole request, "${recipient}"
 * expanding into one argument per recipient — and flags D and O, which name one
 * recipient, defer with "mail system configuration error" as in Postfix.
 *
 * Never throws for a recipient's failure; a broken service definition defers every
 * recipient (4.3.5) and logs Postfix's warning, so mail waits for the admin's fix.
 */

import { existsSync } from 'node:fs';
import type { MailLog } from '../../log/maillog.js';
import { programName } from '../../log/maillog.js';
import { parseTimeMs } from '../../config/params.js';
import type { Params } from '../../config/types.js';
import type { QueuedMessage } from '../../queue/types.js';
import type { RoutedRecipient, TransportAgent, TransportOutcome, TransportRequest } from '../types.js';
import { hasDeliveredTo } from '../maildir/agent.js';
import { mailCopy } from '../exec/mail-copy.js';
import { quote822Local } from '../exec/quote-822.js';
import { runCommand } from '../exec/run-command.js';
import { commandStatus } from '../exec/command-status.js';
import { commandEnvironment } from '../exec/environment.js';
import { getpwnam, type AccountFiles } from '../exec/accounts.js';
import { parsePipeAttributes, PipeConfigError, type PipeAttributes } from './attributes.js';
import { expandArgv, MacroError } from './macros.js';

export interface PipeAgentDeps {
  log?: MailLog;
  /** Test hooks: other passwd/group files; the uid Postern runs as. */
  accounts?: AccountFiles;
  uid?: number;
}

type Outcome = Omit<TransportOutcome, 'recipient' | 'relay'>;

/** "name[addr]" or "name[addr]:port" → parts for ${client_hostname}/${client_address}. */
function splitClient(client: string): { name: string; addr: string; port: string } {
  const m = /^(.*)\[([^\]]*)\](?::(\d+))?$/.exec(client);
  return m ? { name: m[1]!, addr: m[2]!, port: m[3] ?? '' } : { name: client, addr: '', port: '' };
}

export function createPipeAgent(deps: PipeAgentDeps = {}): TransportAgent {
  const parsed = new Map<string, PipeAttributes | PipeConfigError>();
  const warned = new Set<string>();
  const myUid = deps.uid ?? process.getuid?.() ?? 0;

  function warn(params: Params, key: string, message: string): void {
    if (warned.has(key)) return; // once per problem, not once per message
    warned.add(key);
    deps.log?.warning(programName(params.str('syslog_name'), 'pipe'), message);
  }

  function attributes(req: TransportRequest): PipeAttributes | PipeConfigError {
    const key = `${req.transport}\0${req.args.join('\0')}`;
    let a = parsed.get(key);
    if (!a) {
      try {
        a = parsePipeAttributes(req.args, deps.accounts);
        const owner = req.params.isSet('mail_owner') ? getpwnam(req.params.str('mail_owner'), deps.accounts) : undefined;
        if (owner && owner.uid === a.uid) throw new PipeConfigError(`user= command-line attribute specifies mail system owner ${owner.name}`);
      } catch (err) {
        if (!(err instanceof PipeConfigError)) throw err;
        a = err;
      }
      parsed.set(key, a);
    }
    return a;
  }

  function recipientLimit(req: TransportRequest): number {
    const v = Number.parseInt(req.params.byTransport(req.transport, 'destination_recipient_limit', 'default_destination_recipient_limit'), 10);
    return Number.isFinite(v) && v >= 1 ? v : 1;
  }

  function timeLimitMs(req: TransportRequest): number {
    return parseTimeMs(req.params.byTransport(req.transport, 'time_limit', 'command_time_limit'), 's') ?? req.params.timeMs('command_time_limit');
  }

  /** One command for these recipients; one outcome shared by all of them. */
  async function deliverGroup(req: TransportRequest, a: PipeAttributes, rcpts: readonly RoutedRecipient[]): Promise<Outcome> {
    const msg: QueuedMessage = req.msg;
    const configError: Outcome = { status: 'deferred', dsn: '4.3.5', text: 'mail system configuration error' };
    if (a.flags.D && rcpts.length > 1) {
      warn(req.params, `${req.transport}:D`, `pipe flag \`D' requires ${req.transport}_destination_recipient_limit = 1`);
      return configError;
    }
    if (a.flags.O && rcpts.length > 1) {
      warn(req.params, `${req.transport}:O`, `pipe flag \`O' requires ${req.transport}_destination_recipient_limit = 1`);
      return configError;
    }
    if (a.sizeLimit && msg.data.length > a.sizeLimit) return { status: 'bounced', dsn: '5.2.3', text: 'message too large' };
    if (a.flags.D && hasDeliveredTo(msg.data, rcpts[0]!.recipient)) {
      return { status: 'bounced', dsn: '5.4.6', text: `mail forwarding loop for ${rcpts[0]!.recipient}` };
    }
    let uid: number | undefined = a.uid;
    let gid: number | undefined = a.gid;
    if (myUid !== 0) {
      if (a.uid !== myUid) {
        warn(req.params, `${req.transport}:uid`, `service ${req.transport}: cannot run the command as user=${a.user}: Postern is not running as root`);
        return { status: 'deferred', dsn: '4.3.0', text: `cannot run command as user ${a.user}: Postern is not running as root` };
      }
      uid = gid = undefined; // already that user
    }
    const sender = msg.sender || a.nullSender;
    const client = splitClient(msg.client);
    const message: Record<string, string> = {
      sender: sender && a.flags.q ? quote822Local(sender) : sender, // an empty null_sender stays empty
      nexthop: a.flags.h ? req.nexthop.toLowerCase() : req.nexthop,
      size: String(msg.data.length),
      queue_id: msg.id,
      envid: msg.envid ?? '',
      client_address: client.addr,
      client_hostname: client.name,
      client_port: client.port,
      client_protocol: '',
      client_helo: '',
      sasl_method: '',
      sasl_username: '',
      sasl_sender: '',
    };
    let argv: string[];
    try {
      argv = expandArgv(a.argv, { message, recipients: rcpts, delimiter: req.params.str('recipient_delimiter'), flags: a.flags });
    } catch (err) {
      if (!(err instanceof MacroError)) throw err;
      warn(req.params, `${req.transport}:macro`, `service ${req.transport}: ${err.message}`);
      return configError;
    }
    const input = mailCopy(msg.data, { sender, originalRecipient: rcpts[0]!.originalRecipient, recipient: rcpts[0]!.recipient }, {
      from: a.flags.F, returnPath: a.flags.R, origRcpt: a.flags.O, delivered: a.flags.D, quoteFrom: a.flags.quoteFrom, dot: a.flags.dot, blank: a.flags.B,
    }, a.eol);
    const queueDir = req.params.str('queue_directory');
    const result = await runCommand({
      argv, uid, gid, input,
      env: commandEnvironment(req.params),
      cwd: a.directory ?? (existsSync(queueDir) ? queueDir : '/'),
      timeLimitMs: timeLimitMs(req),
    });
    const st = commandStatus(result, argv[0]!, 'pipe');
    if (st.status !== 'sent') return { status: st.status, dsn: st.dsn, text: st.text, diagnostic: st.diagnostic };
    // Postfix keeps up to 100 characters of what a successful command said.
    const said = st.output.trim();
    return { status: 'sent', dsn: '2.0.0', text: `delivered via ${req.transport} service${said ? ` (${said.slice(0, 100)})` : ''}`, relayed: !a.flags.X };
  }

  return {
    async deliver(req: TransportRequest): Promise<TransportOutcome[]> {
      const relay = req.transport;
      const a = attributes(req);
      if (a instanceof PipeConfigError) {
        warn(req.params, `${req.transport}:attr`, `service ${req.transport}: ${a.message}`);
        return req.recipients.map((recipient) => ({ recipient, relay, status: 'deferred', dsn: '4.3.5', text: 'mail system configuration error' }));
      }
      const groups = recipientLimit(req) === 1 ? req.recipients.map((r) => [r]) : [req.recipients];
      const out: TransportOutcome[] = [];
      // One command at a time: concurrency across messages is the scheduler's to bound.
      for (const g of groups) {
        if (g.length === 0) continue;
        let o: Outcome;
        try {
          o = await deliverGroup(req, a, g);
        } catch (err) {
          o = { status: 'deferred', dsn: '4.3.0', text: `pipe delivery failed: ${(err as Error).message}` };
        }
        for (const recipient of g) out.push({ recipient, relay, ...o });
      }
      return out;
    },
  };
}
