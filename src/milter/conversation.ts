/**
 * One SMTP session's conversation with its milters (smtpd_milters), in the order
 * Postfix runs them: connect, HELO, MAIL, RCPT, DATA from the session; header, end of
 * header, body and end of message from cleanup, each milter seeing the message as the
 * milters before it left it. Milters are asked in list order; the first that rejects
 * decides. A milter that cannot be reached, times out or breaks the protocol is dropped
 * and its default action applies (milter_default_action or its own default_action):
 * accept (go on without it), tempfail/reject (this and every later command gets
 * "451 4.7.1 Service unavailable - try again later" / "550 5.7.1 Command rejected"),
 * quarantine (go on, and hold every message of the session).
 *
 * Trust: milters are configured by the admin, but their replies are checked (a bad reply
 * code or packet is a failure of that milter, never of the session).
 */

import type { MailLog } from '../log/maillog.js';
import type { SessionFacts } from '../policy/types.js';
import { parseReplyText, reply, withDisconnect, type Reply } from '../protocol/reply.js';
import { MilterConnection, MilterError } from './connection.js';
import { changeHeader, addHeader, insertHeader, bareAddress, headerForMilter, joinMessage, normaliseBody, splitMessage } from './edits.js';
import { MACRO_PARAM, macroValues, type MacroExtra } from './macros.js';
import {
  ACT, BODY_CHUNK, CMD, NOREPLY_FLAG, SKIP_FLAG, connectPacket, macroPacket, packet, z,
  type Command, type MacroStage, type MilterReply, type Modification,
} from './protocol.js';
import type { MilterSpec } from './spec.js';

const TEMPFAIL = reply(451, '4.7.1', 'Service unavailable - try again later');
const REJECT = reply(550, '5.7.1', 'Command rejected');

/** What a stage of the SMTP session should do after the milters had their say. */
export interface StageResult {
  /** Refuse the command with this reply (logged by the caller as milter-reject). */
  readonly reply?: Reply;
  /** Discard the whole transaction (accepted, then thrown away). */
  readonly discard?: string;
  /** Put the message on hold. */
  readonly hold?: string;
}

/** The end-of-message outcome, for cleanup. */
export type MessageResult =
  | { readonly kind: 'reply'; readonly reply: Reply }
  | {
    readonly kind: 'ok'; readonly data: Buffer; readonly sender: string; readonly added: string[]; readonly deleted: string[];
    readonly hold?: string; readonly discard?: string; readonly changed: boolean;
  };

interface Peer {
  readonly spec: MilterSpec;
  conn?: MilterConnection;
  /** off: no more events this session; failed: answer every event with `failure`. */
  state: 'active' | 'off' | 'failed';
  failure?: Reply;
  /** Accepted the current transaction: no more events until the next MAIL. */
  txnDone: boolean;
  /** MAIL was sent and no end of message followed: ABORT before the next MAIL. */
  inTxn: boolean;
}

type Stage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data';

export class MilterSession {
  private readonly peers: Peer[];
  /** A connect-stage refusal: every later command gets it. */
  private refusal?: Reply;
  private quarantine?: string;
  private closed = false;
  private inMessage = false;
  private closeWanted = false;

  constructor(specs: readonly MilterSpec[], private readonly log: MailLog, private readonly program: string) {
    this.peers = specs.map((spec) => ({ spec, state: 'active', txnDone: false, inTxn: false }));
  }

  /** The milter is gone: log why, and apply its default action; the reply it now gives, if any. */
  private fail(p: Peer, err: unknown, program = this.program): Reply | undefined {
    p.conn?.close();
    p.conn = undefined;
    if (this.closed) {
      p.state = 'off';
      return undefined;
    }
    this.log.warning(program, err instanceof MilterError ? err.message : `milter ${p.spec.name}: ${(err as Error).message}`);
    const a = p.spec.defaultAction;
    if (a === 'accept') p.state = 'off';
    else if (a === 'quarantine') {
      p.state = 'off';
      this.quarantine ??= `milter ${p.spec.name} unavailable (default_action = quarantine)`;
    } else {
      p.state = 'failed';
      p.failure = a === 'reject' ? REJECT : TEMPFAIL;
      return p.failure;
    }
    return undefined;
  }

