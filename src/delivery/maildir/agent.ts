/**
 * The Maildir delivery agent (Postfix's local(8)/virtual(8) for Maildir mailboxes): adds
 * Return-Path, X-Original-To and Delivered-To, refuses forwarding loops, writes the file,
 * and maps errors to per-recipient outcomes (never throws for one recipient's failure).
 */

import type { DeliveryAgent, DeliveryOutcome } from '../types.js';
import type { QueuedMessage } from '../../queue/types.js';
import type { DeliveryTarget } from '../../resolve/types.js';
import type { MailLog } from '../../log/maillog.js';
import type { Params } from '../../config/types.js';
import { MaildirWriterPool } from './writer-pool.js';

/** True when the header already carries "Delivered-To: <rcpt>" (a forwarding loop). */
export function hasDeliveredTo(data: Buffer, recipient: string): boolean {
  const end = data.indexOf('\r\n\r\n');
  const head = data.subarray(0, end < 0 ? data.length : end).toString('latin1').toLowerCase();
  return head.includes(`\ndelivered-to: ${recipient.toLowerCase()}\r`) || head.startsWith(`delivered-to: ${recipient.toLowerCase()}\r`);
}

function failure(target: DeliveryTarget, relay: string, err: NodeJS.ErrnoException): DeliveryOutcome {
  const where = target.kind === 'maildir' ? target.path : '';
  switch (err.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return { target, status: 'deferred', dsn: '4.3.1', text: `cannot update maildir ${where}: ${err.message}`, relay };
    case 'EACCES':
    case 'EPERM':
    case 'ENOENT':
    case 'ENOTDIR':
      return { target, status: 'deferred', dsn: '4.2.0', text: `cannot update maildir ${where}: ${err.message}`, relay };
    default:
      return { target, status: 'deferred', dsn: '4.3.0', text: `cannot update maildir ${where}: ${err.message}`, relay };
  }
}

export function createMaildirAgent(_deps: { log?: MailLog; params: Params }): DeliveryAgent & { close(): Promise<void> } {
  const pool = new MaildirWriterPool(2);
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
        const prepend = `Return-Path: <${msg.sender}>\nX-Original-To: ${target.originalRecipient}\nDelivered-To: ${target.recipient}\n`;
        try {
          await pool.write(target.path, msg.data, { uid: target.uid, gid: target.gid, prepend });
          return { target, status: 'sent', dsn: '2.0.0', text: 'delivered to maildir', relay };
        } catch (err) {
          return failure(target, relay, err as NodeJS.ErrnoException);
        }
      }));
    },
  };
}
