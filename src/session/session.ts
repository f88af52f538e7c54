/**
 * One SMTP server session (RFC 5321, with RFC 2920 PIPELINING, RFC 3030 CHUNKING, RFC 1870
 * SIZE, RFC 3461 DSN, RFC 6531 SMTPUTF8). Commands are processed strictly in order; replies
 * are buffered and written when the client's pipelined input is used up, so ordering holds
 * and a pipelined group gets one packet back. The session never touches the disk: it asks
 * policy/ at each command and hands the finished message to cleanup/.
 *
 * Written by hand rather than on smtp-server: that package has no unauthorized-pipelining
 * detection, no error tarpit, no application-chosen enhanced codes and no BDAT
 * (research/dependencies.md §1).
 */

import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { TlsSettings } from '../listener/tls.js';
import { tlsSummary } from '../listener/tls.js';
import type { AuthBackend } from '../auth/types.js';
import { AuthDialog, offeredMechanisms } from './auth-dialog.js';
import type { Params } from '../config/types.js';
import type { MailLog } from '../log/maillog.js';
import { smtpdLog, type Who } from '../log/smtpd-events.js';
import type { ClientInfo, Decision, PolicyEngine, SessionFacts, TxnEffects, CheckPoint } from '../policy/types.js';
import type { Cleanup, SubmittedRecipient } from '../cleanup/types.js';
import { formatReply, reply, replyForLog, type Reply } from '../protocol/reply.js';
import { parsePath, isXtext } from '../protocol/mail-args.js';
import { Input, type DataResult } from './framing.js';
import { COMMAND_BY_NAME, CommandStats } from './commands.js';

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
}

/** What the session knows about its TLS layer once the handshake is done. */
export interface TlsInfo {
  readonly protocol: string;
  readonly cipher: string;
  readonly bits: number;
}

interface Transaction {
  sender: string;
  recipients: SubmittedRecipient[];
  queueId?: string;
  size?: number;
  bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  smtputf8: boolean;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  effects: TxnEffects;
  bdat?: { chunks: Buffer[]; size: number; oversize: boolean };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Session {
  private readonly input = new Input();
  private out: string[] = [];
  private helo?: string;
  private protocol: 'SMTP' | 'ESMTP' = 'SMTP';
  private txn?: Transaction;
  private errors = 0;
  private junk = 0;
  private commands = 0;
  private readonly stats = new CommandStats();
  private lastCommand = 'CONNECT';
  private mode: 'greeting' | 'command' | 'data' | 'bdat' | 'auth' | 'tls' | 'closed' = 'greeting';
  private tlsInfo?: TlsInfo;
  private sasl?: { user: string; method: string };
  private authDialog?: AuthDialog;
  private socket: Socket;
  private readonly handlers = {
    data: (chunk: Buffer): void => this.onData(chunk),
    timeout: (): void => this.onTimeout(),
    close: (): void => this.onClose(),
    error: (): void => undefined, // 'close' follows and logs the loss
  };
  private bdatRemaining = 0;
  private bdatLast = false;
  private busy = false;
  private unauthPipelining = false;
  private connectRefusal?: Reply;
  private readonly started = Date.now();
  private quit = false;
  private readonly who: Who;
  private readonly p: {
    lineLimit: number; sizeLimit: number; rcptLimit: number; softErrors: number; hardErrors: number; errorSleep: number;
    junkLimit: number; commandLimit: number; sessionLimit: number; heloRequired: boolean; vrfyDisabled: boolean;
    bareLf: 'normalize' | 'reject' | 'no'; headerLimit: number; discardEhlo: Set<string>; banner: string; greetPause: number;
  };

  constructor(socket: Socket, private readonly client: ClientInfo, private readonly deps: SessionDeps, tlsInfo?: TlsInfo) {
    this.socket = socket;
    this.tlsInfo = tlsInfo;
    const params = deps.params;
    const port = params.bool('smtpd_client_port_logging') ? `:${client.port}` : '';
    this.who = { program: deps.program, client: `${client.name}[${client.addr}]${port}` };
    const bare = params.str('smtpd_forbid_bare_newline').toLowerCase();
    this.p = {
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
      bareLf: bare === 'reject' ? 'reject' : bare === 'no' ? 'no' : 'normalize',
      headerLimit: params.int('header_size_limit'),
      discardEhlo: new Set(params.list('smtpd_discard_ehlo_keywords').map((k) => k.toUpperCase())),
      banner: params.str('smtpd_banner'),
      greetPause: params.timeMs('postern_smtpd_greet_pause'),
    };
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.setTimeout(this.deps.params.timeMs('smtpd_timeout'));
    socket.on('data', this.handlers.data);
    socket.on('timeout', this.handlers.timeout);
    socket.on('close', this.handlers.close);
    socket.on('error', this.handlers.error);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.handlers.data);
    socket.off('timeout', this.handlers.timeout);
    socket.off('close', this.handlers.close);
    socket.off('error', this.handlers.error);
    socket.setTimeout(0);
  }

