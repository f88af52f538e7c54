/** Mail log sentences of cleanup, qmgr and the delivery agents, one function per event (Postfix wording). */

import type { MailLog } from './maillog.js';

/** Postfix's delay format: "0" under 10 ms, two significant digits below 10 s, whole seconds above. */
export function fmtDelay(seconds: number): string {
  if (seconds < 0.01) return '0';
  if (seconds >= 10) return String(Math.round(seconds));
  // Two significant digits, at most two decimals (Postfix's format_tv with sig 2, max 2).
  return String(Number(Number(seconds.toPrecision(2)).toFixed(2)));
}

export const queueLog = {
  messageId(log: MailLog, program: string, id: string, messageId: string): void {
    log.line(program, `${id}: message-id=${messageId}`);
  },
  active(log: MailLog, program: string, id: string, sender: string, size: number, nrcpt: number): void {
    log.line(program, `${id}: from=<${sender}>, size=${size}, nrcpt=${nrcpt} (queue active)`);
  },
  held(log: MailLog, program: string, id: string, reason: string): void {
    log.line(program, `${id}: hold: ${reason}`);
  },
  discarded(log: MailLog, program: string, id: string, reason: string): void {
    log.line(program, `${id}: discard: ${reason}`);
  },
  writeError(log: MailLog, program: string, id: string, why: string): void {
    log.warning(program, `${id}: queue file write error: ${why}`);
  },
  delivery(log: MailLog, program: string, id: string, d: {
    to: string; origTo?: string; relay: string; delay: number; delays: [number, number, number, number]; dsn: string; status: string; text: string;
  }): void {
    const orig = d.origTo && d.origTo.toLowerCase() !== d.to.toLowerCase() ? `, orig_to=<${d.origTo}>` : '';
    log.line(program, `${id}: to=<${d.to}>${orig}, relay=${d.relay}, delay=${fmtDelay(d.delay)}, delays=${d.delays.map(fmtDelay).join('/')}, dsn=${d.dsn}, status=${d.status} (${d.text})`);
  },
  removed(log: MailLog, program: string, id: string): void {
    log.line(program, `${id}: removed`);
  },
  /** Postfix would say "status=expired, returned to sender"; we cannot return it yet, so we keep it. */
  expiredKept(log: MailLog, program: string, id: string, sender: string): void {
    log.warning(program, `${id}: from=<${sender}>, maximal_queue_lifetime exceeded; kept in the queue because returning mail to the sender is not implemented yet`);
  },
};

/** What the queue tools (postsuper) and local submission (pickup) log, Postfix's wording. */
export const toolLog = {
  /** postsuper -d; qmgr's "removed" after delivery is queueLog.removed. */
  removed(log: MailLog, program: string, id: string): void {
    log.line(program, `${id}: removed`);
  },
  placedOnHold(log: MailLog, program: string, id: string): void {
    log.line(program, `${id}: placed on hold`);
  },
  releasedFromHold(log: MailLog, program: string, id: string): void {
    log.line(program, `${id}: released from hold`);
  },
  requeued(log: MailLog, program: string, id: string): void {
    log.line(program, `${id}: requeued`);
  },
  /** pickup: "ID: uid=0 from=<root>" (the sender as submitted, before qualification). */
  pickup(log: MailLog, program: string, id: string, uid: number, sender: string): void {
    log.line(program, `${id}: uid=${uid} from=<${sender}>`);
  },
};

/**
 * postfix/bounce and postfix/qmgr sentences for delivery status notifications (bounce(8)):
 * "ORIGID: sender non-delivery notification: NEWID" and friends, logged once the notice is
 * in the queue; the expiry line is qmgr's.
 */
export const noticeLog = {
  senderNonDelivery(log: MailLog, program: string, id: string, newId: string): void {
    log.line(program, `${id}: sender non-delivery notification: ${newId}`);
  },
  senderDelay(log: MailLog, program: string, id: string, newId: string): void {
    log.line(program, `${id}: sender delay notification: ${newId}`);
  },
  senderDeliveryStatus(log: MailLog, program: string, id: string, newId: string): void {
    log.line(program, `${id}: sender delivery status notification: ${newId}`);
  },
  postmasterNonDelivery(log: MailLog, program: string, id: string, newId: string): void {
    log.line(program, `${id}: postmaster non-delivery notification: ${newId}`);
  },
  postmasterDelay(log: MailLog, program: string, id: string, newId: string): void {
    log.line(program, `${id}: postmaster delay notification: ${newId}`);
  },
  /** qmgr, when maximal_queue_lifetime (bounce_queue_lifetime for <>) has passed. */
  expired(log: MailLog, program: string, id: string, sender: string): void {
    log.line(program, `${id}: from=<${sender}>, status=expired, returned to sender`);
  },
};
