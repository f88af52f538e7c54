/**
 * The plumbing of one SMTP server session: the socket (swappable for a TLSSocket after
 * STARTTLS), reply buffering and write back-pressure, the error count and its tarpit,
 * timeouts, the per-session limits, the end-of-session log lines, and the calls into
 * policy/. session.ts builds the command handlers on top of it.
 *
 * Ordering (RFC 2920): replies are queued in order and written when the client's pipelined
 * input is used up, so a pipelined group gets one packet back. Nothing here blocks the
 * event loop: the tarpit is a timer, and while the client does not read its replies the
 * session stops reading its commands.
 */

import type { Socket } from 'node:net';
import type { TlsSettings } from '../listener/tls.js';
import type { AuthBackend } from '../auth/types.js';
import type { Params } from '../config/types.js';
import type { MailLog } from '../log/maillog.js';
import { smtpdLog, type Who } from '../log/smtpd-events.js';
import type { ClientInfo, CheckPoint, Decision, PolicyEngine, SessionFacts, TxnEffects } from '../policy/types.js';
import type { Cleanup, SubmittedRecipient } from '../cleanup/types.js';
import { formatReply, reply, replyForLog, type Reply } from '../protocol/reply.js';
import { Input } from './framing.js';
import { CommandStats } from './commands.js';
import type { MailOptions } from './envelope.js';
import type { LimitEvent, SessionGuard } from '../listener/guard.js';
import type { BanEvent } from '../state/bans.js';
import type { MilterFactory } from '../milter/smtpd.js';
import type { MilterSession, StageResult } from '../milter/conversation.js';

export interface SessionDeps {
  readonly log: MailLog;
  readonly policy: PolicyEngine;
  readonly cleanup: Cleanup;
  readonly params: Params;
  readonly serviceName: string;
  readonly program: string;
  readonly hostname: string;
  /** TLS of this listener (STARTTLS or wrapper mode); undefined: no TLS. */
  readonly tls?: TlsSettings;
  /** SASL backend when smtpd_sasl_auth_enable = yes. */
  readonly auth?: AuthBackend;
  /** anvil rate limits and ban counting (listener/guard.ts); none in unit tests. */
  readonly guard?: SessionGuard;
  /** smtpd_milters of this listener: one conversation per session (milter/). */
  readonly milters?: MilterFactory;
}

/** What the session knows about its TLS layer once the handshake is done. */
export interface TlsInfo {
  readonly protocol: string;
  readonly cipher: string;
  readonly bits: number;
}

/** One MAIL transaction, from MAIL FROM to the end of the message or RSET. */
export interface Transaction extends MailOptions {
  sender: string;
  recipients: SubmittedRecipient[];
  queueId?: string;
  /** Policy delegation's "instance": one value per transaction. */
  instance?: string;
  effects: TxnEffects;
  /** BDAT state once the first chunk was accepted or refused. */
  bdat?: { chunks: Buffer[]; size: number; failed: boolean };
}

/** The session's parameters, read once per connection. */
export interface SessionLimits {
  lineLimit: number; sizeLimit: number; rcptLimit: number; softErrors: number; hardErrors: number; errorSleep: number;
  junkLimit: number; commandLimit: number; sessionLimit: number; heloRequired: boolean; vrfyDisabled: boolean;
  bareLf: 'normalize' | 'reject' | 'no'; headerLimit: number; discardEhlo: Set<string>; banner: string; greetPause: number;
}

export type Mode = 'greeting' | 'command' | 'data' | 'bdat' | 'auth' | 'tls' | 'closed';

/** Replies buffered before a flush is forced (bounds memory under a huge pipelined burst). */
const MAX_QUEUED_REPLIES = 64;
/** Unprocessed input allowed while a command is running before the socket is paused. */
const MAX_PENDING_INPUT = 1024 * 1024;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Transactions started by this process, for unique policy "instance" values. */
let transactions = 0;
const nextInstance = (): string => `${process.pid.toString(16)}.${Date.now().toString(16)}.${(++transactions).toString(16)}`;

