/**
 * Builds one delivery status notification (RFC 3464, multipart/report RFC 6522) the way
 * Postfix's bounce(8) writes it: template headers, a text/plain human part with
 * "<rcpt>: reason" lines, a message/delivery-status part (per-message fields, then one
 * block per recipient), and the original or its headers. Lines end in CRLF, none is longer
 * than 998 octets except lines of the returned original itself, and the boundary occurs
 * nowhere in the content. Input results are trusted in shape, not in text: reasons from
 * peers are masked and wrapped (text.ts). RFC 3461, 3462, 3464, 3834 (Auto-Submitted),
 * 6531/6533 (message/global-* for SMTPUTF8 mail).
 */

import { rfc5322Date } from '../cleanup/received.js';
import type { AttemptResult, DsnSettings, OriginalMessage, ReportKind } from './types.js';
import { FROM_NAME, boilerplate, printable, quoteAddress, subject, wrap } from './text.js';
import { isEightBit, returnedCopy } from './original.js';

export interface DsnMessageOptions {
  readonly report: ReportKind;
  /**
   * A notice to the postmaster about someone else's mail (bounce/delay copies, double
   * bounces): postmaster subject, "Auto-Submitted: auto-generated", no boilerplate text.
   */
  readonly postmasterCopy: boolean;
  /** The notice's recipient, for the To: header. */
  readonly to: string;
  /** The notice's own queue ID (Message-Id: <YYYYMMDDhhmmss.ID@$myhostname>). */
  readonly id: string;
  readonly original: OriginalMessage;
  /** The recipients this notice reports, in order. */
  readonly recipients: readonly AttemptResult[];
  /** FULL: the whole original (headers only when larger than bounce_size_limit); HDRS: headers only. */
  readonly ret: 'FULL' | 'HDRS';
  readonly settings: DsnSettings;
  /** Time of the notice (Date:, Message-Id, boundary, default Last-Attempt-Date). */
  readonly now: number;
}

const CRLF = '\r\n';

function isUtf8Address(a: string): boolean {
  return /[^\x00-\x7f]/.test(a);
}

/** "rfc822" or, for a non-ASCII address in SMTPUTF8 mail, "utf-8" (RFC 6533). */
function addrType(address: string, smtputf8: boolean): string {
  return smtputf8 && isUtf8Address(address) ? 'utf-8' : 'rfc822';
}

/** RFC 3464 Action for a recipient in a notice of this kind. */
export function actionFor(report: ReportKind, r: AttemptResult): 'failed' | 'delayed' | 'delivered' | 'relayed' {
  if (report === 'failure') return 'failed';
  if (report === 'delay') return 'delayed';
  return r.relayed ? 'relayed' : 'delivered';
}

function utcStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Postfix's boundary "QUEUEID.TIME/HOST", lengthened until no line of the content starts with it. */
function chooseBoundary(base: string, contents: readonly Buffer[]): string {
  let boundary = base;
  for (let n = 0; ; n++) {
    const probe = Buffer.from(`--${boundary}`);
    if (!contents.some((c) => c.includes(probe))) return boundary;
    boundary = `${base}.${n}`;
  }
}

