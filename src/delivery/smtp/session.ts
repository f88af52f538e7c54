/**
 * The client side of one SMTP or LMTP conversation (RFC 5321, RFC 2033 LMTP, RFC 2920
 * PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 3207
 * STARTTLS), after Postfix's smtp_proto.c:
 *
 * - open(): greeting, EHLO (HELO when EHLO is refused; LHLO for LMTP), STARTTLS per the
 *   TLS policy, EHLO again. Failures throw SiteError with Postfix's text ("host … refused to
 *   talk to me: …", "conversation with … timed out while receiving the initial server
 *   greeting") so the agent can try the next server.
 * - send(): one message. With PIPELINING, [RSET,] MAIL FROM, every RCPT TO and DATA leave
 *   in one write; replies are then read in order. Returns a result per recipient (RCPT 5xx
 *   bounces that recipient only) or one failure for all that are left (MAIL/DATA refusal,
 *   lost connection, timeout). LMTP reads one reply per accepted recipient after the dot.
 *
 * Peer replies are untrusted text: they are logged and reported, never interpreted beyond
 * the code, the enhanced code and the EHLO keywords.
 */

import { Connection, StreamError } from './connection.js';
import { type ServerReply, replyDsn, replyText, positive, intermediate, ehloKeywords } from './reply.js';
import { encodeBody } from './body.js';
import type { ClientSettings } from './settings.js';
import { type TlsPolicy, tlsRequired, handshakeOptions, judge, tlsLogLine } from './tls-policy.js';

export interface Failure {
  readonly dsn: string;
  readonly text: string;
  /** The peer's reply, for the DSN Diagnostic-Code. */
  readonly reply?: ServerReply;
  /** A 5xx that only bounces at the last server (try others first): Postfix's SOFT_NON_FINAL. */
  readonly softNonFinal?: boolean;
}

/** A failure of the whole session: try the next server (if any and the failure is temporary). */
export class SiteError extends Error {
  constructor(readonly failure: Failure, readonly retryPlain = false) {
    super(failure.text);
    this.name = 'SiteError';
  }
}

export interface Peer {
  /** Host name as logged ("mx.example", or myhostname for a UNIX socket). */
  readonly host: string;
  /** Address, or the socket path as written for UNIX sockets. */
  readonly address: string;
  /** Absent for UNIX sockets. */
  readonly port?: number;
}

export interface TxRecipient {
  readonly address: string;
  /** RFC 3461 ORCPT value as it goes on the wire ("rfc822;user@example.com", xtext). */
  readonly orcpt?: string;
  readonly notify?: readonly string[];
}

export interface Transaction {
  readonly sender: string;
  readonly recipients: readonly TxRecipient[];
  readonly data: Buffer;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly eightBit: boolean;
  /** The sender asked for SMTPUTF8 (MAIL FROM … SMTPUTF8). */
  readonly smtputf8: boolean;
  /** The envelope or headers hold UTF-8, so the peer must support SMTPUTF8. */
  readonly needsSmtputf8: boolean;
  /** XFORWARD NAME/ADDR of the original client (smtp_send_xforward_command). */
  readonly xforward?: { readonly name: string; readonly addr: string };
}

export type RcptResult = { readonly ok: true; readonly dsn: string; readonly text: string } | { readonly ok: false; readonly failure: Failure };

export interface TxResult {
  /** Per recipient: decided here, or undefined = decided by `all`. */
  readonly rcpt: (RcptResult | undefined)[];
  /** The failure for every recipient without its own result. */
  readonly all?: Failure;
  /** A reused connection turned out dead before MAIL FROM was answered: nothing happened, retry fresh. */
  readonly stale?: boolean;
}

export interface SessionOptions {
  readonly settings: ClientSettings;
  readonly policy: TlsPolicy;
  /** The next-hop domain, for certificate matching (nexthop, dot-nexthop). */
  readonly nexthopDomain: string;
  /** An info line in the agent's log ("Host offered STARTTLS: [mx]", the TLS summary). */
  readonly info: (line: string) => void;
}

/** How a server is named in outcomes: relay= and Remote-MTA. */
export interface PeerLabel {
  readonly namaddrport: string;
  readonly host: string;
}

/** "mx.example[192.0.2.1]:25", or "host[private/dovecot-lmtp]" for a UNIX socket. */
export function peerLabel(peer: Peer): PeerLabel {
  const namaddr = `${peer.host}[${peer.address}]`;
  return { namaddrport: peer.port === undefined ? namaddr : `${namaddr}:${peer.port}`, host: peer.host };
}