/** Limits per Params object (one per service and reload): 10,000 idle sessions share one copy. */
const limitsCache = new WeakMap<Params, SessionLimits>();

export function readLimits(params: Params): SessionLimits {
  let l = limitsCache.get(params);
  if (!l) limitsCache.set(params, (l = computeLimits(params)));
  return l;
}

function computeLimits(params: Params): SessionLimits {
  const bare = params.str('smtpd_forbid_bare_newline').toLowerCase();
  return {
    lineLimit: params.int('line_length_limit'),
    sizeLimit: params.int('message_size_limit') || Number.MAX_SAFE_INTEGER,
    rcptLimit: params.int('smtpd_recipient_limit'),
    softErrors: params.int('smtpd_soft_error_limit'),
    hardErrors: params.int('smtpd_hard_error_limit'),
    errorSleep: params.timeMs('smtpd_error_sleep_time'),
    junkLimit: params.int('smtpd_junk_command_limit'),
    commandLimit: params.int('postern_smtpd_command_limit'),
    sessionLimit: params.timeMs('postern_smtpd_session_time_limit'),
    heloRequired: params.bool('smtpd_helo_required'),
    vrfyDisabled: params.bool('disable_vrfy_command'),
    // Postfix 3.9 accepts yes/reject as synonyms, and no/normalize.
    bareLf: bare === 'reject' || bare === 'yes' ? 'reject' : bare === 'no' ? 'no' : 'normalize',
    headerLimit: params.int('header_size_limit'),
    discardEhlo: new Set(params.list('smtpd_discard_ehlo_keywords').map((k) => k.toUpperCase())),
    banner: params.str('smtpd_banner'),
    greetPause: params.timeMs('postern_smtpd_greet_pause'),
  };
}

export abstract class SessionBase {
  protected readonly input = new Input();
  protected readonly stats = new CommandStats();
  protected readonly p: Readonly<SessionLimits>;
  protected readonly who: Who;
  protected socket: Socket;
  protected mode: Mode = 'greeting';
  protected helo?: string;
  protected protocol: 'SMTP' | 'ESMTP' = 'SMTP';
  protected txn?: Transaction;
  protected tlsInfo?: TlsInfo;
  protected sasl?: { user: string; method: string };
  /** This session's milter conversation (smtpd_milters), opened at connect. */
  protected milter?: MilterSession;
  /** Postfix's error_count: error replies, plus junk commands over the limit. */
  protected errors = 0;
  protected junk = 0;
  protected commands = 0;
  /** Postfix's "where": the last command, "CONNECT", "UNKNOWN" or "END-OF-MESSAGE". */
  protected lastCommand = 'CONNECT';
  protected unauthPipelining = false;
  /** The client said QUIT or we chose to close: no "lost connection" line. */
  protected quit = false;
  protected closeAfterFlush = false;
  /** Protocol abuse counts toward a ban once per session. */
  private protocolCounted = false;
  private out: string[] = [];
  private busy = false;
  private draining = false;
  private readonly started = Date.now();
  protected readonly handlers = {
    data: (chunk: Buffer): void => this.onData(chunk),
    timeout: (): void => this.onTimeout(),
    close: (): void => this.onClose(),
    error: (): void => undefined, // 'close' follows and logs the loss
  };

  constructor(socket: Socket, protected readonly client: ClientInfo, protected readonly deps: SessionDeps) {
    this.socket = socket;
    const port = deps.params.bool('smtpd_client_port_logging') ? `:${client.port}` : '';
    this.who = { program: deps.program, client: `${client.name}[${client.addr}]${port}` };
    this.p = readLimits(deps.params);
    this.milter = deps.milters?.();
    // Implicit TLS: nothing may read the plaintext socket before the handshake (start()), or
    // the client's TLS hello would be taken for SMTP input.
    if (!deps.tls?.wrapper) this.attach(socket);
  }

