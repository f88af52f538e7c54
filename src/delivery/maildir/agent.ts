/**
 * The Maildir delivery agent (Postfix's local(8)/virtual(8) for Maildir mailboxes): adds
 * Return-Path, X-Original-To and Delivered-To (in that order, as Postfix does), refuses
 * forwarding loops (a Delivered-To header naming this recipient is already present, as in
 * local(8)), writes the file through the writer threads, and maps errors to per-recipient
 * outcomes (never throws for one recipient's failure). Message bytes come from the queue
 * (CRLF); targets from resolve/.
 */

import type { DeliveryAgent, DeliveryOutcome } from '../types.js';
import type { QueuedMessage } from '../../queue/types.js';
import type { DeliveryTarget } from '../../resolve/types.js';
import type { MailLog } from '../../log/maillog.js';
import type { Params } from '../../config/types.js';
import { MaildirWriterPool } from './writer-pool.js';
import { strerror } from '../../log/strerror.js';

/** True when the header already carries "Delivered-To: <rcpt>" (a forwarding loop). */
export function hasDeliveredTo(data: Buffer, recipient: string): boolean {
  let end = data.indexOf('\r\n\r\n');
  if (end < 0) end = data.indexOf('\n\n');
  const head = data.subarray(0, end < 0 ? data.length : end).toString('latin1');
  const want = recipient.toLowerCase();
  // Unfold continuation lines, then compare each Delivered-To value case-insensitively.
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const m = /^delivered-to[ \t]*:[ \t]*(.*?)[ \t]*$/i.exec(line);
    if (m && m[1]!.replace(/^<(.*)>$/, '$1').toLowerCase() === want) return true;
  }
  return false;
}


/** Outcome for a failed write: always deferred (the queue retries), DSN by errno class. */
export function failureOutcome(target: DeliveryTarget, relay: string, err: NodeJS.ErrnoException): DeliveryOutcome {
  const where = target.kind === 'maildir' ? target.path : '';
  const why = strerror(err);
  const text = `maildir delivery failed: cannot update maildir ${where}: ${why}`;
  switch (err.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      // RFC 3463 X.3.1 "mail system full" (Postfix: mbox_dsn for ENOSPC).
      return { target, status: 'deferred', dsn: '4.3.1', text, relay };
    case 'EACCES':
    case 'EPERM':
    case 'ENOTDIR':
    case 'EROFS':
      // X.2.0: a problem with this mailbox, not with the mail system.
      return { target, status: 'deferred', dsn: '4.2.0', text, relay };
    default:
      return { target, status: 'deferred', dsn: '4.3.0', text, relay };
  }
}

/** The header lines added in front of the message (LF endings, as the stored file uses). */
export function deliveryHeaders(sender: string, target: { recipient: string; originalRecipient: string }): string {
  return `Return-Path: <${sender}>\nX-Original-To: ${target.originalRecipient}\nDelivered-To: ${target.recipient}\n`;
}

export function createMaildirAgent(deps: { log?: MailLog; params: Params; threads?: number }): DeliveryAgent & { close(): Promise<void> } {
  const pool = new MaildirWriterPool(deps.threads ?? 2);
  return {
    close: () => pool.close(),
    name: 'maildir',
    async deliver(msg: QueuedMessage, targets: readonly DeliveryTarget[]): Promise<DeliveryOutcome[]> {
      return Promise.all(targets.map(async (target): Promise<DeliveryOutcome> => {
        if (target.kind !== 'maildir') return { target, status: 'deferred', dsn: '4.3.5', text: 'not a maildir target', relay: 'local' };
        const relay = target.via;
        if (hasDeliveredTo(msg.data, target.recipient)) {
          return { target, status: 'bounced', dsn: '5.4.6', text: `mail forwarding loop for ${target.recipient}`, relay };
        }
        try {
          await pool.write(target.path, msg.data, { uid: target.uid, gid: target.gid, prepend: deliveryHeaders(msg.sender, target) });
          return { target, status: 'sent', dsn: '2.0.0', text: 'delivered to maildir', relay };
        } catch (err) {
          return failureOutcome(target, relay, err as NodeJS.ErrnoException);
        }
      }));
    },
  };
}