const hostSaid = (namaddr: string, r: ServerReply, command: string): Failure => ({
  dsn: replyDsn(r),
  text: `host ${namaddr} said: ${replyText(r)} (in reply to ${command})`,
  reply: r,
});

export class SmtpSession {
  readonly namaddr: string;
  readonly namaddrport: string;
  readonly createdAt = Date.now();
  features = new Map<string, string>();
  /** The next transaction starts with RSET (this connection carried a message before). */
  needsRset = false;
  /** Came out of the connection cache for this delivery. */
  reused = false;
  private broken = false;

  private constructor(readonly conn: Connection, readonly peer: Peer, private readonly o: SessionOptions) {
    this.namaddr = `${peer.host}[${peer.address}]`;
    this.namaddrport = peerLabel(peer).namaddrport;
  }

  get label(): PeerLabel {
    return peerLabel(this.peer);
  }

  get usable(): boolean {
    return !this.broken && this.conn.alive;
  }

  get lmtp(): boolean {
    return this.o.settings.lmtp;
  }

  private streamFailure(e: unknown, where: string): Failure {
    this.broken = true;
    if (e instanceof StreamError && e.kind === 'timeout') return { dsn: '4.4.2', text: `conversation with ${this.namaddr} timed out while ${where}` };
    return { dsn: '4.4.2', text: `lost connection with ${this.namaddr} while ${where}` };
  }

  private async readOr(timeout: number, where: string): Promise<ServerReply> {
    try {
      return await this.conn.read(timeout);
    } catch (e) {
      throw new SiteError(this.streamFailure(e, where));
    }
  }

  /** Connect-time conversation; throws SiteError. `plain` disables TLS (retry after a failed opportunistic handshake). */
  static async open(conn: Connection, peer: Peer, o: SessionOptions, plain: boolean): Promise<SmtpSession> {
    const s = new SmtpSession(conn, peer, o);
    try {
      await s.handshake(plain);
    } catch (e) {
      s.conn.destroy();
      throw e;
    }
    return s;
  }

  private async handshake(plain: boolean): Promise<void> {
    const st = this.o.settings;
    const policy = plain ? { ...this.o.policy, level: 'none' as const } : this.o.policy;
    if (st.tls.wrapper) {
      if (!tlsRequired(policy.level)) throw new SiteError({ dsn: '4.7.0', text: `${st.nameOf('smtp_tls_wrappermode')} requires "${st.nameOf('smtp_tls_security_level')} = encrypt" (or stronger)` });
      await this.tlsHandshake(policy);
    }
    const greeting = await this.readOr(st.timeouts.helo, 'receiving the initial server greeting');
    if (!positive(greeting)) {
      let dsn = replyDsn(greeting);
      // smtp_skip_5xx_greeting: a 5xx banner often means "busy"; try another server rather than bounce.
      if (dsn.startsWith('5') && st.skip5xxGreeting) dsn = '4' + dsn.slice(1);
      throw new SiteError({ dsn, text: `host ${this.namaddr} refused to talk to me: ${replyText(greeting)}`, reply: greeting });
    }
    await this.hello();
    if (st.tls.wrapper) return;
    await this.startTls(policy);
  }

  private async hello(): Promise<void> {
    const st = this.o.settings;
    const refused = (r: ServerReply): SiteError => new SiteError({ dsn: replyDsn(r), text: `host ${this.namaddr} refused to talk to me: ${replyText(r)}`, reply: r });
    if (st.lmtp) {
      this.conn.write(`LHLO ${st.heloName}\r\n`);
      const r = await this.readOr(st.timeouts.helo, 'performing the LHLO handshake');
      if (!positive(r)) throw refused(r);
      this.features = ehloKeywords(r);
      return;
    }
    this.conn.write(`EHLO ${st.heloName}\r\n`);
    const r = await this.readOr(st.timeouts.helo, 'performing the EHLO handshake');
    if (positive(r)) {
      this.features = ehloKeywords(r);
      return;
    }
    if (r.code === 421) throw refused(r);
    this.conn.write(`HELO ${st.heloName}\r\n`);
    const h = await this.readOr(st.timeouts.helo, 'performing the HELO handshake');
    if (!positive(h)) throw refused(h);
    this.features = new Map();
  }