  /** Process buffered input until it runs dry or the session must wait. */
  protected abstract loop(): Promise<void>;

  protected attach(socket: Socket): void {
    socket.setTimeout(this.deps.params.timeMs('smtpd_timeout'));
    socket.on('data', this.handlers.data);
    socket.on('timeout', this.handlers.timeout);
    socket.on('close', this.handlers.close);
    socket.on('error', this.handlers.error);
  }

  protected detach(socket: Socket): void {
    socket.off('data', this.handlers.data);
    socket.off('timeout', this.handlers.timeout);
    socket.off('close', this.handlers.close);
    socket.off('error', this.handlers.error);
    socket.setTimeout(0);
  }

  /** Client facts for the restriction engine. */
  protected facts(extra: Partial<SessionFacts> = {}): SessionFacts {
    return {
      client: this.client, serviceName: this.deps.serviceName, params: this.deps.params, helo: this.helo, protocol: this.protocol,
      tls: this.tlsInfo !== undefined, tlsProtocol: this.tlsInfo?.protocol, tlsCipher: this.tlsInfo?.cipher, tlsBits: this.tlsInfo?.bits,
      saslUsername: this.sasl?.user, saslMethod: this.sasl?.method,
      sender: this.txn?.sender, recipientCount: this.txn?.recipients.length ?? 0, unauthPipelining: this.unauthPipelining,
      queueId: this.txn?.queueId, size: this.txn?.size, instance: this.txn ? (this.txn.instance ??= nextInstance()) : undefined,
      server: { addr: this.socket.localAddress?.replace(/^::ffff:/i, '') ?? '', port: this.socket.localPort ?? 0 },
      recipients: this.txn?.recipients.map((r) => r.address), ...extra,
    };
  }

  protected closed(): boolean {
    return this.mode === 'closed';
  }

  private onData(chunk: Buffer): void {
    if (this.mode === 'closed') return;
    if (Date.now() - this.started > this.p.sessionLimit) {
      smtpdLog.sessionLimit(this.deps.log, this.who, this.lastCommand);
      this.send(reply(421, '4.4.2', `${this.deps.hostname} Error: session time limit exceeded`, true));
      this.flush();
      return;
    }
    this.input.feed(chunk);
    // Back-pressure: stop reading while a command runs (policy, queue) on a big backlog.
    if (this.busy && this.input.pending > MAX_PENDING_INPUT) this.socket.pause();
    if (this.mode !== 'greeting') this.pump();
  }

  /** Bytes of the message received so far, when the session is inside one. */
  private messageBytes(): number | undefined {
    if (this.mode === 'data') return this.input.dataReceived;
    if (this.mode === 'bdat') return (this.txn?.bdat?.size ?? 0) + this.input.pending;
    return undefined;
  }

  /** "DATA"/"BDAT" while message content is being read (Postfix's "DATA content"). */
  private where(): string {
    return this.mode === 'data' ? 'DATA' : this.mode === 'bdat' ? 'BDAT' : this.lastCommand;
  }

  private onTimeout(): void {
    if (this.mode === 'closed') {
      // Our last reply could not be written to a client that stopped reading: give up on it.
      this.socket.destroy();
      return;
    }
    smtpdLog.timeout(this.deps.log, this.who, this.where(), this.messageBytes());
    this.send(reply(421, '4.4.2', `${this.deps.hostname} Error: timeout exceeded`, true));
    this.flush();
  }

  private onClose(): void {
    // Postfix does not complain about a client that leaves right after a message.
    if (this.mode !== 'closed' && !this.quit && (this.mode !== 'command' || this.lastCommand !== 'END-OF-MESSAGE')) {
      smtpdLog.lostConnection(this.deps.log, this.who, this.where(), this.messageBytes());
    }
    this.mode = 'closed';
    this.milter?.close();
    smtpdLog.disconnect(this.deps.log, this.who, this.stats.format());
  }