  /** Client facts for the restriction engine. */
  private facts(extra: Partial<SessionFacts> = {}): SessionFacts {
    return {
      client: this.client, serviceName: this.deps.serviceName, params: this.deps.params, helo: this.helo, protocol: this.protocol,
      tls: this.tlsInfo !== undefined, tlsProtocol: this.tlsInfo?.protocol, tlsCipher: this.tlsInfo?.cipher, tlsBits: this.tlsInfo?.bits,
      saslUsername: this.sasl?.user, saslMethod: this.sasl?.method,
      sender: this.txn?.sender, recipientCount: this.txn?.recipients.length ?? 0, unauthPipelining: this.unauthPipelining, ...extra,
    };
  }

  async start(): Promise<void> {
    smtpdLog.connect(this.deps.log, this.who);
    const d = await this.safePolicy('connect', this.facts(), 'CONNECT');
    if (d?.reply) this.connectRefusal = d.reply;
    if (this.mode === 'closed') return;
    if (this.p.greetPause > 0) await sleep(this.p.greetPause);
    if (this.closed()) return;
    if (this.input.pending > 0) {
      // The client talked before our greeting (RFC 5321 §4.3.1 says it must wait).
      this.unauthPipelining = true;
      smtpdLog.improperPipelining(this.deps.log, this.who, 'CONNECT', this.peek());
    }
    this.mode = 'command';
    this.send(reply(220, '', this.p.banner));
    this.pump();
  }

  private closed(): boolean {
    return this.mode === 'closed';
  }

  private peek(): string {
    return '(data before greeting)';
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
    // Back-pressure: stop reading while a long operation runs on a big backlog.
    if (this.busy && this.input.pending > 1024 * 1024) this.socket.pause();
    if (this.mode !== 'greeting') this.pump();
  }

  private onTimeout(): void {
    if (this.mode === 'closed') return;
    smtpdLog.timeout(this.deps.log, this.who, this.lastCommand);
    this.send(reply(421, '4.4.2', `${this.deps.hostname} Error: timeout exceeded`, true));
    this.flush();
  }

  private onClose(): void {
    if (this.mode !== 'closed' && !this.quit) smtpdLog.lostConnection(this.deps.log, this.who, this.lastCommand);
    this.mode = 'closed';
    smtpdLog.disconnect(this.deps.log, this.who, this.stats.format());
  }

  private send(r: Reply): void {
    this.out.push(formatReply(r));
    if (r.disconnect) this.closeAfterFlush = true;
  }
  private closeAfterFlush = false;

  private flush(): void {
    if (this.out.length && !this.socket.destroyed) this.socket.write(this.out.join(''));
    this.out = [];
    if (this.closeAfterFlush && this.mode !== 'closed') {
      this.quit = true; // we chose to close: not a lost connection
      this.mode = 'closed';
      this.socket.end();
      this.socket.destroySoon?.();
    }
  }