  private async startTls(policy: TlsPolicy): Promise<void> {
    const st = this.o.settings;
    const offered = this.features.has('STARTTLS');
    if (policy.level === 'none') {
      if (offered && st.tls.noteStarttlsOffer) this.o.info(`Host offered STARTTLS: [${this.peer.host}]`);
      return;
    }
    const required = tlsRequired(policy.level);
    if (!offered) {
      if (required) throw new SiteError({ dsn: '4.7.4', text: `TLS is required, but was not offered by host ${this.namaddr}` });
      return;
    }
    this.conn.write('STARTTLS\r\n');
    const r = await this.readOr(st.timeouts.starttls, 'receiving the STARTTLS response');
    if (!positive(r)) {
      if (required) throw new SiteError({ dsn: replyDsn(r), text: `TLS is required, but host ${this.namaddr} refused to start TLS: ${replyText(r)}`, reply: r });
      return; // opportunistic: carry on in plain text on this connection
    }
    await this.tlsHandshake(policy);
    this.conn.write(`EHLO ${st.heloName}\r\n`);
    const e = await this.readOr(st.timeouts.helo, 'performing the EHLO handshake');
    if (!positive(e)) throw new SiteError({ dsn: replyDsn(e), text: `host ${this.namaddr} refused to talk to me: ${replyText(e)}`, reply: e });
    this.features = ehloKeywords(e);
  }

  private async tlsHandshake(policy: TlsPolicy): Promise<void> {
    const st = this.o.settings;
    let sock;
    try {
      sock = await this.conn.startTls(handshakeOptions(st, policy, this.peer.host), st.timeouts.starttls);
    } catch (err) {
      this.broken = true;
      this.o.info(`SSL_connect error to ${this.namaddrport}: ${(err as Error).message}`);
      // Opportunistic TLS: Postfix reconnects to the same server without TLS (RETRY_AS_PLAINTEXT).
      throw new SiteError({ dsn: '4.7.5', text: 'Cannot start TLS: handshake failure' }, policy.level === 'may');
    }
    const verdict = judge(sock, policy, { hostname: this.peer.host, nexthop: this.o.nexthopDomain, digest: st.tls.fingerprintDigest });
    if (st.tls.logLevel >= 1) this.o.info(tlsLogLine(verdict.trust, this.namaddrport, sock));
    if (!verdict.ok) {
      this.conn.quit();
      this.broken = true;
      throw new SiteError({ dsn: '4.7.5', text: 'Server certificate not verified' });
    }
  }

  /** MAIL FROM parameters for this message and this peer's keywords. */
  private mailCommand(tx: Transaction): string {
    const f = this.features;
    let cmd = `MAIL FROM:<${tx.sender}>`;
    if (f.has('SIZE')) cmd += ` SIZE=${tx.data.length}`;
    // Without 8BITMIME at the peer the message goes out unchanged (see docs/delivery.md).
    if (tx.eightBit && f.has('8BITMIME')) cmd += ' BODY=8BITMIME';
    if (tx.smtputf8 && f.has('SMTPUTF8')) cmd += ' SMTPUTF8';
    if (f.has('DSN')) {
      if (tx.ret) cmd += ` RET=${tx.ret}`;
      if (tx.envid) cmd += ` ENVID=${tx.envid}`;
    }
    return cmd;
  }

  private rcptCommand(r: TxRecipient): string {
    let cmd = `RCPT TO:<${r.address}>`;
    if (this.features.has('DSN')) {
      if (r.notify && r.notify.length) cmd += ` NOTIFY=${r.notify.join(',')}`;
      if (r.orcpt) cmd += ` ORCPT=${r.orcpt}`;
    }
    return cmd;
  }

