/**
 * Per-recipient bookkeeping of one delivery request, with Postfix's "final server" rule
 * (smtp_trouble.c): a temporary failure at a server that is not the last one to try keeps
 * the recipient for the next server; at the last server it is deferred; a permanent failure
 * bounces at once (except SMTPUTF8's "soft non-final" 5.6.7, which tries other servers
 * first). Builds TransportOutcome values with relay=, Remote-MTA and Diagnostic-Code.
 */

import type { RoutedRecipient, TransportOutcome } from '../types.js';
import type { Failure, PeerLabel, RcptResult, SmtpSession } from './session.js';
import { replyText } from './reply.js';

export interface Where {
  /** The server the failure happened at; absent before any server answered. */
  readonly peer?: PeerLabel;
}

export class RecipientTracker {
  private readonly done = new Map<number, TransportOutcome>();
  /** The failure that leftover recipients get at the end (the last one seen, like Postfix's `why`). */
  last: { failure: Failure; where: Where } | undefined;
  private setupDone: number | undefined;

  constructor(readonly recipients: readonly RoutedRecipient[], private readonly started: number, private readonly lmtp: boolean) {}

  /** Indexes of recipients still without an outcome. */
  pending(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.recipients.length; i++) if (!this.done.has(i)) out.push(i);
    return out;
  }

  get anyPending(): boolean {
    return this.done.size < this.recipients.length;
  }

  /** The connection is set up (delays=…/c/…): first greeting+EHLO(+TLS) completed, or all failed. */
  markSetup(): void {
    this.setupDone ??= Date.now();
  }

  private connectSeconds(): number {
    return ((this.setupDone ?? Date.now()) - this.started) / 1000;
  }

  private peerFields(where: Where, failure?: Failure): Pick<TransportOutcome, 'relay' | 'remoteMta' | 'diagnostic'> {
    const s = where.peer;
    if (!s) return { relay: 'none' };
    const out: { relay: string; remoteMta: string; diagnostic?: string } = { relay: s.namaddrport, remoteMta: `dns; ${s.host}` };
    if (failure?.reply) out.diagnostic = `smtp; ${replyText(failure.reply)}`;
    return out;
  }

  /** Apply a failure to recipient i; returns true when it became final. */
  fail(i: number, failure: Failure, final: boolean, where: Where): boolean {
    this.last = { failure, where };
    const soft = failure.dsn.startsWith('4') || (failure.softNonFinal === true && !final);
    if (soft && !final) return false;
    this.done.set(i, {
      recipient: this.recipients[i]!,
      status: soft ? 'deferred' : 'bounced',
      dsn: failure.dsn,
      text: failure.text,
      ...this.peerFields(where, failure),
      connectSeconds: this.connectSeconds(),
    });
    return true;
  }

  /** Apply a failure to every pending recipient (a whole-session failure). Returns whether any stay pending. */
  failAll(failure: Failure, final: boolean, where: Where): boolean {
    for (const i of this.pending()) this.fail(i, failure, final, where);
    this.last = { failure, where };
    return this.anyPending;
  }

  sent(i: number, r: Extract<RcptResult, { ok: true }>, session: SmtpSession): void {
    const rcpt = this.recipients[i]!;
    // RFC 3461 §6.2.1.2: a peer without DSN cannot report success, so the success notice says "relayed".
    const dsnPeer = session.features.has('DSN');
    const relayed = !this.lmtp && (rcpt.notify ?? []).some((n) => n.toUpperCase() === 'SUCCESS') && !dsnPeer;
    this.done.set(i, {
      recipient: rcpt,
      status: 'sent',
      dsn: r.dsn,
      text: r.text,
      relay: session.namaddrport,
      remoteMta: `dns; ${session.peer.host}`,
      diagnostic: `smtp; ${r.text}`,
      ...(relayed ? { relayed: true } : {}),
      // A DSN-capable peer got our NOTIFY and reports success itself (Postfix clears SUCCESS then).
      ...(dsnPeer ? { dsnPassedOn: true } : {}),
      connectSeconds: this.connectSeconds(),
    });
  }

  /** Final outcomes in request order; recipients still pending get `leftover`. */
  finish(leftover: { failure: Failure; where: Where }): TransportOutcome[] {
    for (const i of this.pending()) this.fail(i, leftover.failure, true, leftover.where);
    return this.recipients.map((_, i) => this.done.get(i)!);
  }
}