  /** Process everything buffered, in order; replies go out when the input runs dry. */
  private pump(): void {
    if (this.busy) return;
    this.busy = true;
    void this.loop().finally(() => {
      this.busy = false;
      this.flush();
      if (this.socket.isPaused() && this.mode !== 'closed') this.socket.resume();
    });
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        if (this.mode === 'closed' || this.closeAfterFlush) return;
        if (this.mode === 'data') {
          const r = this.input.readData(this.p.sizeLimit, this.p.bareLf);
          if (!r) return;
          this.mode = 'command';
          await this.endOfData(r);
          continue;
        }
        if (this.mode === 'bdat') {
          if (!(await this.bdatBody())) return;
          continue;
        }
        if (this.mode === 'tls') return; // handshake in progress: nothing buffered may be used
        if (this.mode === 'auth') {
          const l = this.input.readLine(12288, true);
          if (!l) return;
          await this.authStep(this.authDialog!.next(l.kind === 'line' ? l.text : '*'));
          continue;
        }
        const line = this.input.readLine(this.p.lineLimit, this.p.bareLf !== 'no');
        if (!line) return;
        if (line.kind === 'too-long') {
          smtpdLog.requestTooLong(this.deps.log, this.who, this.p.lineLimit, line.head);
          await this.error(reply(500, '5.5.0', 'Error: line too long'));
          continue;
        }
        if (line.bareLf && this.p.bareLf === 'reject') {
          smtpdLog.bareNewline(this.deps.log, this.who, this.lastCommand);
          this.send(reply(521, '5.5.2', `${this.deps.hostname} Error: bare <LF> received`, true));
          return;
        }
        await this.command(line.text);
      }
    } catch (err) {
      smtpdLog.internalError(this.deps.log, this.who, `${this.lastCommand}: ${(err as Error).stack ?? String(err)}`);
      this.send(reply(451, '4.3.0', 'Error: internal error, try again later'));
    }
  }

  /** An error reply: counted, and delayed once the soft limit is reached (tarpit, no blocking). */
  private async error(r: Reply): Promise<void> {
    this.errors++;
    if (this.errors >= this.p.softErrors && this.p.errorSleep > 0 && this.errors < this.p.hardErrors) {
      this.flush();
      await sleep(this.p.errorSleep);
    }
    this.send(r);
    this.checkHardLimit();
  }

  private async respond(r: Reply): Promise<void> {
    if (r.code >= 400) await this.error(r);
    else this.send(r);
  }

  private async command(text: string): Promise<void> {
    const sp = text.indexOf(' ');
    const verb = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? '' : text.slice(sp + 1);
    const spec = COMMAND_BY_NAME.get(verb);
    this.commands++;
    if (this.commands > this.p.commandLimit) {
      smtpdLog.commandLimit(this.deps.log, this.who, this.lastCommand);
      this.send(reply(421, '4.7.0', `${this.deps.hostname} Error: too many commands`, true));
      return;
    }
    if (!spec) {
      this.lastCommand = 'UNKNOWN';
      this.stats.count('UNKNOWN', false);
      await this.error(reply(502, '5.5.2', 'Error: command not recognized'));
      return;
    }
    this.lastCommand = verb;
    // Commands after a group that the client was not allowed to pipeline.
    if (this.input.pending > 0 && this.protocol !== 'ESMTP' && !this.unauthPipelining && verb !== 'QUIT') {
      this.unauthPipelining = true;
      smtpdLog.improperPipelining(this.deps.log, this.who, verb, '(more commands in the same packet)');
    }
    if (spec.junk && ++this.junk > this.p.junkLimit) this.errors++;
    let r: Reply | undefined;
    if (!spec.beforeTls && this.deps.tls?.level === 'encrypt' && !this.tlsInfo) r = reply(530, '5.7.0', 'Must issue a STARTTLS command first');
    else if (spec.needsHelo && this.p.heloRequired && this.helo === undefined) r = reply(503, '5.5.1', 'Error: send HELO/EHLO first');
    else if (this.connectRefusal && verb !== 'QUIT' && verb !== 'RSET' && verb !== 'NOOP') r = this.connectRefusal;
    else r = await this.dispatch(verb, arg);
    if (!r) return; // the handler replied itself (DATA, BDAT)
    this.stats.count(verb, r.code < 400);
    await this.respond(r);
  }

  /** Postfix checks the hard limit before reading the next command: the 421 follows the last error at once. */
  private checkHardLimit(): boolean {
    if (this.errors < this.p.hardErrors || this.closeAfterFlush) return false;
    smtpdLog.tooManyErrors(this.deps.log, this.who, this.lastCommand);
    this.send(reply(421, '4.7.0', `${this.deps.hostname} Error: too many errors`, true));
    return true;
  }

  private async dispatch(verb: string, arg: string): Promise<Reply | undefined> {
    switch (verb) {
      case 'HELO':
      case 'EHLO':
        return this.hello(verb, arg);
      case 'MAIL':
        return this.mail(arg);
      case 'RCPT':
        return this.rcpt(arg);
      case 'DATA':
        return this.data(arg);
      case 'BDAT':
        return this.bdat(arg);
      case 'RSET':
        if (arg.trim()) return reply(501, '5.5.4', 'Syntax: RSET');
        this.txn = undefined;
        return reply(250, '2.0.0', 'Ok');
      case 'NOOP':
        return reply(250, '2.0.0', 'Ok');
      case 'QUIT':
        this.quit = true;
        return reply(221, '2.0.0', 'Bye', true);
      case 'VRFY':
        if (this.p.vrfyDisabled) return reply(502, '5.5.1', 'VRFY command is disabled');
        if (!arg.trim()) return reply(501, '5.5.4', 'Syntax: VRFY address');
        return reply(252, '2.0.0', arg.trim().replace(/[\r\n]/g, ''));
      case 'ETRN':
        return this.etrn(arg);
      case 'HELP':
        return reply(214, '2.0.0', 'Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY ETRN HELP');
      case 'AUTH':
        return this.auth(arg);
      case 'STARTTLS':
        return this.starttls(arg);
      default:
        return reply(502, '5.5.2', 'Error: command not recognized');
    }
  }

  private async safePolicy(point: CheckPoint, facts: SessionFacts, cmd: string): Promise<Decision | undefined> {
    let d: Decision;
    try {
      d = await this.deps.policy.check(point, facts);
    } catch (err) {
      smtpdLog.internalError(this.deps.log, this.who, `${cmd} restrictions: ${(err as Error).message}`);
      return { reply: reply(451, '4.3.5', 'Server configuration problem'), notes: [], effects: {} };
    }
    const env = { from: facts.sender, to: facts.recipient, proto: this.protocol, helo: this.helo };
    for (const n of d.notes) smtpdLog.action(this.deps.log, this.who, this.txn?.queueId, n.action, cmd, n.text, env);
    if (d.reply) smtpdLog.action(this.deps.log, this.who, this.txn?.queueId, 'reject', cmd, replyForLog(d.reply), env);
    return d;
  }

  private mergeEffects(e: Partial<TxnEffects>): void {
    if (!this.txn) return;
    const t = this.txn.effects;
    if (e.hold !== undefined) t.hold = e.hold;
    if (e.discard !== undefined) t.discard = e.discard;
    if (e.filter !== undefined) t.filter = e.filter;
    if (e.redirect !== undefined) t.redirect = e.redirect;
    if (e.prepend) t.prepend.push(...e.prepend);
  }

  private async hello(verb: 'HELO' | 'EHLO', arg: string): Promise<Reply> {
    const name = arg.trim();
    if (!name || /\s/.test(name)) return reply(501, '5.5.4', `Syntax: ${verb} hostname`);
    this.txn = undefined;
    const d = await this.safePolicy('helo', this.facts({ helo: name }), verb);
    if (d?.reply) return d.reply;
    this.helo = name;
    this.protocol = verb === 'EHLO' ? 'ESMTP' : 'SMTP';
    if (verb === 'HELO') return reply(250, '', this.deps.hostname);
    const mechs = this.authMechanisms();
    const auth = mechs.length ? [`AUTH ${mechs.join(' ')}`, ...(this.deps.params.bool('broken_sasl_auth_clients') ? [`AUTH=${mechs.join(' ')}`] : [])] : [];
    const starttls = this.deps.tls && !this.tlsInfo ? ['STARTTLS'] : [];
    const keywords = ['PIPELINING', `SIZE ${this.deps.params.int('message_size_limit')}`, ...(this.p.vrfyDisabled ? [] : ['VRFY']), 'ETRN',
      ...starttls, ...auth, 'ENHANCEDSTATUSCODES', '8BITMIME', 'DSN', 'SMTPUTF8', 'CHUNKING']
      .filter((k) => !this.p.discardEhlo.has(k.split(' ')[0]!));
    return reply(250, '', [this.deps.hostname, ...keywords]);
  }

  private async mail(arg: string): Promise<Reply> {
    if (this.txn) return reply(503, '5.5.1', 'Error: nested MAIL command');
    const parsed = parsePath(arg, 'FROM');
    if ('code' in parsed) return parsed;
    const txn: Transaction = { sender: parsed.address, recipients: [], smtputf8: false, effects: { prepend: [] } };
    for (const [key, value] of parsed.params) {
      const v = value === true ? '' : value;
      switch (key) {
        case 'SIZE':
          if (!/^\d{1,20}$/.test(v)) return reply(501, '5.5.4', 'Bad message size syntax');
          if (Number(v) > this.p.sizeLimit) {
            const r = reply(552, '5.3.4', 'Message size exceeds fixed limit');
            smtpdLog.action(this.deps.log, this.who, undefined, 'reject', 'MAIL', replyForLog(r), { from: parsed.address, proto: this.protocol, helo: this.helo });
            return r;
          }
          txn.size = Number(v);
          break;
        case 'BODY': {
          const b = v.toUpperCase();
          if (b !== '7BIT' && b !== '8BITMIME' && b !== 'BINARYMIME') return reply(501, '5.5.4', `Unsupported option: BODY=${v}`);
          txn.bodyType = b;
          break;
        }
        case 'SMTPUTF8':
          if (value !== true) return reply(501, '5.5.4', 'Bad SMTPUTF8 syntax');
          txn.smtputf8 = true;
          break;
        case 'RET': {
          const r = v.toUpperCase();
          if (r !== 'FULL' && r !== 'HDRS') return reply(501, '5.5.4', 'Bad RET parameter syntax');
          txn.ret = r;
          break;
        }
        case 'ENVID':
          if (!v || v.length > 100 || !isXtext(v)) return reply(501, '5.5.4', 'Bad ENVID parameter syntax');
          txn.envid = v;
          break;
        default:
          return reply(555, '5.5.4', `Unsupported option: ${key}`);
      }
    }
    if (!txn.smtputf8 && /[^\x00-\x7f]/.test(parsed.address)) return reply(553, '5.6.7', 'Must declare SMTPUTF8 to send unicode address');
    this.txn = txn;
    const d = await this.safePolicy('mail', this.facts(), 'MAIL');
    if (d?.reply) {
      this.txn = undefined;
      return d.reply;
    }
    if (d) this.mergeEffects(d.effects);
    return reply(250, '2.1.0', 'Ok');
  }

  private async rcpt(arg: string): Promise<Reply> {
    const txn = this.txn;
    if (!txn) return reply(503, '5.5.1', 'Error: need MAIL command');
    const parsed = parsePath(arg, 'TO');
    if ('code' in parsed) return parsed;
    if (parsed.address === '') return reply(501, '5.1.3', 'Bad recipient address syntax');
    if (txn.recipients.length >= this.p.rcptLimit) return reply(452, '4.5.3', 'Error: too many recipients');
    const rcpt: { address: string; orcpt?: string; notify?: string[] } = { address: parsed.address };
    for (const [key, value] of parsed.params) {
      const v = value === true ? '' : value;
      if (key === 'NOTIFY') {
        const list = v.toUpperCase().split(',');
        const ok = list.every((n) => ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'].includes(n)) && !(list.includes('NEVER') && list.length > 1);
        if (!ok) return reply(501, '5.5.4', 'Error: Bad NOTIFY parameter syntax');
        rcpt.notify = list;
      } else if (key === 'ORCPT') {
        if (!/^[A-Za-z0-9-]+;.+/.test(v) || v.length > 500) return reply(501, '5.5.4', 'Error: Bad ORCPT parameter syntax');
        rcpt.orcpt = v;
      } else return reply(555, '5.5.4', `Unsupported option: ${key}`);
    }
    if (!txn.smtputf8 && /[^\x00-\x7f]/.test(parsed.address)) return reply(553, '5.6.7', 'Must declare SMTPUTF8 to send unicode address');
    const d = await this.safePolicy('rcpt', this.facts({ recipient: parsed.address }), 'RCPT');
    if (d?.reply) return d.reply;
    if (d) this.mergeEffects(d.effects);
    if (!txn.queueId) {
      txn.queueId = this.deps.cleanup.newQueueId();
      smtpdLog.queueId(this.deps.log, this.who, txn.queueId, this.sasl);
    }
    txn.recipients.push(rcpt);
    return reply(250, '2.1.5', 'Ok');
  }

  private async data(arg: string): Promise<Reply | undefined> {
    if (arg.trim()) return reply(501, '5.5.4', 'Syntax: DATA');
    const txn = this.txn;
    if (!txn) return reply(503, '5.5.1', 'Error: need RCPT command');
    if (txn.bdat) return reply(503, '5.5.1', 'Error: DATA after BDAT');
    if (txn.recipients.length === 0) return reply(554, '5.5.1', 'Error: no valid recipients');
    const d = await this.safePolicy('data', this.facts(), 'DATA');
    if (d?.reply) return d.reply;
    if (d) this.mergeEffects(d.effects);
    this.stats.count('DATA', true);
    if (this.input.pending > 0 && !this.unauthPipelining) {
      // Message content sent before our 354: a client that ignores the dialog.
      this.unauthPipelining = true;
      smtpdLog.improperPipelining(this.deps.log, this.who, 'DATA', '(message content before 354)');
    }
    this.send(reply(354, '', 'End data with <CR><LF>.<CR><LF>'));
    this.input.startData();
    this.mode = 'data';
    return undefined;
  }

  private async endOfData(r: DataResult): Promise<void> {
    this.lastCommand = 'END-OF-MESSAGE';
    const txn = this.txn;
    this.txn = undefined;
    if (!txn) return;
    if (r.bareLf && this.p.bareLf === 'reject') {
      smtpdLog.bareNewline(this.deps.log, this.who, 'DATA');
      this.send(reply(521, '5.5.2', `${this.deps.hostname} Error: bare <LF> received`, true));
      return;
    }
    await this.finishMessage(txn, r.data, r.size);
  }

  /** Size and header checks, end-of-data policy, then the hand-off to cleanup. */
  private async finishMessage(txn: Transaction, data: Buffer | undefined, size: number): Promise<void> {
    const env = { from: txn.sender, to: txn.recipients[0]?.address, proto: this.protocol, helo: this.helo };
    if (!data || size > this.p.sizeLimit) {
      const r = reply(552, '5.3.4', 'Message size exceeds fixed limit');
      smtpdLog.action(this.deps.log, this.who, txn.queueId, 'reject', 'END-OF-MESSAGE', `${replyForLog(r)} (${size} bytes)`, env);
      await this.error(r);
      return;
    }
    const hdr = longestHeader(data);
    if (hdr > this.p.headerLimit) {
      const r = reply(552, '5.3.4', 'Message header size exceeds fixed limit');
      smtpdLog.action(this.deps.log, this.who, txn.queueId, 'reject', 'END-OF-MESSAGE', `${replyForLog(r)} (${hdr} bytes)`, env);
      await this.error(r);
      return;
    }
    this.txn = txn; // visible to the end-of-data restrictions
    const d = await this.safePolicy('end_of_data', this.facts(), 'END-OF-MESSAGE');
    this.txn = undefined;
    if (d?.reply) {
      await this.error(d.reply);
      return;
    }
    if (d) {
      this.txn = txn;
      this.mergeEffects(d.effects);
      this.txn = undefined;
    }
    const r = await this.deps.cleanup.submit({
      queueId: txn.queueId!, sender: txn.sender, recipients: txn.recipients, data, facts: this.facts({ sender: txn.sender, recipientCount: txn.recipients.length }),
      envid: txn.envid, ret: txn.ret, bodyType: txn.bodyType, smtputf8: txn.smtputf8, effects: txn.effects, clientLabel: this.who.client,
    });
    await this.respond(r);
  }

  private async bdat(arg: string): Promise<Reply | undefined> {
    const m = /^(\d{1,12})(?:\s+(LAST))?\s*$/i.exec(arg.trim());
    if (!m) return reply(501, '5.5.4', 'Syntax: BDAT count [LAST]');
    this.bdatRemaining = Number(m[1]);
    this.bdatLast = !!m[2];
    const txn = this.txn;
    if (txn && !txn.bdat && txn.recipients.length > 0) txn.bdat = { chunks: [], size: 0, oversize: false };
    this.mode = 'bdat';
    return undefined; // replied after the chunk has been read
  }

  /** Read the current BDAT chunk; false while bytes are still missing. */
  private async bdatBody(): Promise<boolean> {
    const txn = this.txn;
    const b = txn?.bdat;
    if (!b) {
      // No transaction or no recipients: the chunk must still be consumed (RFC 3030 §2).
      this.bdatRemaining -= this.input.skipBytes(this.bdatRemaining);
      if (this.bdatRemaining > 0) return false;
      this.mode = 'command';
      const r = !txn ? reply(503, '5.5.1', 'Error: need MAIL command') : reply(554, '5.5.1', 'Error: no valid recipients');
      this.stats.count('BDAT', false);
      if (this.bdatLast) this.txn = undefined;
      await this.error(r);
      return true;
    }
    if (b.oversize || b.size + this.bdatRemaining > this.p.sizeLimit) {
      b.oversize = true;
      this.bdatRemaining -= this.input.skipBytes(this.bdatRemaining);
      if (this.bdatRemaining > 0) return false;
    } else {
      const chunk = this.input.readBytes(this.bdatRemaining);
      if (!chunk) {
        // Take what is there to keep memory flat for big chunks.
        const partial = this.input.readBytes(this.input.pending);
        if (partial && partial.length) {
          b.chunks.push(Buffer.from(partial));
          b.size += partial.length;
          this.bdatRemaining -= partial.length;
        }
        return false;
      }
      b.chunks.push(Buffer.from(chunk));
      b.size += chunk.length;
      this.bdatRemaining = 0;
    }
    this.mode = 'command';
    this.stats.count('BDAT', !b.oversize);
    if (!this.bdatLast) {
      if (b.oversize) await this.error(reply(552, '5.3.4', 'Message size exceeds fixed limit'));
      else this.send(reply(250, '2.0.0', `Ok: ${b.size} bytes`));
      return true;
    }
    this.lastCommand = 'END-OF-MESSAGE';
    this.txn = undefined;
    await this.finishMessage(txn, b.oversize ? undefined : Buffer.concat(b.chunks), b.oversize ? this.p.sizeLimit + 1 : b.size);
    return true;
  }

  /** Mechanisms offered now: none without a backend, none before TLS with smtpd_tls_auth_only. */
  private authMechanisms(): ('PLAIN' | 'LOGIN')[] {
    if (!this.deps.auth || this.sasl) return [];
    if (!this.tlsInfo && this.deps.params.bool('smtpd_tls_auth_only')) return [];
    const opts = this.deps.params.list(this.tlsInfo ? 'smtpd_sasl_tls_security_options' : 'smtpd_sasl_security_options');
    return offeredMechanisms(opts);
  }

  private async auth(arg: string): Promise<Reply | undefined> {
    const mechs = this.authMechanisms();
    if (!this.deps.auth || (!this.tlsInfo && this.deps.params.bool('smtpd_tls_auth_only'))) return reply(503, '5.5.1', 'Error: authentication not enabled');
    if (this.sasl) return reply(503, '5.5.1', 'Error: already authenticated');
    if (this.txn) return reply(503, '5.5.1', 'Error: MAIL transaction in progress');
    const [mechRaw, initial, extra] = arg.trim().split(/\s+/);
    if (!mechRaw || extra !== undefined) return reply(501, '5.5.4', 'Syntax: AUTH mechanism');
    const mech = mechRaw.toUpperCase();
    if (mech !== 'PLAIN' && mech !== 'LOGIN') return reply(504, '5.5.4', 'Unsupported authentication mechanism');
    if (!mechs.includes(mech)) return reply(504, '5.5.4', 'Unsupported authentication mechanism');
    this.authDialog = new AuthDialog(mech);
    await this.authStep(this.authDialog.start(initial));
    return undefined;
  }

  /** One step of an AUTH dialog: a challenge, a final reply, or credentials to check. */
  private async authStep(step: ReturnType<AuthDialog['next']>): Promise<void> {
    if (step.kind === 'challenge') {
      this.mode = 'auth';
      this.send(step.reply);
      return;
    }
    this.mode = 'command';
    const mech = this.authDialog?.mech ?? 'PLAIN';
    this.authDialog = undefined;
    if (step.kind === 'reply') {
      this.stats.count('AUTH', false);
      await this.error(step.reply);
      return;
    }
    const local = this.socket.localPort ?? 0;
    const result = await this.deps.auth!.verify(step.user, step.password, { mech, clientAddr: this.client.addr, localPort: local, secured: !!this.tlsInfo, service: 'smtp' });
    if (result.kind === 'ok') {
      this.sasl = { user: result.user || step.user, method: mech };
      this.stats.count('AUTH', true);
      this.send(reply(235, '2.7.0', 'Authentication successful'));
      return;
    }
    this.stats.count('AUTH', false);
    if (result.kind === 'tempfail') {
      smtpdLog.saslTempfail(this.deps.log, this.who, mech, result.reason);
      await this.error(reply(454, '4.7.0', 'Temporary authentication failure'));
      return;
    }
    smtpdLog.saslFailed(this.deps.log, this.who, mech, result.reason, step.user);
    const delay = this.deps.params.timeMs('postern_auth_failure_delay');
    if (delay > 0) {
      this.flush();
      await sleep(delay);
    }
    await this.error(reply(535, '5.7.8', `Error: authentication failed: ${result.reason}`));
  }

  /** STARTTLS (RFC 3207): reply, drop everything pipelined after it, handshake, forget the session. */
  private starttls(arg: string): Reply | undefined {
    const tls = this.deps.tls;
    if (!tls || tls.wrapper) return reply(502, '5.5.1', 'Error: command not implemented');
    if (this.tlsInfo) return reply(554, '5.5.1', 'Error: TLS already active');
    if (arg.trim()) return reply(501, '5.5.4', 'Syntax: STARTTLS');
    this.stats.count('STARTTLS', true);
    this.send(reply(220, '2.0.0', 'Ready to start TLS'));
    this.flush();
    this.input.discard(); // CVE-2011-0411: commands pipelined after STARTTLS are never executed
    this.mode = 'tls';
    const raw = this.socket;
    this.detach(raw);
    const secure = new TLSSocket(raw, { isServer: true, secureContext: tls.context });
    this.socket = secure;
    secure.on('close', this.handlers.close);
    const onFail = (err: Error): void => {
      smtpdLog.tlsFailed(this.deps.log, this.who, err.message);
      secure.destroy();
    };
    secure.once('error', onFail);
    secure.once('secure', () => {
      secure.off('error', onFail);
      secure.off('close', this.handlers.close);
      this.tlsInfo = tlsSummary(secure);
      if (tls.logLevel >= 1) smtpdLog.tlsEstablished(this.deps.log, this.who, this.tlsInfo);
      // RFC 3207 §4.2: the client must start over; nothing said before TLS counts.
      this.helo = undefined;
      this.protocol = 'SMTP';
      this.txn = undefined;
      this.mode = 'command';
      this.attach(secure);
    });
    return undefined;
  }

  private async etrn(arg: string): Promise<Reply> {
    const domain = arg.trim();
    if (!domain) return reply(501, '5.5.4', 'Syntax: ETRN domain');
    if (this.txn) return reply(503, '5.5.1', 'Error: MAIL transaction in progress');
    const d = await this.safePolicy('etrn', this.facts({ etrnDomain: domain }), 'ETRN');
    if (d?.reply) return d.reply;
    // Postern retries deferred mail by itself; there is no per-domain flush queue to run.
    return reply(458, '4.3.0', `Unable to queue messages for ${domain.replace(/[\r\n]/g, '')}: Postern retries deferred mail on its own`);
  }
}

/** The longest single header (with its folded continuation lines), in bytes. */
export function longestHeader(data: Buffer): number {
  const end = data.indexOf('\r\n\r\n');
  const head = end < 0 ? data : data.subarray(0, end + 2);
  let longest = 0;
  let start = 0;
  let cur = 0;
  for (let i = head.indexOf(10); i >= 0; i = head.indexOf(10, i + 1)) {
    const lineLen = i + 1 - start;
    const folded = head[start] === 32 || head[start] === 9;
    cur = folded ? cur + lineLen : lineLen;
    if (cur > longest) longest = cur;
    start = i + 1;
  }
  return Math.max(longest, head.length - start);
}