  private macros(p: Peer, stage: MacroStage, f: SessionFacts, x: MacroExtra): Buffer[] {
    const names = p.conn!.negotiated.macros[stage] ?? f.params.list(MACRO_PARAM[stage]);
    const values = macroValues(names, f, x);
    const forCmd: Record<MacroStage, Command> = { connect: CMD.connect, helo: CMD.helo, mail: CMD.mail, rcpt: CMD.rcpt, data: CMD.data, eoh: CMD.eoh, eom: CMD.eob };
    return values.length ? [macroPacket(forCmd[stage], values)] : [];
  }

  /** Send one command (with its macros); undefined when the milter does not want it or will not answer. */
  private async ask(p: Peer, cmd: Command, body: Buffer, macros: Buffer[], timeout: number): Promise<{ reply: MilterReply; mods: Modification[] } | undefined> {
    const n = p.conn!.negotiated;
    const skip = SKIP_FLAG[cmd];
    if (skip && n.protocol & skip) return undefined;
    if (cmd === CMD.data && n.version < 4) return undefined; // SMFIC_DATA is new in protocol 4
    const noReply = NOREPLY_FLAG[cmd];
    if (noReply && n.protocol & noReply) {
      p.conn!.send(...macros, body);
      return undefined;
    }
    return p.conn!.exchange(cmd, [...macros, body], timeout);
  }

  /** A milter's final reply at an SMTP stage, as the session must act on it. */
  private verdict(p: Peer, stage: Stage | 'message', r: MilterReply): StageResult | 'next' {
    switch (r.kind) {
      case 'continue':
      case 'skip':
        return 'next';
      case 'accept':
        if (stage === 'connect' || stage === 'helo') p.state = 'off';
        else p.txnDone = true;
        return 'next';
      case 'reject':
        return { reply: stage === 'connect' ? reply(554, '5.7.1', 'Command rejected') : REJECT };
      case 'tempfail':
        return { reply: TEMPFAIL };
      case 'replycode': {
        const parsed = parseReplyText(r.text, /^4/.test(r.text) ? '4.7.1' : '5.7.1');
        if (!parsed || parsed.code < 400) {
          this.log.warning(this.program, `milter ${p.spec.name}: bad reply code "${r.text.slice(0, 100)}"; using tempfail`);
          return { reply: TEMPFAIL };
        }
        return { reply: parsed.code === 421 ? withDisconnect(parsed) : parsed };
      }
      case 'discard':
        if (stage === 'connect' || stage === 'helo') {
          this.log.warning(this.program, `milter ${p.spec.name}: DISCARD action is not allowed at ${stage.toUpperCase()}; ignored`);
          return 'next';
        }
        p.txnDone = true;
        return { discard: 'milter triggers DISCARD action' };
      case 'shutdown':
      case 'connfail':
        p.conn?.close();
        p.state = 'off';
        return { reply: reply(421, '4.7.0', 'Server closing connection', true) };
    }
  }

  /** Run one SMTP-stage event through every milter in order. */
  private async stage(stage: Stage, f: SessionFacts, build: (p: Peer) => { cmd: Command; body: Buffer; macro: MacroStage }, x: MacroExtra = {}): Promise<StageResult> {
    if (this.refusal && stage !== 'connect') return { reply: this.refusal };
    let discard: string | undefined;
    for (const p of this.peers) {
      if (stage === 'mail') p.txnDone = false;
      if (p.state === 'off' || (p.txnDone && stage !== 'mail')) continue;
      if (p.state === 'failed') return { reply: p.failure! };
      const { cmd, body, macro } = build(p);
      try {
        if (stage === 'mail' && p.inTxn) p.conn!.send(packet(CMD.abort));
        if (stage === 'mail') p.inTxn = true;
        const got = await this.ask(p, cmd, body, this.macros(p, macro, f, x), p.spec.commandTimeout);
        if (!got) continue;
        const v = this.verdict(p, stage, got.reply);
        if (v === 'next') continue;
        if (v.discard) {
          discard = v.discard;
          continue;
        }
        return v;
      } catch (err) {
        const failure = this.fail(p, err);
        if (failure) return { reply: failure };
      }
    }
    return { discard, hold: stage === 'mail' || stage === 'data' ? this.quarantine : undefined };
  }