  /** Queue a reply; written at the next flush. */
  protected send(r: Reply): void {
    this.out.push(formatReply(r));
    if (r.disconnect) this.closeAfterFlush = true;
  }

  /**
   * A reply to a command. Once the client has made smtpd_soft_error_limit errors every
   * reply waits smtpd_error_sleep_time first (Postfix sleeps before any reply, not only
   * error replies); a 4xx/5xx reply counts one more error.
   */
  protected async answer(r: Reply): Promise<void> {
    if (this.errors >= this.p.softErrors && this.p.errorSleep > 0 && !r.disconnect) {
      this.flush();
      await sleep(this.p.errorSleep);
      if (this.closed()) return;
    }
    this.send(r);
    if (r.code >= 400) this.errors++;
  }

  /** Postfix checks the hard limit before reading each command: the 421 follows the last error at once. */
  protected checkHardLimit(): boolean {
    if (this.errors < this.p.hardErrors) return false;
    if (!this.closeAfterFlush) {
      smtpdLog.tooManyErrors(this.deps.log, this.who, this.lastCommand);
      this.protocolAbuse();
      this.send(reply(421, '4.7.0', `${this.deps.hostname} Error: too many errors`, true));
    }
    return true;
  }

  protected flush(): void {
    if (this.out.length && !this.socket.destroyed) {
      const writable = this.socket.write(this.out.join(''));
      if (!writable && !this.draining && !this.closeAfterFlush) {
        // The client does not read its replies: read no more commands until it does.
        this.draining = true;
        this.socket.pause();
        this.socket.once('drain', () => {
          this.draining = false;
          if (this.closed()) return;
          this.socket.resume();
          this.pump();
        });
      }
    }
    this.out = [];
    if (this.closeAfterFlush && this.mode !== 'closed') {
      this.quit = true; // we chose to close: not a lost connection
      this.mode = 'closed';
      this.socket.end();
      this.socket.destroySoon?.();
    }
  }

  /** True when the loop must stop for now: closing, or waiting for the client to read. */
  protected mustWait(): boolean {
    if (this.out.length >= MAX_QUEUED_REPLIES) this.flush();
    return this.mode === 'closed' || this.closeAfterFlush || this.draining;
  }

  /** Process everything buffered, in order; replies go out when the input runs dry. */
  protected pump(): void {
    if (this.busy) return;
    this.busy = true;
    void this.runLoop().finally(() => {
      this.busy = false;
      this.flush();
      if (this.socket.isPaused() && !this.draining && this.mode !== 'closed') this.socket.resume();
    });
  }

  private async runLoop(): Promise<void> {
    try {
      await this.loop();
    } catch (err) {
      // Never a crash: the client gets a temporary error and the session goes on.
      smtpdLog.internalError(this.deps.log, this.who, `${this.lastCommand}: ${(err as Error).stack ?? String(err)}`);
      if (this.mode !== 'closed') {
        this.mode = 'command';
        this.txn = undefined;
        this.send(reply(451, '4.3.0', 'Error: internal error, try again later'));
        this.errors++;
        // Input that arrived meanwhile still needs an answer.
        if (this.input.pending > 0) setImmediate(() => this.pump());
      }
    }
  }

  /** Ask the restriction engine; log its notes and refusal in Postfix's format. */
  protected async safePolicy(point: CheckPoint, facts: SessionFacts, cmd: string): Promise<Decision | undefined> {
    let d: Decision;
    try {
      d = await this.deps.policy.check(point, facts);
    } catch (err) {
      smtpdLog.internalError(this.deps.log, this.who, `${cmd} restrictions: ${(err as Error).message}`);
      return { reply: reply(451, '4.3.5', 'Server configuration problem'), notes: [], effects: {} };
    }
    const env = { from: facts.sender, to: facts.recipient, proto: this.protocol, helo: this.helo };
    for (const n of d.notes) {
      if (n.action === 'warning') this.deps.log.warning(this.who.program, n.text);
      else smtpdLog.action(this.deps.log, this.who, this.txn?.queueId, n.action, cmd, n.text, env);
    }
    if (d.reply) smtpdLog.action(this.deps.log, this.who, this.txn?.queueId, 'reject', cmd, replyForLog(d.reply), env);
    return d;
  }