export function buildDsnMessage(o: DsnMessageOptions): Buffer {
  const s = o.settings;
  const msg = o.original;
  const utf8 = msg.smtputf8 === true;
  const eightBit = isEightBit(msg) || utf8;
  const now = new Date(o.now);
  const clean = (t: string) => printable(t, utf8);

  // Part 1: the human part.
  const human: string[] = [];
  if (!o.postmasterCopy) human.push(...boilerplate(o.report, s));
  for (const r of o.recipients) {
    const orig = r.originalRecipient && r.originalRecipient.toLowerCase() !== r.recipient.toLowerCase() ? ` (expanded from <${clean(r.originalRecipient)}>)` : '';
    human.push('', ...wrap(`<${clean(r.recipient)}>${orig}: ${clean(r.text)}`));
  }

  // Part 2: the delivery report.
  const report: string[] = [`Reporting-MTA: dns; ${s.myhostname}`];
  if (msg.envid) report.push(`Original-Envelope-Id: ${clean(msg.envid)}`);
  report.push(`X-Postfix-Queue-ID: ${msg.id}`);
  const sender = msg.sender || s.mailerDaemon;
  report.push(`X-Postfix-Sender: ${addrType(sender, utf8)}; ${clean(sender)}`);
  report.push(`Arrival-Date: ${rfc5322Date(new Date(msg.arrival))}`);
  for (const r of o.recipients) {
    report.push('');
    report.push(`Final-Recipient: ${addrType(r.recipient, utf8)}; ${clean(r.recipient)}`);
    // Postfix always writes Original-Recipient: the ORCPT as given, else the address as
    // received (bounce_notify_util.c explains why it departs from RFC 3464 §2.3.1 here).
    if (r.orcpt) report.push(`Original-Recipient: ${clean(r.orcpt)}`);
    else if (r.originalRecipient) report.push(`Original-Recipient: ${addrType(r.originalRecipient, utf8)}; ${clean(r.originalRecipient)}`);
    report.push(`Action: ${actionFor(o.report, r)}`);
    report.push(`Status: ${clean(r.dsn)}`);
    if (r.remoteMta) report.push(...wrap(`Remote-MTA: ${clean(r.remoteMta)}`));
    report.push(...wrap(r.diagnostic ? `Diagnostic-Code: ${clean(r.diagnostic)}` : `Diagnostic-Code: X-Postfix; ${clean(r.text)}`));
    report.push(`Last-Attempt-Date: ${rfc5322Date(new Date(r.at ?? o.now))}`);
    if (o.report === 'delay') report.push(`Will-Retry-Until: ${rfc5322Date(new Date(msg.arrival + s.maximalQueueLifetimeMs))}`);
  }

  // Part 3: the original, whole or headers only (bounce_size_limit, RET).
  const limit = s.bounceSizeLimit;
  const headersOnly = o.ret === 'HDRS' || (limit > 0 && msg.data.length > limit);
  const copy = returnedCopy(msg, headersOnly, s.mailerDaemon);
  const undelivered = o.report === 'success' ? '' : 'Undelivered ';
  const humanText = Buffer.from(human.join(CRLF), 'utf8');
  const reportText = Buffer.from(report.join(CRLF), 'utf8');
  const boundary = chooseBoundary(`${msg.id}.${Math.floor(o.now / 1000)}/${s.myhostname}`, [copy, humanText, reportText]);
  const cte = eightBit ? '8bit' : '7bit';

  const head = [
    `Date: ${rfc5322Date(now)}`,
    `From: ${FROM_NAME} <${s.mailerDaemon}>`,
    `Subject: ${subject(o.report, o.postmasterCopy)}`,
    `To: ${quoteAddress(o.to)}`,
    `Auto-Submitted: ${o.postmasterCopy ? 'auto-generated' : 'auto-replied'}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${boundary}"`,
    `Content-Transfer-Encoding: ${cte}`,
    `Message-Id: <${utcStamp(now)}.${o.id}@${s.myhostname}>`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    `Content-Type: text/plain; charset=${eightBit ? 'utf-8' : 'us-ascii'}`,
    ...(eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
    '',
    '',
  ].join(CRLF);
  const mid = [
    '',
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    `Content-Type: message/${utf8 ? 'global-' : ''}delivery-status`,
    ...(utf8 && eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
    '',
    '',
  ].join(CRLF);
  const partType = utf8 ? (headersOnly ? 'message/global-headers' : 'message/global') : headersOnly ? 'text/rfc822-headers' : 'message/rfc822';
  const third = [
    '',
    '',
    `--${boundary}`,
    `Content-Description: ${undelivered}${headersOnly ? 'Message Headers' : 'Message'}`,
    `Content-Type: ${partType}`,
    ...(eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
    '',
    '',
  ].join(CRLF);
  return Buffer.concat([
    Buffer.from(head, 'utf8'), humanText,
    Buffer.from(mid, 'utf8'), reportText,
    Buffer.from(third, 'utf8'), copy,
    Buffer.from(`${CRLF}--${boundary}--${CRLF}`, 'utf8'),
  ]);
}