  /** Connect to every milter (in parallel) and send the connect event. */
  async connect(f: SessionFacts): Promise<StageResult> {
    await Promise.all(this.peers.map(async (p) => {
      try {
        const conn = await MilterConnection.open(p.spec);
        // The client may have left while we connected: close() has already run.
        if (this.closed) conn.quit();
        else p.conn = conn;
      } catch (err) {
        this.fail(p, err);
      }
    }));
    if (this.closed) return {};
    const r = await this.stage('connect', f, () => ({ cmd: CMD.connect, body: connectPacket(f.client.name === 'unknown' ? `[${f.client.addr}]` : f.client.name, f.client.addr, f.client.port), macro: 'connect' }));
    if (r.reply && !r.reply.disconnect) this.refusal = r.reply;
    return r;
  }

  helo(f: SessionFacts, helo: string): Promise<StageResult> {
    return this.stage('helo', f, () => ({ cmd: CMD.helo, body: packet(CMD.helo, z(helo)), macro: 'helo' }));
  }

  /** `args`: the ESMTP parameters of MAIL FROM as written ("SIZE=123"). */
  mail(f: SessionFacts, sender: string, args: readonly string[]): Promise<StageResult> {
    return this.stage('mail', f, () => ({ cmd: CMD.mail, body: packet(CMD.mail, z(`<${sender}>`), ...args.map(z)), macro: 'mail' }), { sender });
  }

  rcpt(f: SessionFacts, recipient: string, args: readonly string[]): Promise<StageResult> {
    return this.stage('rcpt', f, () => ({ cmd: CMD.rcpt, body: packet(CMD.rcpt, z(`<${recipient}>`), ...args.map(z)), macro: 'rcpt' }), { recipient });
  }

  data(f: SessionFacts): Promise<StageResult> {
    return this.stage('data', f, () => ({ cmd: CMD.data, body: packet(CMD.data), macro: 'data' }));
  }

  /**
   * Header, end of header, body and end of message, milter by milter, applying each one's
   * modifications before the next sees the message. `program` is cleanup's, for warnings.
   */
  async message(f: SessionFacts, env: { queueId: string; sender: string; recipients: readonly string[] }, data: Buffer, program: string): Promise<MessageResult> {
    // A client that hangs up after the final dot must not get its message past the milters:
    // close() waits for this to finish.
    this.inMessage = true;
    try {
      return await this.runMessage(f, env, data, program);
    } finally {
      this.inMessage = false;
      if (this.closeWanted) this.close();
    }
  }