  /** Send one message; never throws. */
  async send(tx: Transaction, encoded?: () => Buffer): Promise<TxResult> {
    const st = this.o.settings;
    const rcpt: (RcptResult | undefined)[] = tx.recipients.map(() => undefined);
    if (tx.needsSmtputf8 && !this.features.has('SMTPUTF8')) {
      return { rcpt, all: { dsn: '5.6.7', softNonFinal: true, text: `message requires SMTPUTF8, but no server was found that supports SMTPUTF8. The last attempted server was ${this.namaddr}` } };
    }
    const sizeLimit = Number(this.features.get('SIZE') ?? '0');
    if (sizeLimit > 0 && tx.data.length > sizeLimit) {
      return { rcpt, all: { dsn: '5.3.4', text: `message size ${tx.data.length} exceeds size limit ${sizeLimit} of server ${this.namaddr}` } };
    }
    const pipelining = this.features.has('PIPELINING');
    const xforward = tx.xforward && st.xforward && this.features.has('XFORWARD') ? `XFORWARD NAME=${tx.xforward.name} ADDR=${tx.xforward.addr}` : undefined;
    const mail = this.mailCommand(tx);
    const rcpts = tx.recipients.map((r) => this.rcptCommand(r));
    const rset = this.needsRset;
    this.needsRset = true;
    if (pipelining) {
      // One write for the whole group; with TCP_NODELAY it leaves as one segment.
      const group = [...(rset ? ['RSET'] : []), ...(xforward ? [xforward] : []), mail, ...rcpts, 'DATA'];
      this.conn.write(group.join('\r\n') + '\r\n');
    }
    const cmd = async (line: string, timeout: number): Promise<ServerReply> => {
      if (!pipelining) this.conn.write(line + '\r\n');
      return this.conn.read(timeout);
    };
    let where = 'sending RSET probe';
    try {
      if (rset) {
        const r = await cmd('RSET', st.timeouts.rset);
        if (!positive(r)) {
          this.broken = true;
          return { rcpt, stale: true };
        }
      }
    } catch {
      this.broken = true;
      return { rcpt, stale: true };
    }
    try {
      if (xforward) {
        where = 'sending XFORWARD name/address';
        const r = await cmd(xforward, st.timeouts.mail);
        if (!positive(r)) this.o.info(`warning: host ${this.namaddrport} said: ${replyText(r)} (in reply to XFORWARD name/address command)`);
      }
      where = 'sending MAIL FROM';
      const m = await cmd(mail, st.timeouts.mail);
      const mailFailure = positive(m) ? undefined : hostSaid(this.namaddr, m, 'MAIL FROM command');
      if (mailFailure && !pipelining) return { rcpt, all: mailFailure };
      where = 'sending RCPT TO';
      const accepted: number[] = [];
      for (let i = 0; i < rcpts.length; i++) {
        const r = await cmd(rcpts[i]!, st.timeouts.rcpt);
        if (mailFailure) continue; // all recipients are dead already; the replies only keep us in step
        if (positive(r)) accepted.push(i);
        else rcpt[i] = { ok: false, failure: hostSaid(this.namaddr, r, 'RCPT TO command') };
      }
      if (!pipelining && (mailFailure || accepted.length === 0)) return { rcpt, ...(mailFailure ? { all: mailFailure } : {}) };
      where = 'sending DATA command';
      const d = await cmd('DATA', st.timeouts.dataInit);
      if (mailFailure || accepted.length === 0) {
        if (intermediate(d)) {
          // A server that said 354 with no valid recipient gets an empty message, whose reply we ignore.
          this.conn.write('.\r\n');
          await this.conn.read(st.timeouts.dataDone);
        }
        return { rcpt, ...(mailFailure ? { all: mailFailure } : {}) };
      }
      if (!intermediate(d)) return { rcpt, all: hostSaid(this.namaddr, d, 'DATA command') };
      where = 'sending message body';
      await this.conn.writeBody(encoded ? encoded() : encodeBody(tx.data), st.timeouts.dataXfer);
      where = 'sending end of data -- message may be sent more than once';
      if (!st.lmtp) {
        const e = await this.conn.read(st.timeouts.dataDone);
        if (!positive(e)) return { rcpt, all: hostSaid(this.namaddr, e, 'end of DATA command') };
        for (const i of accepted) rcpt[i] = { ok: true, dsn: replyDsn(e), text: replyText(e) };
        return { rcpt };
      }
      // LMTP (RFC 2033 §4.2): one reply per accepted recipient, in RCPT order.
      for (const i of accepted) {
        const e = await this.conn.read(st.timeouts.dataDone);
        rcpt[i] = positive(e) ? { ok: true, dsn: replyDsn(e), text: replyText(e) } : { ok: false, failure: hostSaid(this.namaddr, e, 'end of DATA command') };
      }
      return { rcpt };
    } catch (e) {
      return { rcpt, all: this.streamFailure(e, where) };
    }
  }

  /** QUIT without waiting for the reply, and close; a session in an unknown state is just closed. */
  quit(): void {
    if (this.usable) this.conn.quit();
    else this.conn.destroy();
    this.broken = true;
  }
}
