/**
 * The milter step of cleanup: the end-of-message part of the session's milter
 * conversation (milter/conversation.ts) on the message as it will be queued (Received
 * and PREPEND headers included, after header/body checks, as Postfix's cleanup does).
 * Applies what the milters asked for: header and body changes, added and deleted
 * recipients, a new sender, quarantine (→ hold), discard; a reject, tempfail or custom
 * reply becomes the answer to the end of data, logged as Postfix logs it
 * ("ID: milter-reject: END-OF-MESSAGE from host[addr]: 5.7.1 …; from=<…> to=<…> proto=ESMTP helo=<…>").
 * Off with receive_override_options = no_milters.
 */

import { receiveOverride } from '../../config/receive-override.js';
import type { MailLog } from '../../log/maillog.js';
import { replyForLog, type Reply } from '../../protocol/reply.js';
import type { SubmittedRecipient, Submission } from '../types.js';

export type MilterStep =
  | { readonly reply: Reply }
  | { readonly data: Buffer; readonly sender: string; readonly recipients: readonly SubmittedRecipient[]; readonly hold?: string; readonly discard?: string; readonly summary?: string };

export async function milterStep(deps: { log: MailLog; program: string }, s: Submission, data: Buffer): Promise<MilterStep> {
  const unchanged = { data, sender: s.sender, recipients: s.recipients };
  if (!s.milters || receiveOverride(s.facts.params, 'no_milters')) return unchanged;
  const r = await s.milters.message(s.facts, { queueId: s.queueId, sender: s.sender, recipients: s.recipients.map((x) => x.address) }, data, deps.program);
  const env = (): string => `from=<${s.sender}> to=<${s.recipients[0]?.address ?? ''}> proto=${s.facts.protocol}${s.facts.helo ? ` helo=<${s.facts.helo}>` : ''}`;
  const line = (action: string, text: string): void => deps.log.line(deps.program, `${s.queueId}: ${action}: END-OF-MESSAGE from ${s.clientLabel}: ${text}; ${env()}`);
  if (r.kind === 'reply') {
    line('milter-reject', replyForLog(r.reply).replace(/^\d{3} /, ''));
    return { reply: r.reply };
  }
  const gone = new Set(r.deleted.map((a) => a.toLowerCase()));
  const recipients: SubmittedRecipient[] = s.recipients.filter((x) => !gone.has(x.address.toLowerCase()));
  for (const a of r.added) if (!recipients.some((x) => x.address.toLowerCase() === a.toLowerCase())) recipients.push({ address: a });
  const notes: string[] = [];
  if (r.added.length) notes.push(`added ${r.added.map((a) => `<${a}>`).join(' ')}`);
  if (r.deleted.length) notes.push(`deleted ${r.deleted.map((a) => `<${a}>`).join(' ')}`);
  if (r.sender !== s.sender) notes.push(`sender <${r.sender}>`);
  if (notes.length) deps.log.line(deps.program, `${s.queueId}: info: milter: recipients/sender changed: ${notes.join(', ')}`);
  let discard = r.discard;
  if (discard === undefined && recipients.length === 0) discard = 'milter deleted all recipients';
  if (discard !== undefined) line('milter-discard', discard);
  else if (r.hold !== undefined) line('milter-hold', r.hold);
  return { data: r.data, sender: r.sender, recipients, hold: r.hold, discard, summary: r.changed || notes.length ? `milter: ${notes.join(', ') || 'message changed'}` : undefined };
}
