/**
 * One SMTP server session's commands (RFC 5321, with RFC 2920 PIPELINING, RFC 3030
 * CHUNKING, RFC 1870 SIZE, RFC 3461 DSN, RFC 6531 SMTPUTF8, RFC 3207 STARTTLS, RFC 4954
 * AUTH). Commands are processed strictly in order; the dispatcher enforces the command
 * table's flags (commands.ts) and each handler handles only its verb. The session never
 * touches the disk: it asks policy/ at each command and hands the finished message to
 * cleanup/. Socket plumbing, tarpit and limits are in session-base.ts.
 *
 * Written by hand rather than on smtp-server: that package has no unauthorized-pipelining
 * detection, no error tarpit, no application-chosen enhanced codes and no BDAT
 * (research/dependencies.md §1). Replies follow Postfix's smtpd.c wording.
 */

import { TLSSocket } from 'node:tls';
import { tlsSummary } from '../listener/tls.js';
import { AuthDialog, offeredMechanisms } from './auth-dialog.js';
import { smtpdLog } from '../log/smtpd-events.js';
import { reply, replyForLog, type Reply } from '../protocol/reply.js';
import { parsePath } from '../protocol/mail-args.js';
import type { DataResult } from './framing.js';
import { COMMAND_BY_NAME, HELP_TEXT } from './commands.js';
import { longestHeader, mailOptions, recipient } from './envelope.js';
import { SessionBase, sleep, type Transaction } from './session-base.js';

export { type SessionDeps, type TlsInfo } from './session-base.js';

const SIZE_EXCEEDED = reply(552, '5.3.4', 'Message size exceeds fixed limit');

export class Session extends SessionBase {
  private authDialog?: AuthDialog;
  /** Set when the connect restrictions refused the client (smtpd_delay_reject = no). */
  private accessDenied = false;
  private bdatRemaining = 0;
  private bdatLast = false;
  /** Size of the current chunk: Postfix answers each BDAT with its own byte count. */
  private bdatChunk = 0;
  /** The reply for the BDAT chunk being skipped, when it is refused. */
  private bdatRefusal?: Reply;

  /** `refusal`: the client is over an anvil connection limit; it gets only that 421. */
  async start(refusal?: { log(): void; reply: Reply }): Promise<void> {
    // Postfix's order: "connect from" first, then (implicit TLS) the handshake and its log line.
    smtpdLog.connect(this.deps.log, this.who);
    if (refusal && !this.deps.tls?.wrapper) {
      refusal.log();
      this.mode = 'command';
      this.send(refusal.reply);
      this.flush();
      return;
    }
    if (this.deps.tls?.wrapper) {
      // Over a limit before TLS: nothing can be said in plaintext to a TLS client, so close.
      const over = refusal ?? ((await this.limited('newtls')) ? { log: () => undefined } : undefined);
      if (over) {
        over.log();
        this.quit = true;
        this.mode = 'closed';
        this.socket.destroy();
        return;
      }
      this.mode = 'tls';
      const secured = await new Promise<boolean>((resolve) => this.handshake(() => resolve(true), () => resolve(false)));
      if (!secured) return;
      this.mode = 'greeting';
    }
    const d = await this.safePolicy('connect', this.facts(), 'CONNECT');
    if (this.closed()) return;
    // Milters hear of the client once the connect restrictions let it in (a refusal from
    // them is repeated by the milter conversation at every later command).
    const milterReply = d?.reply ? undefined : await this.askMilters('CONNECT', this.facts(), (m) => m.connect(this.facts()));
    if (this.closed()) return;
    if (milterReply?.disconnect) {
      this.mode = 'command';
      this.send(milterReply);
      this.flush();
      return;
    }
    if (this.p.greetPause > 0) await sleep(this.p.greetPause);
    if (this.closed()) return;
    if (this.input.pending > 0 && !this.tlsInfo) {
      // The client talked before our greeting (RFC 5321 §4.3.1 says it must wait).
      this.unauthPipelining = true;
      smtpdLog.improperPipelining(this.deps.log, this.who, 'CONNECT', this.input.peek(100));
      this.protocolAbuse();
    }
    this.mode = 'command';
    if (d?.reply) {
      // As Postfix: the refusal replaces the greeting, then only QUIT is useful (RFC 5321 §3.1).
      this.accessDenied = true;
      this.send(d.reply);
      this.errors++;
    } else this.send(reply(220, '', this.p.banner));
    this.pump();
  }

