/**
 * planNotices: which notices one delivery attempt calls for, and to whom, as Postfix's
 * bounce(8) decides (bounce_notify_service.c, bounce_warn_service.c,
 * bounce_trace_service.c) with RFC 3461 NOTIFY:
 *
 * - failed (bounced or expired) recipients: one non-delivery notice to the sender listing
 *   those with NOTIFY absent or containing FAILURE, the original per RET (default FULL);
 *   with notify_classes bounce, a headers-only copy of all of them to
 *   bounce_notice_recipient;
 * - deferred recipients, when a delay warning is due: one delay notice (headers only)
 *   listing those with NOTIFY absent or containing DELAY; with notify_classes delay, a copy
 *   to delay_notice_recipient;
 * - delivered recipients with NOTIFY=SUCCESS: one success notice (headers only), Action
 *   delivered, or relayed for a peer without DSN; none when a DSN peer took NOTIFY over;
 * - mail from <> (a bounce) never gets a notice back: its failures go to
 *   2bounce_notice_recipient as a double bounce (notify_classes 2bounce or bounce), its
 *   delays to delay_notice_recipient (notify_classes delay); mail from the double-bounce
 *   sender gets nothing at all (the loop ends here);
 * - recipients whose failure has an errorClass named in notify_classes (resource,
 *   software): a headers-only notice to error_notice_recipient.
 *
 * Pure: no I/O; the caller enqueues the notices and logs them once they are durable.
 */

import { newQueueId } from '../queue/queue-id.js';
import { buildDsnMessage } from './message.js';
import { isEightBit } from './original.js';
import type { AttemptResult, DsnSettings, Notice, NoticeKind, NoticeLogAs, NoticePlan, OriginalMessage, ReportKind } from './types.js';

export interface PlanInput {
  readonly msg: OriginalMessage;
  /** Every recipient result of this attempt (sent, deferred, bounced, expired). */
  readonly results: readonly AttemptResult[];
  /** True when this attempt should send delay warnings (see delayWarningDue). */
  readonly delayWarning: boolean;
  readonly settings: DsnSettings;
  /** Default Date.now(). */
  readonly now?: number;
  /** Queue IDs for the notices; default queue/queue-id.ts newQueueId(). */
  readonly newId?: () => string;
}

/** Upper-cased NOTIFY words; empty when NOTIFY was not given. */
function notifyWords(r: AttemptResult): Set<string> {
  return new Set((r.notify ?? []).map((w) => w.trim().toUpperCase()).filter(Boolean));
}

/** RFC 3461 §4.1: without NOTIFY, failures (and, at the MTA's choice, delays) are reported. */
export function wantsNotice(r: AttemptResult, report: ReportKind): boolean {
  const words = notifyWords(r);
  if (words.has('NEVER')) return false;
  if (words.size === 0) return report !== 'success';
  return words.has(report === 'failure' ? 'FAILURE' : report === 'delay' ? 'DELAY' : 'SUCCESS');
}

/** True for the double-bounce sender, qualified or bare: notices about its mail end here. */
export function isDoubleBounceSender(sender: string, s: DsnSettings): boolean {
  const lower = sender.toLowerCase();
  const dbl = s.doubleBounceSender.toLowerCase();
  return lower === dbl || (!lower.includes('@') && lower !== '' && lower === dbl.split('@')[0]);
}

/**
 * Delay warnings are sent once: on the first attempt that ends after arrival +
 * delay_warning_time. `previousAttempt` is the end of the attempt before this one (none on
 * the first attempt).
 */
export function delayWarningDue(o: { arrival: number; now: number; previousAttempt?: number; delayWarningMs: number }): boolean {
  if (o.delayWarningMs <= 0) return false;
  const due = o.arrival + o.delayWarningMs;
  return o.now >= due && (o.previousAttempt === undefined || o.previousAttempt < due);
}

