/**
 * The result of a header_checks / body_checks lookup, parsed into an action (header_checks(5)):
 * REJECT, DISCARD, HOLD, WARN, INFO, IGNORE, STRIP, PREPEND, REPLACE, REDIRECT, BCC, FILTER,
 * DUNNO and OK. Input is the table's right-hand side (admin-written, after $n substitution).
 */

import { reply, type Reply } from '../../protocol/reply.js';

export type ContentAction =
  | { readonly kind: 'reject'; readonly text: string }
  | { readonly kind: 'discard'; readonly text: string }
  | { readonly kind: 'hold'; readonly text: string }
  | { readonly kind: 'warn'; readonly text: string }
  | { readonly kind: 'info'; readonly text: string }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'strip'; readonly text: string }
  | { readonly kind: 'prepend'; readonly text: string }
  | { readonly kind: 'replace'; readonly text: string }
  | { readonly kind: 'redirect'; readonly address: string }
  | { readonly kind: 'bcc'; readonly address: string }
  | { readonly kind: 'filter'; readonly nexthop: string }
  | { readonly kind: 'dunno' }
  /** Not an action Postfix knows, or one missing its argument: logged and skipped. */
  | { readonly kind: 'bad'; readonly why: string };

export function parseAction(value: string): ContentAction {
  const m = /^\s*(\S+)(?:\s+(.*))?$/s.exec(value);
  if (!m) return { kind: 'bad', why: `empty action` };
  const word = m[1]!.toUpperCase();
  const text = (m[2] ?? '').trim();
  const need = (what: string): ContentAction => ({ kind: 'bad', why: `${word} needs ${what}: "${value}"` });
  switch (word) {
    case 'REJECT': return { kind: 'reject', text };
    case 'DISCARD': return { kind: 'discard', text };
    case 'HOLD': return { kind: 'hold', text };
    case 'WARN': return { kind: 'warn', text };
    case 'INFO': return { kind: 'info', text };
    case 'IGNORE': return { kind: 'ignore' };
    case 'STRIP': return { kind: 'strip', text };
    case 'PREPEND': return text ? { kind: 'prepend', text } : need('text');
    case 'REPLACE': return text ? { kind: 'replace', text } : need('text');
    case 'REDIRECT': return /^\S+@\S+$/.test(text) ? { kind: 'redirect', address: text } : need('user@domain');
    case 'BCC': return /^\S+@\S+$/.test(text) ? { kind: 'bcc', address: text } : need('user@domain');
    case 'FILTER': return /^[^\s:]+:\S*$/.test(text) ? { kind: 'filter', nexthop: text } : need('transport:destination');
    case 'DUNNO': case 'OK': return { kind: 'dunno' };
    default: return { kind: 'bad', why: `unknown command: ${value}` };
  }
}

/**
 * The reply for REJECT [text] (Postfix's cleanup: "5.7.1 message content rejected" without
 * text; a text that starts with a 4.x.x/5.x.x code keeps it, and 4.x.x answers 451).
 */
export function rejectReply(text: string): Reply {
  if (!text) return reply(550, '5.7.1', 'message content rejected');
  const m = /^([45])\.(\d{1,3})\.(\d{1,3})\s+(.*)$/s.exec(text);
  if (m) return reply(m[1] === '4' ? 451 : 550, `${m[1]}.${m[2]}.${m[3]}`, m[4]!);
  return reply(550, '5.7.1', text);
}
