/**
 * Hand-off of planned notices to the queue and the log: the QueuedMessage for a notice
 * (the scheduler enqueues it like any message; its recipients carry no NOTIFY, so a
 * failed notice is a bounce from <> and becomes a double bounce), and the postfix/bounce
 * lines Postfix writes once a notice is queued or when it sends none.
 */

import type { QueuedMessage } from '../queue/types.js';
import type { MailLog } from '../log/maillog.js';
import { programName } from '../log/maillog.js';
import { noticeLog } from '../log/queue-events.js';
import type { Notice, NoticePlan } from './types.js';

/** The queue record for a notice, due now. `client` is what mailq and logs show for it. */
export function noticeToQueuedMessage(n: Notice, now: number = Date.now()): QueuedMessage {
  return {
    id: n.id, arrival: now, sender: n.sender,
    recipients: n.recipients.map((address) => ({ address, status: 'pending' as const })),
    data: n.data, bodyType: n.bodyType, smtputf8: n.smtputf8 || undefined, client: 'local',
    nextAttempt: now, attempts: 0,
  };
}

/** "ORIGID: sender non-delivery notification: NEWID" (postfix/bounce), after the notice is durable. */
export function logNoticeQueued(log: MailLog, syslogName: string, originalId: string, n: Notice): void {
  const program = programName(syslogName, 'bounce');
  switch (n.logAs) {
    case 'sender non-delivery notification':
      return noticeLog.senderNonDelivery(log, program, originalId, n.id);
    case 'sender delay notification':
      return noticeLog.senderDelay(log, program, originalId, n.id);
    case 'sender delivery status notification':
      return noticeLog.senderDeliveryStatus(log, program, originalId, n.id);
    case 'postmaster non-delivery notification':
      return noticeLog.postmasterNonDelivery(log, program, originalId, n.id);
    case 'postmaster delay notification':
      return noticeLog.postmasterDelay(log, program, originalId, n.id);
  }
}

/** The plan's warnings and infos (no notice sent, and why), as postfix/bounce lines. */
export function logPlanNotes(log: MailLog, syslogName: string, plan: NoticePlan): void {
  const program = programName(syslogName, 'bounce');
  for (const w of plan.warnings) log.warning(program, w);
  for (const i of plan.infos) log.line(program, i);
}
