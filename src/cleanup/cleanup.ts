/**
 * cleanup: between the end of DATA and the queue. Adds policy PREPEND headers and the
 * Received: header, runs header/body checks (content/), authentication (auth/) and spamd
 * (spamd/), runs the session's milters at end of message (milter/), DKIM-signs our users' mail (dkim/), applies whole-message effects
 * (HOLD, DISCARD, REDIRECT, BCC, FILTER) from policy and content checks, stores the message
 * through the queue's group commit, and only then answers 250. Never throws: a failed
 * write is "451 4.3.0" / "452 4.3.1" and a log line; a content REJECT is its 5xx reply.
 */

import type { Cleanup, Submission } from './types.js';
import type { QueueStore } from '../queue/store.js';
import type { QueuedMessage } from '../queue/types.js';
import { QueueWriteError } from '../queue/types.js';
import { newQueueId } from '../queue/queue-id.js';
import type { MailLog } from '../log/maillog.js';
import { programName } from '../log/maillog.js';
import { queueLog } from '../log/queue-events.js';
import type { Params } from '../config/types.js';
import { reply, type Reply } from '../protocol/reply.js';
import { receivedHeader } from './received.js';
import { TableRegistry } from '../tables/open.js';
import { headerBodyChecks } from './content/stage.js';
import { authenticationStep, isTrustedClient } from './auth/stage.js';
import { dkimSignStep } from './dkim/sign.js';
import { spamdStep } from './spamd/stage.js';
import { milterStep } from './milter/stage.js';
import type { Dns } from '../dns/types.js';

/** The Message-ID header value (unfolded), or "" when there is none. */
export function findMessageId(data: Buffer): string {
  const end = data.indexOf('\r\n\r\n');
  const head = data.subarray(0, end < 0 ? Math.min(data.length, 65536) : end).toString('latin1');
  const m = /^message-id:[ \t]*((?:.*)(?:\r\n[ \t].*)*)/im.exec(head);
  return m ? m[1]!.replace(/\r\n[ \t]+/g, ' ').trim() : '';
}

/** X-Postern-Decision: one line per decision (rule and line, authentication results), folded. */
export function explainHeader(decisions: readonly string[]): string {
  return `X-Postern-Decision: ${decisions.map((d) => d.replace(/[\r\n]+/g, ' ')).join(';\r\n\t')}\r\n`;
}

export function createCleanup(deps: { store: QueueStore; log: MailLog; params: Params; scheduler: { submitted(msg: QueuedMessage): void }; tables?: TableRegistry; dns?: Dns; configDir?: string }): Cleanup {
  const { store, log, params, scheduler } = deps;
  const tables = deps.tables ?? new TableRegistry();
  const syslogName = params.str('syslog_name');
  const cleanupProg = programName(syslogName, 'cleanup');
  const qmgrProg = programName(syslogName, 'qmgr');
  const myhostname = params.str('myhostname');
  const mailName = params.str('mail_name');

  return {
    newQueueId: () => newQueueId(),

    async submit(s: Submission): Promise<Reply> {
      const now = Date.now();
      const prepend = s.effects.prepend.map((h) => `${h.replace(/\r?\n/g, '\r\n')}\r\n`).join('');
      const received = receivedHeader(s.facts, { myhostname, mailName, queueId: s.queueId, recipients: s.recipients.map((r) => r.address), date: new Date(now) });
      let data: Buffer = Buffer.concat([Buffer.from(prepend + received, 'utf8'), s.data]);
      queueLog.messageId(log, cleanupProg, s.queueId, findMessageId(s.data) || '<>');
      const checked = await headerBodyChecks({ tables, log, program: cleanupProg }, s, data);
      if ('reply' in checked) return checked.reply;
      const content = checked.outcome;
      if (content) data = content.data;
      const milters = await milterStep({ log, program: cleanupProg }, s, data);
      if ('reply' in milters) return milters.reply;
      data = milters.data;
      const sender = milters.sender;
      const auth = await authenticationStep({ dns: deps.dns, tables, log, program: cleanupProg }, s, data);
      if ('reply' in auth) return auth.reply;
      data = auth.data;
      const spam = await spamdStep({ log, program: cleanupProg }, s, data);
      if ('reply' in spam) return spam.reply;
      data = spam.data;
      const decisions = [...(content?.decisions ?? []), ...(milters.summary ? [milters.summary] : []), ...(auth.summary ? [auth.summary] : []), ...(spam.summary ? [spam.summary] : [])];
      if (decisions.length > 0 && s.facts.params.bool('postern_explain_header')) data = Buffer.concat([Buffer.from(explainHeader(decisions), 'utf8'), data]);
      data = await dkimSignStep({ tables, log, program: cleanupProg, configDir: deps.configDir, trusted: (x) => isTrustedClient(x, tables) }, s, data);
      const effects = {
        hold: content?.hold ?? milters.hold ?? auth.hold ?? s.effects.hold, discard: content?.discard ?? milters.discard ?? s.effects.discard,
        // FILTER from header/body checks, then from access tables, then the listener's content_filter.
        redirect: content?.redirect ?? s.effects.redirect, filter: content?.filter ?? s.effects.filter ?? (s.facts.params.str('content_filter').trim() || undefined),
      };
      const bcc = (content?.bcc ?? []).map((address) => ({ address }));
      const recipients = [...(effects.redirect ? [{ address: effects.redirect }] : milters.recipients), ...bcc];
      if (effects.discard !== undefined) {
        // A content DISCARD was logged by the check itself ("discard: header …"), as Postfix does.
        if (content?.discard === undefined && milters.discard === undefined) queueLog.discarded(log, cleanupProg, s.queueId, effects.discard || 'discarded by policy');
        queueLog.removed(log, qmgrProg, s.queueId);
        return reply(250, '2.0.0', `Ok: queued as ${s.queueId}`);
      }
      const msg: QueuedMessage = {
        id: s.queueId, arrival: now, sender,
        recipients: recipients.map((r) => ({ ...r, status: 'pending' as const })),
        data, envid: s.envid, ret: s.ret, bodyType: s.bodyType, smtputf8: s.smtputf8, client: s.clientLabel,
        hold: effects.hold, filter: effects.filter, nextAttempt: now, attempts: 0,
      };
      try {
        await store.enqueue(msg);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        queueLog.writeError(log, cleanupProg, s.queueId, why);
        if (err instanceof QueueWriteError && err.kind === 'nospace') return reply(452, '4.3.1', 'Insufficient system storage');
        return reply(451, '4.3.0', 'Error: queue file write error');
      }
      if (effects.hold !== undefined) {
        if (content?.hold === undefined && milters.hold === undefined && auth.hold === undefined) queueLog.held(log, cleanupProg, s.queueId, effects.hold || 'held by policy');
      } else {
        queueLog.active(log, qmgrProg, s.queueId, sender, data.length, recipients.length);
        scheduler.submitted(msg);
      }
      return reply(250, '2.0.0', `Ok: queued as ${s.queueId}`);
    },
  };
}