export function planNotices(input: PlanInput): NoticePlan {
  const { msg, settings: s } = input;
  const now = input.now ?? Date.now();
  const newId = input.newId ?? (() => newQueueId(now));
  const notices: Notice[] = [];
  const warnings: string[] = [];
  const infos: string[] = [];
  const classes = s.notifyClasses;
  // Scanned only when a notice is made: most attempts (a plain success) make none.
  let eightBit: boolean | undefined;

  const add = (n: {
    kind: NoticeKind; report: ReportKind; postmasterCopy: boolean; sender: string; to: string;
    recipients: readonly AttemptResult[]; ret: 'FULL' | 'HDRS'; logAs: NoticeLogAs;
  }) => {
    const id = newId();
    const data = buildDsnMessage({
      report: n.report, postmasterCopy: n.postmasterCopy, to: n.to, id, original: msg,
      recipients: n.recipients, ret: n.ret, settings: s, now,
    });
    notices.push({
      kind: n.kind, report: n.report, id, sender: n.sender, recipients: [n.to], data,
      bodyType: (eightBit ??= isEightBit(msg) || msg.smtputf8 === true) ? '8BITMIME' : '7BIT', smtputf8: msg.smtputf8 === true, logAs: n.logAs,
    });
  };

  const fromNull = msg.sender === '';
  const fromDoubleBounce = !fromNull && isDoubleBounceSender(msg.sender, s);
  const dbl = s.doubleBounceSender;
  const discarded = `${msg.id}: undeliverable postmaster notification discarded`;

  // Non-delivery (bounced now, or expired: returned to sender with the last deferral reason).
  const failed = input.results.filter((r) => r.status === 'bounced' || r.status === 'expired');
  if (failed.length > 0) {
    if (fromDoubleBounce) warnings.push(discarded);
    else if (fromNull) {
      if (classes.has('2bounce')) {
        add({ kind: 'double-bounce', report: 'failure', postmasterCopy: true, sender: dbl, to: s.twoBounceNoticeRecipient, recipients: failed, ret: 'FULL', logAs: 'postmaster non-delivery notification' });
      }
    } else {
      const toSender = failed.filter((r) => wantsNotice(r, 'failure'));
      if (toSender.length > 0) {
        add({ kind: 'bounce', report: 'failure', postmasterCopy: false, sender: '', to: msg.sender, recipients: toSender, ret: msg.ret ?? 'FULL', logAs: 'sender non-delivery notification' });
      }
      // The postmaster copy lists every failed recipient, whatever its NOTIFY (DSN_NOTIFY_OVERRIDE).
      if (classes.has('bounce')) {
        add({ kind: 'postmaster-copy', report: 'failure', postmasterCopy: true, sender: dbl, to: s.bounceNoticeRecipient, recipients: failed, ret: 'HDRS', logAs: 'postmaster non-delivery notification' });
      }
    }
  }

  // Delay warnings: headers only, always (bounce_warn_service.c).
  const delayed = input.delayWarning && s.delayWarningMs > 0 ? input.results.filter((r) => r.status === 'deferred') : [];
  if (delayed.length > 0) {
    if (fromDoubleBounce) warnings.push(discarded);
    else if (fromNull) {
      if (classes.has('delay')) {
        add({ kind: 'double-bounce', report: 'delay', postmasterCopy: true, sender: dbl, to: s.delayNoticeRecipient, recipients: delayed, ret: 'FULL', logAs: 'postmaster delay notification' });
      }
    } else {
      const toSender = delayed.filter((r) => wantsNotice(r, 'delay'));
      if (toSender.length > 0) {
        add({ kind: 'delay', report: 'delay', postmasterCopy: false, sender: '', to: msg.sender, recipients: toSender, ret: 'HDRS', logAs: 'sender delay notification' });
      }
      if (classes.has('delay')) {
        add({ kind: 'postmaster-copy', report: 'delay', postmasterCopy: true, sender: dbl, to: s.delayNoticeRecipient, recipients: delayed, ret: 'HDRS', logAs: 'postmaster delay notification' });
      }
    }
  }

  // Success reports: NOTIFY=SUCCESS only; a DSN-capable next hop reports for itself.
  const succeeded = input.results.filter((r) => r.status === 'sent' && !r.dsnPassedOn && wantsNotice(r, 'success') && notifyWords(r).size > 0);
  if (succeeded.length > 0) {
    if (fromDoubleBounce) infos.push(`${msg.id}: not sending trace/success notification for double-bounce message`);
    else if (fromNull) {
      if (classes.has('2bounce')) {
        add({ kind: 'double-bounce', report: 'success', postmasterCopy: false, sender: dbl, to: s.twoBounceNoticeRecipient, recipients: succeeded, ret: 'HDRS', logAs: 'sender delivery status notification' });
      } else infos.push(`${msg.id}: not sending trace/success notification for single-bounce message`);
    } else {
      add({ kind: 'success', report: 'success', postmasterCopy: false, sender: '', to: msg.sender, recipients: succeeded, ret: 'HDRS', logAs: 'sender delivery status notification' });
    }
  }

  // Resource and software problems, when notify_classes asks for them. Never about the
  // postmaster's own notices (their sender is the double-bounce address).
  if (!fromDoubleBounce) {
    const troubled = input.results.filter((r) => r.errorClass !== undefined && r.status !== 'sent' && classes.has(r.errorClass));
    const failedOnes = troubled.filter((r) => r.status !== 'deferred');
    const deferredOnes = troubled.filter((r) => r.status === 'deferred');
    if (failedOnes.length > 0) {
      add({ kind: 'postmaster-copy', report: 'failure', postmasterCopy: true, sender: dbl, to: s.errorNoticeRecipient, recipients: failedOnes, ret: 'HDRS', logAs: 'postmaster non-delivery notification' });
    }
    if (deferredOnes.length > 0) {
      add({ kind: 'postmaster-copy', report: 'delay', postmasterCopy: true, sender: dbl, to: s.errorNoticeRecipient, recipients: deferredOnes, ret: 'HDRS', logAs: 'postmaster delay notification' });
    }
  }

  return { notices, warnings, infos };
}
