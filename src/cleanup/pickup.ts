/**
 * Local submission (Postfix's postdrop → pickup → cleanup, in one step): a message handed
 * over by `postern sendmail` gets pickup's Received: header and cleanup's treatment —
 * Bcc/Resent-Bcc/Content-Length/Return-Path dropped (message_drop_headers' default),
 * Message-Id/Date/From added when missing (missing-headers.ts) — and is stored durably
 * through the queue's enqueue (fsync'd) before this resolves. The daemon need not run: the
 * scheduler finds the message when it is next woken or started.
 *
 * Queue IDs come from the local-submission slot (queue-id.ts), so they never meet the
 * daemon's; two submissions in the same millisecond meet on the primary key and the loser
 * retries with a new ID. Nothing is logged under an ID before it is committed; then, as
 * Postfix: pickup "ID: uid=N from=<given sender>", cleanup "ID: message-id=<…>", qmgr
 * "ID: from=<sender>, size=…, nrcpt=… (queue active)".
 *
 * Trust: the user is local and trusted to name any sender (as with sendmail -f); the
 * bytes are not trusted to be well formed and are stored as given, CRLF-normalised.
 */

import type { QueueStore } from '../queue/store.js';
import type { QueuedMessage } from '../queue/types.js';
import { QueueWriteError } from '../queue/types.js';
import { newLocalQueueId } from '../queue/queue-id.js';
import type { MailLog } from '../log/maillog.js';
import { programName } from '../log/maillog.js';
import { queueLog, toolLog } from '../log/queue-events.js';
import type { Params } from '../config/types.js';
import type { SubmittedRecipient } from './types.js';
import { splitMessage, joinMessage } from './headers.js';
import { missingHeaders } from './missing-headers.js';
import { pickupReceivedHeader } from './received.js';
import { findMessageId } from './cleanup.js';

export interface LocalSubmission {
  /** The submitting user's uid (Received: "from userid N", pickup's "uid=N"). */
  readonly uid: number;
  /** The sender as the user gave it ("root"), for pickup's log line. */
  readonly givenSender: string;
  /** Envelope sender, qualified; "" for <>. */
  readonly sender: string;
  readonly fullname?: string;
  readonly recipients: readonly SubmittedRecipient[];
  /** The message: CRLF line endings, as the user wrote it (no dot-stuffing). */
  readonly data: Buffer;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
}

/** Header fields cleanup removes (Postfix's message_drop_headers default). */
const DROP = new Set(['bcc', 'resent-bcc', 'content-length', 'return-path']);
const MAX_ID_TRIES = 8;

/** Store the message; resolves to its queue ID. Rejects with QueueWriteError. */
export async function submitLocal(deps: { store: QueueStore; log?: MailLog; params: Params }, s: LocalSubmission): Promise<string> {
  const { store, log, params } = deps;
  const split = splitMessage(s.data);
  split.fields = split.fields.filter((f) => !DROP.has(f.name.toLowerCase()));
  const eightBit = s.data.some((b) => b >= 0x80);
  const utf8Addresses = [s.sender, ...s.recipients.map((r) => r.address)].some((a) => /[^\x00-\x7f]/.test(a));

  for (let attempt = 1; ; attempt++) {
    const now = new Date();
    const id = newLocalQueueId(now.getTime());
    const added = missingHeaders(split.fields, { queueId: id, myhostname: params.str('myhostname'), date: now, sender: s.sender, fullname: s.fullname });
    const received = pickupReceivedHeader({ myhostname: params.str('myhostname'), mailName: params.str('mail_name'), uid: s.uid, queueId: id, date: now });
    const data = Buffer.concat([Buffer.from(received, 'latin1'), joinMessage({ fields: [...split.fields, ...added], body: split.body })]);
    const msg: QueuedMessage = {
      id, arrival: now.getTime(), sender: s.sender,
      recipients: s.recipients.map((r) => ({ ...r, status: 'pending' as const })),
      data, envid: s.envid, ret: s.ret, bodyType: eightBit ? '8BITMIME' : '7BIT', smtputf8: utf8Addresses,
      client: 'local', nextAttempt: now.getTime(), attempts: 0,
    };
    try {
      await store.enqueue(msg, { reserveId: true });
    } catch (err) {
      if (err instanceof QueueWriteError && err.kind === 'exists' && attempt < MAX_ID_TRIES) continue;
      throw err;
    }
    if (log) {
      const syslogName = params.str('syslog_name');
      toolLog.pickup(log, programName(syslogName, 'pickup'), id, s.uid, s.givenSender);
      queueLog.messageId(log, programName(syslogName, 'cleanup'), id, findMessageId(data) || '<>');
      queueLog.active(log, programName(syslogName, 'qmgr'), id, s.sender, data.length, s.recipients.length);
    }
    return id;
  }
}
