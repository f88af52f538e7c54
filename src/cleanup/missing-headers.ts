/**
 * The headers cleanup adds when a message lacks them (Postfix's cleanup: Message-Id:,
 * Date:, From:, in that order, after the existing headers). Postfix does this for local
 * submissions, and for SMTP clients matching local_header_rewrite_clients or with
 * always_add_missing_headers = yes; Postern does it for local submission (`postern
 * sendmail`) today. Never adds To: (Postfix 2.8+: undisclosed_recipients_header is empty).
 *
 * Forms (Postfix's): "Message-Id: <YYYYMMDDhhmmss.QUEUEID@myhostname>" (UTC time),
 * "Date: " + rfc5322Date, "From: Full Name <addr>" with a full name (quoted when it holds
 * specials), else "From: addr"; "From: MAILER-DAEMON" for the null sender.
 */

import type { HeaderField } from './headers.js';
import { hasField, makeField } from './headers.js';
import { rfc5322Date } from './received.js';

export function postfixMessageId(queueId: string, myhostname: string, date: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const stamp = `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
  return `<${stamp}.${queueId}@${myhostname}>`;
}

/** RFC 5322 display name: as is when it is only atoms and spaces, else a quoted string. */
export function displayName(name: string): string {
  if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ \u0080-\uffff]+$/.test(name)) return name;
  return `"${name.replace(/(["\\])/g, '\\$1')}"`;
}

export interface MissingHeaderFacts {
  readonly queueId: string;
  readonly myhostname: string;
  readonly date: Date;
  /** Envelope sender ("" for <>), and the sender's full name (sendmail -F, $NAME, GECOS). */
  readonly sender: string;
  readonly fullname?: string;
}

/** The fields to append; empty when nothing is missing. */
export function missingHeaders(fields: readonly HeaderField[], f: MissingHeaderFacts): HeaderField[] {
  const add: HeaderField[] = [];
  if (!hasField(fields, 'message-id')) add.push(makeField('Message-Id', postfixMessageId(f.queueId, f.myhostname, f.date)));
  if (!hasField(fields, 'date')) add.push(makeField('Date', rfc5322Date(f.date)));
  if (!hasField(fields, 'from')) {
    const addr = f.sender || 'MAILER-DAEMON';
    const name = f.fullname?.replace(/[\r\n]+/g, ' ').trim();
    add.push(makeField('From', name ? `${displayName(name)} <${addr}>` : addr));
  }
  return add;
}