  private async runMessage(f: SessionFacts, env: { queueId: string; sender: string; recipients: readonly string[] }, data: Buffer, program: string): Promise<MessageResult> {
    const msg = splitMessage(data);
    let sender = env.sender;
    const added: string[] = [];
    const deleted: string[] = [];
    let hold = this.quarantine;
    let discard: string | undefined;
    let changed = false;
    const x: MacroExtra = { queueId: env.queueId, sender };
    for (const p of this.peers) {
      if (p.state === 'off' || p.txnDone) continue;
      if (p.state === 'failed') return { kind: 'reply', reply: p.failure! };
      const t = p.spec.contentTimeout;
      try {
        const final = await this.content(p, f, msg, x, t);
        p.inTxn = false;
        if (!final) continue; // accepted during the headers or body: no end-of-message for it
        const v = this.verdict(p, 'message', final.reply);
        if (v !== 'next' && v.reply) return { kind: 'reply', reply: v.reply };
        if (v !== 'next' && v.discard) {
          discard = v.discard;
          break;
        }
        const allowed = p.conn!.negotiated.actions;
        const body: Buffer[] = [];
        for (const m of final.mods) {
          if (!permitted(m, allowed)) {
            this.log.warning(program, `${env.queueId}: milter ${p.spec.name}: ${m.kind} request was not negotiated; ignored`);
            continue;
          }
          changed = true;
          switch (m.kind) {
            case 'addheader': addHeader(msg, m.name, m.value); break;
            case 'insheader': insertHeader(msg, m.index, m.name, m.value); break;
            case 'chgheader': changeHeader(msg, m.index, m.name, m.value); break;
            case 'replbody': body.push(m.chunk); break;
            case 'addrcpt': added.push(bareAddress(m.address)); break;
            case 'delrcpt': deleted.push(bareAddress(m.address)); break;
            case 'chgfrom': sender = bareAddress(m.address); break;
            case 'quarantine': hold = m.reason || 'milter triggers HOLD action'; break;
          }
        }
        if (body.length) msg.body = normaliseBody(body);
      } catch (err) {
        const failure = this.fail(p, err, program);
        if (failure) return { kind: 'reply', reply: failure };
        hold ??= this.quarantine;
      }
    }
    return { kind: 'ok', data: changed ? joinMessage(msg) : data, sender, added, deleted, hold, discard, changed };
  }

  /** Send one milter the message; its end-of-message answer, or undefined when it accepted early. */
  private async content(p: Peer, f: SessionFacts, msg: ReturnType<typeof splitMessage>, x: MacroExtra, t: number): Promise<{ reply: MilterReply; mods: Modification[] } | undefined> {
    const early = (r: { reply: MilterReply } | undefined): { reply: MilterReply; mods: Modification[] } | 'accept' | undefined => {
      if (!r || r.reply.kind === 'continue') return undefined;
      if (r.reply.kind === 'accept') return 'accept';
      return { reply: r.reply, mods: [] };
    };
    for (const h of msg.headers) {
      const [name, value] = headerForMilter(h);
      const e = early(await this.ask(p, CMD.header, packet(CMD.header, z(name), z(value)), [], t));
      if (e === 'accept') return undefined;
      if (e) return e;
    }
    const eoh = early(await this.ask(p, CMD.eoh, packet(CMD.eoh), this.macros(p, 'eoh', f, x), t));
    if (eoh === 'accept') return undefined;
    if (eoh) return eoh;
    for (let off = 0; off < msg.body.length; off += BODY_CHUNK) {
      const r = await this.ask(p, CMD.body, packet(CMD.body, msg.body.subarray(off, off + BODY_CHUNK)), [], t);
      if (r?.reply.kind === 'skip') break;
      const e = early(r);
      if (e === 'accept') return undefined;
      if (e) return e;
    }
    return p.conn!.exchange(CMD.eob, [...this.macros(p, 'eom', f, x), packet(CMD.eob)], t);
  }

  /** End of the SMTP session: SMFIC_QUIT to every milter still connected. */
  close(): void {
    if (this.inMessage) {
      this.closeWanted = true;
      return;
    }
    this.closed = true;
    for (const p of this.peers) {
      p.conn?.quit();
      p.conn = undefined;
    }
  }
}

function permitted(m: Modification, allowed: number): boolean {
  switch (m.kind) {
    case 'addheader': return (allowed & ACT.addHeaders) !== 0;
    case 'insheader':
    case 'chgheader': return (allowed & (ACT.changeHeaders | ACT.addHeaders)) !== 0;
    case 'replbody': return (allowed & ACT.changeBody) !== 0;
    case 'addrcpt': return (allowed & (ACT.addRcpt | ACT.addRcptPar)) !== 0;
    case 'delrcpt': return (allowed & ACT.delRcpt) !== 0;
    case 'chgfrom': return (allowed & ACT.changeFrom) !== 0;
    case 'quarantine': return (allowed & ACT.quarantine) !== 0;
  }
}