  protected async loop(): Promise<void> {
    for (;;) {
      if (this.mustWait()) return;
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
      if (this.checkHardLimit()) return;
      const line = this.input.readLine(this.p.lineLimit, this.p.bareLf !== 'no');
      if (!line) return;
      if (line.kind === 'too-long') {
        smtpdLog.requestTooLong(this.deps.log, this.who, this.p.lineLimit, line.head);
        await this.answer(reply(500, '5.5.0', 'Error: line too long'));
        continue;
      }
      if (line.bareLf && this.p.bareLf === 'reject') {
        smtpdLog.bareNewline(this.deps.log, this.who, this.lastCommand);
        this.send(reply(521, '5.5.2', `${this.deps.hostname} Error: bare <LF> received`, true));
        return;
      }
      if (!line.utf8) {
        // As Postfix: internal interfaces are protected against malformed UTF-8.
        this.lastCommand = 'UNKNOWN';
        this.stats.count('UNKNOWN', false);
        await this.answer(reply(500, '5.5.2', 'Error: bad UTF-8 syntax'));
        continue;
      }
      await this.command(line.text);
    }
  }

  private async command(text: string): Promise<void> {
    const m = /^\s*(\S*)\s*(.*)$/s.exec(text)!;
    const verb = m[1]!.toUpperCase();
    const arg = m[2]!;
    const spec = COMMAND_BY_NAME.get(verb);
    const name = spec?.name ?? 'UNKNOWN';
    if (++this.commands > this.p.commandLimit) {
      smtpdLog.commandLimit(this.deps.log, this.who, this.lastCommand);
      this.send(reply(421, '4.7.0', `${this.deps.hostname} Error: too many commands`, true));
      return;
    }
    let r: Reply | undefined;
    if (this.accessDenied && name !== 'QUIT') r = reply(503, '5.7.0', `Error: access denied for ${this.who.client}`);
    else if (!spec) r = reply(502, '5.5.2', 'Error: command not recognized');
    else if (!spec.beforeTls && this.deps.tls?.level === 'encrypt' && !this.tlsInfo) r = reply(530, '5.7.0', 'Must issue a STARTTLS command first');
    if (r) {
      if (!spec) this.lastCommand = 'UNKNOWN';
      this.stats.count(name, false);
      await this.answer(r);
      return;
    }
    this.lastCommand = name;
    // RFC 2920: without PIPELINING every command, and with it the "last" ones, must end the input.
    if (!this.unauthPipelining && (this.protocol !== 'ESMTP' || spec!.last) && this.input.pending > 0 && this.mode === 'command') {
      this.unauthPipelining = true;
      smtpdLog.improperPipelining(this.deps.log, this.who, name, this.input.peek(100));
      this.protocolAbuse();
    }
    if (spec!.needsHelo && this.p.heloRequired && this.helo === undefined) r = reply(503, '5.5.1', 'Error: send HELO/EHLO first');
    else r = await this.dispatch(name, arg);
    if (r) {
      this.stats.count(name, r.code < 400);
      await this.answer(r);
    } // else the handler replied itself (DATA, BDAT, AUTH, STARTTLS)
    // Postfix: a junk command beyond the limit is one more error (post-increment compare).
    if (spec!.junk && this.junk++ > this.p.junkLimit) this.errors++;
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
        // RFC 5321 §3.5.3: 252 "cannot VRFY user, but will accept message and attempt delivery".
        return reply(252, '2.0.0', arg.trim().slice(0, 200).replace(/[^\x20-\x7e]/g, '?'));
      case 'ETRN':
        return this.etrn(arg);
      case 'HELP':
        return reply(214, '2.0.0', HELP_TEXT);
      case 'AUTH':
        return this.auth(arg);
      case 'STARTTLS':
        return this.starttls(arg);
      default:
        return reply(502, '5.5.2', 'Error: command not recognized');
    }
  }

  private async hello(verb: 'HELO' | 'EHLO', arg: string): Promise<Reply> {
    const name = arg.trim();
    if (!name || /\s/.test(name)) return reply(501, '5.5.4', `Syntax: ${verb} hostname`);
    this.txn = undefined;
    const facts = this.facts({ helo: name });
    const d = await this.safePolicy('helo', facts, verb);
    if (d?.reply) return d.reply;
    const refused = await this.askMilters(verb, facts, (m) => m.helo(facts, name));
    if (refused) return refused;
    this.helo = name;
    this.protocol = verb === 'EHLO' ? 'ESMTP' : 'SMTP';
    if (verb === 'HELO') return reply(250, '', this.deps.hostname);
    return reply(250, '', [this.deps.hostname, ...this.ehloKeywords()]);
  }

  /** The EHLO list, built from what this listener offers now, minus smtpd_discard_ehlo_keywords. */
  private ehloKeywords(): string[] {
    const mechs = this.authMechanisms();
    const auth = mechs.length ? [`AUTH ${mechs.join(' ')}`, ...(this.deps.params.bool('broken_sasl_auth_clients') ? [`AUTH=${mechs.join(' ')}`] : [])] : [];
    const starttls = this.deps.tls && !this.tlsInfo ? ['STARTTLS'] : [];
    const size = this.deps.params.int('message_size_limit');
    return ['PIPELINING', size ? `SIZE ${size}` : 'SIZE', ...(this.p.vrfyDisabled ? [] : ['VRFY']), 'ETRN',
      ...starttls, ...auth, 'ENHANCEDSTATUSCODES', '8BITMIME', 'DSN', 'SMTPUTF8', 'CHUNKING']
      .filter((k) => !this.p.discardEhlo.has(k.split(/[ =]/)[0]!));
  }

  private async mail(arg: string): Promise<Reply> {
    if (this.txn) return reply(503, '5.5.1', 'Error: nested MAIL command');
    const limited = await this.limited('message');
    if (limited) return limited;
    const parsed = parsePath(arg, 'FROM');
    if ('code' in parsed) return parsed;
    const opts = mailOptions(parsed, this.p.sizeLimit);
    if ('code' in opts) {
      if (opts.code === 552) smtpdLog.action(this.deps.log, this.who, undefined, 'reject', 'MAIL', replyForLog(opts), { from: parsed.address, proto: this.protocol, helo: this.helo });
      return opts;
    }
    const txn: Transaction = { ...opts, sender: parsed.address, recipients: [], effects: { prepend: [] } };
    this.txn = txn;
    const d = await this.safePolicy('mail', this.facts(), 'MAIL');
    if (d?.reply) {
      this.txn = undefined;
      return d.reply;
    }
    if (d) this.mergeEffects(txn, d.effects);
    const facts = this.facts();
    const esmtp = [...parsed.params].map(([k, v]) => (v === true ? k : `${k}=${v}`));
    const refused = await this.askMilters('MAIL', facts, (m) => m.mail(facts, parsed.address, esmtp));
    if (refused) {
      this.txn = undefined;
      return refused;
    }
    return reply(250, '2.1.0', 'Ok');
  }

  private async rcpt(arg: string): Promise<Reply> {
    const txn = this.txn;
    if (!txn) return reply(503, '5.5.1', 'Error: need MAIL command');
    const limited = await this.limited('recipient');
    if (limited) return limited;
    const parsed = parsePath(arg, 'TO');
    if ('code' in parsed) return parsed;
    if (parsed.address === '') return reply(501, '5.1.3', 'Bad recipient address syntax');
    if (txn.recipients.length >= this.p.rcptLimit) return reply(452, '4.5.3', 'Error: too many recipients');
    const rcpt = recipient(parsed, txn.smtputf8);
    if ('code' in rcpt) return rcpt;
    const facts = this.facts({ recipient: parsed.address });
    const d = await this.safePolicy('rcpt', facts, 'RCPT');
    if (d?.reply) return (await this.countRefusal(d.reply)) ?? d.reply;
    if (d) this.mergeEffects(txn, d.effects);
    const esmtp = [...parsed.params].map(([k, v]) => (v === true ? k : `${k}=${v}`));
    const refused = await this.askMilters('RCPT', facts, (m) => m.rcpt(facts, parsed.address, esmtp));
    if (refused) return refused;
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
    if (txn.bodyType === 'BINARYMIME') return reply(503, '5.5.1', 'Error: BDAT required for BODY=BINARYMIME'); // RFC 3030 §3
    const d = await this.safePolicy('data', this.facts(), 'DATA');
    if (d?.reply) return d.reply;
    if (d) this.mergeEffects(txn, d.effects);
    const facts = this.facts();
    const refused = await this.askMilters('DATA', facts, (m) => m.data(facts));
    if (refused) return refused;
    this.stats.count('DATA', true);
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
      smtpdLog.action(this.deps.log, this.who, txn.queueId, 'reject', 'END-OF-MESSAGE', `${replyForLog(SIZE_EXCEEDED)} (${size} bytes)`, env);
      await this.answer(SIZE_EXCEEDED);
      return;
    }
    const hdr = longestHeader(data);
    if (hdr > this.p.headerLimit) {
      // XXX: Postfix cuts an over-long header into the body; Postern refuses the message.
      const r = reply(552, '5.3.4', 'Message header size exceeds fixed limit');
      smtpdLog.action(this.deps.log, this.who, txn.queueId, 'reject', 'END-OF-MESSAGE', `${replyForLog(r)} (${hdr} bytes)`, env);
      await this.answer(r);
      return;
    }
    this.txn = txn; // visible to the end-of-data restrictions
    const d = await this.safePolicy('end_of_data', this.facts(), 'END-OF-MESSAGE');
    this.txn = undefined;
    if (d?.reply) {
      await this.answer(d.reply);
      return;
    }
    if (d) this.mergeEffects(txn, d.effects);
    const r = await this.deps.cleanup.submit({
      queueId: txn.queueId!, sender: txn.sender, recipients: txn.recipients, data, facts: this.facts({ sender: txn.sender, recipientCount: txn.recipients.length }),
      envid: txn.envid, ret: txn.ret, bodyType: txn.bodyType, smtputf8: txn.smtputf8, effects: txn.effects, clientLabel: this.who.client,
      milters: this.milter,
    });
    if (r.code < 400) {
      // Postfix forgives earlier errors once a message was received.
      this.errors = 0;
      this.junk = 0;
    }
    await this.answer(r);
  }

  /** BDAT n [LAST] (RFC 3030): decide the chunk's fate now, read (or skip) its bytes next. */
  private async bdat(arg: string): Promise<Reply | undefined> {
    const m = /^(\d{1,15})(?:\s+(LAST))?\s*$/i.exec(arg.trim());
    if (!m) {
      // As Postfix: hang up, since the raw chunk that follows would be read as commands.
      smtpdLog.malformedBdat(this.deps.log, this.who, this.txn?.queueId, arg);
      return reply(521, '5.5.4', 'Syntax: BDAT count [LAST]', true);
    }
    const n = Number(m[1]);
    this.bdatRemaining = n;
    this.bdatChunk = n;
    this.bdatLast = !!m[2];
    this.bdatRefusal = undefined;
    const txn = this.txn;
    if (n === 0 && !this.bdatLast) this.bdatRefusal = reply(551, '5.7.1', 'Null BDAT request');
    else if (!txn) this.bdatRefusal = reply(503, '5.5.1', 'Error: need MAIL command');
    else if (txn.bdat?.failed) this.bdatRefusal = reply(551, '5.0.0', `Discarded ${n} bytes after earlier error`);
    else if (!txn.bdat) {
      // The first chunk stands for DATA: no recipients or the data restrictions refuse it.
      if (txn.recipients.length === 0) this.bdatRefusal = reply(554, '5.5.1', 'Error: no valid recipients');
      else {
        const d = await this.safePolicy('data', this.facts(), 'BDAT');
        if (d?.reply) this.bdatRefusal = d.reply;
        else if (d) this.mergeEffects(txn, d.effects);
        if (!this.bdatRefusal) {
          const facts = this.facts();
          this.bdatRefusal = await this.askMilters('BDAT', facts, (m) => m.data(facts));
        }
      }
    }
    if (txn && !this.bdatRefusal && (txn.bdat?.size ?? 0) + n > this.p.sizeLimit) {
      this.bdatRefusal = SIZE_EXCEEDED;
      smtpdLog.action(this.deps.log, this.who, txn.queueId, 'reject', 'BDAT', replyForLog(SIZE_EXCEEDED), { from: txn.sender, to: txn.recipients[0]?.address, proto: this.protocol, helo: this.helo });
    }
    if (txn) txn.bdat ??= { chunks: [], size: 0, failed: false };
    if (txn?.bdat && this.bdatRefusal) txn.bdat.failed = true;
    this.mode = 'bdat';
    return undefined; // replied after the chunk has been read
  }

  /** Read (or skip) the current BDAT chunk; false while bytes are still missing. */
  private async bdatBody(): Promise<boolean> {
    const txn = this.txn;
    const b = txn?.bdat;
    if (this.bdatRefusal || !txn || !b) {
      // A refused chunk is still consumed, to stay in step with the client (RFC 3030 §2).
      this.bdatRemaining -= this.input.skipBytes(this.bdatRemaining);
      if (this.bdatRemaining > 0) return false;
      this.mode = 'command';
      this.stats.count('BDAT', false);
      if (this.bdatLast) this.txn = undefined;
      await this.answer(this.bdatRefusal ?? reply(503, '5.5.1', 'Error: need MAIL command'));
      return true;
    }
    // Take what is there, so a big chunk never waits in the input buffer twice.
    const part = this.input.readBytes(Math.min(this.bdatRemaining, this.input.pending));
    if (part && part.length) {
      b.chunks.push(Buffer.from(part));
      b.size += part.length;
      this.bdatRemaining -= part.length;
    }
    if (this.bdatRemaining > 0) return false;
    this.mode = 'command';
    this.stats.count('BDAT', true);
    if (!this.bdatLast) {
      await this.answer(reply(250, '2.0.0', `Ok: ${this.bdatChunk} bytes`));
      return true;
    }
    this.lastCommand = 'END-OF-MESSAGE';
    this.txn = undefined;
    await this.finishMessage(txn, Buffer.concat(b.chunks), b.size);
    return true;
  }

  private async etrn(arg: string): Promise<Reply> {
    const domain = arg.trim().replace(/^[@#]/, '');
    if (!domain || /\s/.test(domain)) return reply(501, '5.5.4', 'Syntax: ETRN domain');
    if (this.txn) return reply(503, '5.5.1', 'Error: MAIL transaction in progress');
    if (!/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?)+$|^\[[0-9A-Fa-f:.]+\]$|^\[IPv6:[0-9A-Fa-f:.]+\]$/.test(domain) || domain.length > 255) {
      return reply(501, '5.5.4', 'Error: invalid parameter syntax');
    }
    const d = await this.safePolicy('etrn', this.facts({ etrnDomain: domain }), 'ETRN');
    if (d?.reply) return d.reply;
    // Postern has no per-domain flush queue: deferred mail is retried by the scheduler anyway.
    return reply(458, '4.3.0', 'Unable to queue messages');
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
    const limited = await this.limited('auth');
    if (limited) return limited;
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
      await this.answer(step.reply);
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
      await this.answer(reply(454, '4.7.0', 'Temporary authentication failure'));
      return;
    }
    smtpdLog.saslFailed(this.deps.log, this.who, mech, result.reason, step.user);
    const banned = await this.deps.guard?.authFailure(this.client, this.who.client, step.user, step.password);
    if (banned) {
      this.send(banned);
      return;
    }
    const delay = this.deps.params.timeMs('postern_auth_failure_delay');
    if (delay > 0) {
      this.flush();
      await sleep(delay);
    }
    await this.answer(reply(535, '5.7.8', `Error: authentication failed: ${result.reason}`));
  }

  /** STARTTLS (RFC 3207): reply, drop everything pipelined after it, handshake, forget the session. */
  private async starttls(arg: string): Promise<Reply | undefined> {
    const tls = this.deps.tls;
    if (!tls || tls.wrapper) return reply(502, '5.5.1', 'Error: command not implemented');
    if (this.tlsInfo) return reply(554, '5.5.1', 'Error: TLS already active');
    if (arg.trim()) return reply(501, '5.5.4', 'Syntax: STARTTLS');
    const limited = await this.limited('newtls');
    if (limited) return limited;
    this.stats.count('STARTTLS', true);
    this.send(reply(220, '2.0.0', 'Ready to start TLS'));
    this.flush();
    this.input.discard(); // CVE-2011-0411: commands pipelined after STARTTLS are never executed
    this.mode = 'tls';
    this.detach(this.socket);
    this.handshake(() => {
      // RFC 3207 §4.2: the client must start over; nothing said before TLS counts.
      this.helo = undefined;
      this.protocol = 'SMTP';
      this.txn = undefined;
      this.mode = 'command';
    }, () => undefined);
    return undefined;
  }

  /**
   * The server side of a TLS handshake on the current (plaintext, detached) socket, after
   * STARTTLS or first thing on an implicit-TLS listener (RFC 8314). `secured` runs before the
   * TLS socket is attached; on failure (also a client that leaves, or no handshake within
   * min(smtpd_timeout, 60 s)) the close handler logs the lost connection and `failed` runs.
   */
  private handshake(secured: () => void, failed: () => void): void {
    const tls = this.deps.tls!;
    const secure = new TLSSocket(this.socket, { isServer: true, secureContext: tls.context });
    this.socket = secure;
    let settled = false;
    const timer = setTimeout(() => secure.destroy(new Error('handshake timeout')), Math.min(this.deps.params.timeMs('smtpd_timeout'), 60_000));
    const fail = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) smtpdLog.tlsFailed(this.deps.log, this.who, err.message);
      secure.destroy();
      failed();
    };
    secure.on('close', this.handlers.close);
    secure.once('close', () => fail());
    secure.on('error', fail);
    secure.once('secure', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure.off('error', fail);
      secure.off('close', this.handlers.close);
      this.tlsInfo = tlsSummary(secure);
      if (tls.logLevel >= 1) smtpdLog.tlsEstablished(this.deps.log, this.who, this.tlsInfo);
      secured();
      this.attach(secure);
    });
  }
}
