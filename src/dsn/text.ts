/**
 * The words of a notice: Postfix's built-in bounce templates (bounce(5), as `postconf -t`
 * prints them for Postfix 3.7), its 79-column wrapping of "<rcpt>: reason" lines and long
 * report fields, and the masking of control characters in text that came from peers.
 * Input text is untrusted (remote SMTP replies): it is masked and wrapped, never
 * interpreted.
 */

import type { DsnSettings, ReportKind } from './types.js';

export const FROM_NAME = 'Mail Delivery System';

export function subject(report: ReportKind, postmasterCopy: boolean): string {
  switch (report) {
    case 'failure':
      return postmasterCopy ? 'Postmaster Copy: Undelivered Mail' : 'Undelivered Mail Returned to Sender';
    case 'delay':
      return postmasterCopy ? 'Postmaster Warning: Delayed Mail' : 'Delayed Mail (still being retried)';
    case 'success':
      // The success template has no Postmaster-Subject (bounce(5)).
      return 'Successful Mail Delivery Report';
  }
}

/** The template's message text with $myhostname and the time parameters expanded. */
export function boilerplate(report: ReportKind, s: DsnSettings): string[] {
  const head = [`This is the mail system at host ${s.myhostname}.`, ''];
  const help = [
    'For further assistance, please send mail to postmaster.',
    '',
    'If you do so, please include this problem report. You can',
    'delete your own text from the attached returned message.',
    '',
  ];
  const sig = '                   The mail system';
  switch (report) {
    case 'failure':
      return [
        ...head,
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients. It's attached below.",
        '',
        ...help,
        sig,
      ];
    case 'delay':
      // Postfix expands $delay_warning_time_hours and $maximal_queue_lifetime_days by
      // integer division (bounce_template.c).
      return [
        ...head,
        '####################################################################',
        '# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #',
        '####################################################################',
        '',
        `Your message could not be delivered for more than ${Math.floor(s.delayWarningMs / 3_600_000)} hour(s).`,
        `It will be retried until it is ${Math.floor(s.maximalQueueLifetimeMs / 86_400_000)} day(s) old.`,
        '',
        ...help,
        sig,
      ];
    case 'success':
      return [
        ...head,
        'Your message was successfully delivered to the destination(s)',
        'listed below. If the message was delivered to mailbox you will',
        'receive no further notifications. Otherwise you may still receive',
        'notifications of mail delivery errors from other systems.',
        '',
        sig,
      ];
  }
}

/**
 * Mask what must not reach a notice verbatim: control characters always (a CR or LF from
 * a peer's reply would forge lines), non-ASCII unless the message is SMTPUTF8 (then the
 * notice's text is UTF-8). Postfix's printable(text, '?').
 */
export function printable(text: string, utf8: boolean): string {
  // eslint-disable-next-line no-control-regex
  const masked = text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '?').replace(/\t/g, ' ');
  return utf8 ? masked.replace(/[\u0080-\u009f\ufffd]/g, '?') : masked.replace(/[^\x20-\x7e]/g, '?');
}

/** Longest physical line we ever write for one unbreakable word (RFC 5322 limit: 998). */
const HARD_LIMIT = 900;

/**
 * Fold one line at white space into lines of at most `width` columns, continuation lines
 * indented by `indent` spaces (Postfix's line_wrap(text, 79, 4)). A word longer than the
 * width stays whole unless it would pass HARD_LIMIT, where it is cut.
 */
export function wrap(text: string, width = 79, indent = 4): string[] {
  const words = text.split(/[ \t]+/).filter((w) => w.length > 0);
  const lines: string[] = [];
  let cur = '';
  let room = width;
  const pad = ' '.repeat(indent);
  const push = (line: string) => {
    lines.push(lines.length === 0 ? line : pad + line);
    room = width - indent;
  };
  for (let word of words) {
    while (word.length > HARD_LIMIT) {
      if (cur) {
        push(cur);
        cur = '';
      }
      push(word.slice(0, HARD_LIMIT));
      word = word.slice(HARD_LIMIT);
    }
    if (!cur) cur = word;
    else if (cur.length + 1 + word.length <= room) cur += ` ${word}`;
    else {
      push(cur);
      cur = word;
    }
  }
  if (cur || lines.length === 0) push(cur);
  return lines;
}

/** A local part as RFC 5322 allows it unquoted (dot-atom), else quoted: Postfix's quote_822_local(). */
export function quoteAddress(address: string): string {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const domain = at < 0 ? '' : address.slice(at);
  if (/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local) || /[^\x00-\x7f]/.test(local)) return address;
  return `"${local.replace(/(["\\])/g, '\\$1')}"${domain}`;
}
