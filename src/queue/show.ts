/**
 * `postern queue show ID`: one queued message in the spirit of `postcat -q ID` — the
 * envelope records, then the message as stored (headers and body), between Postfix's
 * "*** … ***" markers, so people who know postcat read it at once. Postfix prints typed
 * queue-file records; we print the same facts from the queue row, one "name: value" a
 * line, plus each recipient's state and last deferral reason. Output uses LF line endings
 * (the stored CRLF is converted), like postcat on a terminal.
 */

import type { QueuedMessage } from './types.js';
import { asctime20 } from './list.js';

/** Which Postfix queue the message would be in. */
export function queueName(msg: QueuedMessage, held: boolean): 'hold' | 'deferred' | 'active' {
  if (held) return 'hold';
  return msg.attempts > 0 ? 'deferred' : 'active';
}

export function formatShow(msg: QueuedMessage, held: boolean): string {
  const where = `${queueName(msg, held)}/${msg.id}`;
  const lines: string[] = [`*** ENVELOPE RECORDS ${where} ***`];
  lines.push(`message_size: ${String(msg.data.length).padStart(16)}`);
  lines.push(`message_arrival_time: ${asctime20(msg.arrival).trimEnd()} ${new Date(msg.arrival).getFullYear()}`);
  lines.push(`next_attempt_time: ${asctime20(msg.nextAttempt).trimEnd()} ${new Date(msg.nextAttempt).getFullYear()}`);
  lines.push(`delivery_attempts: ${msg.attempts}`);
  lines.push(`named_attribute: client=${msg.client}`);
  if (msg.envid !== undefined) lines.push(`named_attribute: envelope_id=${msg.envid}`);
  if (msg.ret !== undefined) lines.push(`named_attribute: dsn_ret=${msg.ret}`);
  if (msg.bodyType !== undefined) lines.push(`named_attribute: body_type=${msg.bodyType}`);
  if (msg.smtputf8) lines.push('named_attribute: smtputf8=yes');
  if (msg.hold !== undefined) lines.push(`named_attribute: hold_reason=${msg.hold}`);
  if (msg.filter !== undefined) lines.push(`named_attribute: content_filter=${msg.filter}`);
  lines.push(`sender: ${msg.sender}`);
  for (const r of msg.recipients) {
    if (r.orcpt !== undefined) lines.push(`original_recipient: ${r.orcpt}`);
    if (r.notify !== undefined) lines.push(`dsn_notify: ${r.notify.join(',')}`);
    lines.push(`${r.status === 'done' ? 'done_recipient' : 'recipient'}: ${r.address}`);
    lines.push(`recipient_status: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
  }
  lines.push(`*** MESSAGE CONTENTS ${where} ***`);
  let text = msg.data.toString('utf8').replace(/\r\n/g, '\n');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  lines.push(text);
  lines.push(`*** HEADER EXTRACTED ${where} ***`);
  lines.push(`*** MESSAGE FILE END ${where} ***`);
  return lines.join('\n') + '\n';
}