  /**
   * Ask the milters at this command (after the restrictions accepted it): their refusal,
   * logged as Postfix logs it ("milter-reject: RCPT from …"), or undefined to go on; a
   * discard or hold is merged into the transaction.
   */
  protected async askMilters(cmd: string, facts: SessionFacts, run: (m: MilterSession) => Promise<StageResult>): Promise<Reply | undefined> {
    const m = this.milter;
    if (!m) return undefined;
    let r: StageResult;
    try {
      r = await run(m);
    } catch (err) {
      smtpdLog.internalError(this.deps.log, this.who, `${cmd} milters: ${(err as Error).message}`);
      return reply(451, '4.3.0', 'Error: internal error, try again later');
    }
    const env = { from: facts.sender, to: facts.recipient, proto: this.protocol, helo: this.helo };
    if (r.reply) {
      smtpdLog.action(this.deps.log, this.who, this.txn?.queueId, 'milter-reject', cmd, replyForLog(r.reply), env);
      return r.reply;
    }
    if (r.discard !== undefined && this.txn) {
      smtpdLog.action(this.deps.log, this.who, this.txn.queueId, 'milter-discard', cmd, r.discard, env);
      this.txn.effects.discard = r.discard;
    }
    if (r.hold !== undefined && this.txn && this.txn.effects.hold === undefined) {
      smtpdLog.action(this.deps.log, this.who, this.txn.queueId, 'milter-hold', cmd, r.hold, env);
      this.txn.effects.hold = r.hold;
    }
    return undefined;
  }

  /** An anvil rate limit for this command: the refusal when the client is over it. */
  protected async limited(event: LimitEvent): Promise<Reply | undefined> {
    return this.deps.guard?.limit(event, this.client, this.who.client);
  }

  /**
   * A refusal that counts toward a ban (postern_ban_events): relay attempts and unknown
   * recipients. Returns the reply to send instead when this one banned the client.
   */
  protected async countRefusal(r: Reply): Promise<Reply | undefined> {
    const event = refusalEvent(r);
    return event ? this.deps.guard?.failure(event, this.client, this.who.client) : undefined;
  }

  /** Pre-greeting talk, improper pipelining, too many errors: one protocol failure per session. */
  protected protocolAbuse(): void {
    const guard = this.deps.guard;
    if (!guard || this.protocolCounted) return;
    this.protocolCounted = true;
    guard.failure('protocol', this.client, this.who.client).catch((err: unknown) => {
      smtpdLog.internalError(this.deps.log, this.who, `ban counting: ${(err as Error).message}`);
    });
  }

  protected mergeEffects(txn: Transaction | undefined, e: Partial<TxnEffects>): void {
    if (!txn) return;
    const t = txn.effects;
    if (e.hold !== undefined) t.hold = e.hold;
    if (e.discard !== undefined) t.discard = e.discard;
    if (e.filter !== undefined) t.filter = e.filter;
    if (e.redirect !== undefined) t.redirect = e.redirect;
    if (e.prepend) t.prepend.push(...e.prepend);
  }
}

/** Which ban counter a RCPT refusal feeds: Postfix's relay and unknown-user replies. */
export function refusalEvent(r: Reply): BanEvent | undefined {
  if (r.code < 400) return undefined;
  if (r.lines.some((l) => l.endsWith(': Relay access denied'))) return 'relay';
  if (/^[45]\.1\.1$/.test(r.enhanced)) return 'unknown_recipient';
  return undefined;
}
