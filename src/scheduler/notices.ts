/**
 * The scheduler's side of bounces and notices (Postfix's qmgr → bounce(8) hand-off): turns
 * one attempt's results into dsn/'s AttemptResults, asks dsn/ which notices are due, and
 * puts each notice into the queue (durably) before the scheduler records the attempt — so a
 * crash can at worst send a notice twice, never lose the news that mail failed. Returns the
 * log lines to write after the delivery lines, in Postfix's order.
 */

import type { QueueStore } from '../queue/store.js';
import type { QueuedMessage } from '../queue/types.js';
import type { MailLog } from '../log/maillog.js';
import type { Params } from '../config/types.js';
import { dsnSettings, planNotices, noticeToQueuedMessage, logNoticeQueued, logPlanNotes, type AttemptResult } from '../dsn/index.js';
import type { Notifier, NoticeResult } from './scheduler.js';
import { queueLog } from '../log/queue-events.js';
import { programName } from '../log/maillog.js';
import { findMessageId } from '../cleanup/cleanup.js';

export function createNotifier(deps: { store: QueueStore; log: MailLog; params: Params; submitted: (msg: QueuedMessage) => void }): Notifier {
  const { store, log, params } = deps;
  const settings = dsnSettings(params);
  const syslogName = params.str('syslog_name');

  const toAttempt = (r: NoticeResult, expired: boolean): AttemptResult => ({
    recipient: r.outcome.recipient.recipient,
    originalRecipient: r.queued.address,
    orcpt: r.queued.orcpt,
    notify: r.queued.notify,
    status: expired ? 'expired' : r.outcome.status,
    dsn: r.outcome.dsn,
    text: r.outcome.text,
    diagnostic: r.outcome.diagnostic,
    remoteMta: r.outcome.remoteMta,
    relayed: r.outcome.relayed,
    dsnPassedOn: r.outcome.dsnPassedOn,
  });

  return async (msg, results, opts) => {
    const now = Date.now();
    // A recipient gets one delay warning: once delay_warning_time has passed, at its first deferral after that.
    const warnable = settings.delayWarningMs > 0 && now - msg.arrival >= settings.delayWarningMs;
    const attempts = results
      .filter((r) => r.outcome.status !== 'deferred' || (warnable && !r.queued.delayNotified))
      .map((r) => toAttempt(r, opts.expired));
    if (attempts.length === 0) return () => undefined;
    const plan = planNotices({ msg, results: attempts, delayWarning: warnable, settings, now });
    for (const n of plan.notices) {
      const queued = noticeToQueuedMessage(n, now);
      await store.enqueue(queued);
      deps.submitted(queued);
    }
    if (warnable) for (const r of results) if (r.outcome.status === 'deferred') r.queued.delayNotified = true;
    return () => {
      for (const n of plan.notices) {
        // As Postfix: cleanup names the notice's Message-ID, bounce ties it to the original, qmgr takes it.
        queueLog.messageId(log, programName(syslogName, 'cleanup'), n.id, findMessageId(n.data) || '<>');
        logNoticeQueued(log, syslogName, msg.id, n);
        queueLog.active(log, programName(syslogName, 'qmgr'), n.id, n.sender, n.data.length, n.recipients.length);
      }
      logPlanNotes(log, syslogName, plan);
    };
  };
}
