/**
 * access(5) actions: what the value found in an access table means (smtpd_check.c
 * check_table_result). OK/RELAY/all-digits permit; REJECT, DEFER and "4NN/5NN text" refuse
 * with optional enhanced code; DEFER_IF_REJECT/DEFER_IF_PERMIT; DUNNO; WARN and INFO log;
 * HOLD, DISCARD, FILTER, REDIRECT and PREPEND mark the transaction; anything else is a
 * restriction class name or a restriction list, evaluated one level deeper.
 * Input: table values written by the admin (trusted for meaning, not for syntax: a bad
 * value gives "451 4.3.5 Server configuration error", as in Postfix).
 */

import type { Call, Who } from '../context.js';
import { DUNNO, PERMIT, dsnFix, refuse, refusalReply, serverError } from '../context.js';
import type { Verdict } from '../types.js';
import { splitList } from '../../config/params.js';

/** dsn_split(): an optional "X.Y.Z " at the start of the text. */
function splitDsn(text: string, fallback: string): { dsn: string; text: string } {
  const m = /^([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)(.*)$/s.exec(text);
  return m ? { dsn: m[1]!, text: m[2]! } : { dsn: fallback, text };
}

/** A header line "Name: value" (is_header()). */
const isHeader = (s: string): boolean => /^[\x21-\x39\x3b-\x7e]+:/.test(s);

export async function accessAction(value: string, c: Call, who: Who): Promise<Verdict> {
  const v = value.trim();
  const sp = v.search(/[ \t]/);
  const cmd = sp < 0 ? v : v.slice(0, sp);
  const text = sp < 0 ? '' : v.slice(sp).trim();
  const word = cmd.toUpperCase();
  const { ctx } = c;
  const refusal = (code: number, fallbackDsn: string, defText: string): Verdict => {
    const d = splitDsn(text, fallbackDsn);
    return refuse(code, dsnFix(d.dsn, who.cls), who, d.text || defText);
  };
  switch (word) {
    case 'DUNNO':
      return DUNNO;
    case 'OK':
    case 'RELAY':
      return PERMIT;
    case 'REJECT':
      return refusal(ctx.params.int('access_map_reject_code'), '5.7.1', 'Access denied');
    case 'DEFER':
      return refusal(ctx.params.int('access_map_defer_code'), '4.7.1', 'Access denied');
    case 'DEFER_IF_PERMIT':
    case 'DEFER_IF_REJECT': {
      const d = splitDsn(text, '4.7.1');
      const r = refusalReply(ctx.params.int('access_map_defer_code'), dsnFix(d.dsn, who.cls), `<${who.name}>: ${who.cls} rejected: ${d.text || 'Service unavailable'}`);
      return { kind: word === 'DEFER_IF_PERMIT' ? 'defer_if_permit' : 'defer_if_reject', reply: r };
    }
    case 'WARN':
      ctx.note('warn', text);
      return DUNNO;
    case 'INFO':
      ctx.note('info', text);
      return DUNNO;
    case 'HOLD': {
      const t = `<${who.name}>: ${who.cls} ${text || 'triggers HOLD action'}`;
      ctx.note('hold', t);
      ctx.effect({ hold: t });
      return DUNNO;
    }
    case 'DISCARD': {
      // DISCARD claims success for the whole message and stops all further checks.
      const t = `<${who.name}>: ${who.cls} ${text || 'triggers DISCARD action'}`;
      ctx.note('discard', t);
      ctx.effect({ discard: t });
      ctx.markDiscard();
      return PERMIT;
    }
    case 'FILTER':
      if (!text.includes(':')) return DUNNO; // Postfix: "requires transport:destination", ignored
      ctx.note('filter', `<${who.name}>: ${who.cls} triggers FILTER ${text}`);
      ctx.effect({ filter: text });
      return DUNNO;
    case 'REDIRECT':
      if (!text.includes('@')) return DUNNO; // Postfix: "requires user@domain target", ignored
      ctx.note('redirect', `<${who.name}>: ${who.cls} triggers REDIRECT ${text}`);
      ctx.effect({ redirect: text });
      return DUNNO;
    case 'PREPEND':
      // Not at connect/HELO time (no transaction yet) and not after the message (too late).
      if (c.point === 'connect' || c.point === 'helo' || c.point === 'end_of_data' || !isHeader(text)) return DUNNO;
      ctx.effect({ prepend: text });
      return DUNNO;
  }
  if (/^\d+$/.test(v)) return PERMIT; // an all-numeric value (a time stamp from POP-before-SMTP) means OK
  if (/^[45]\d\d$/.test(cmd) && text) return refusal(Number(cmd), `${cmd[0]}.7.1`, 'Access denied');
  // Lookup tables inside access table values are refused (define a restriction class instead).
  if (v.includes(':')) return serverError();
  const words = splitList(v);
  if (words.length === 0) return PERMIT; // the dark ages: an empty value meant OK
  return ctx.evalNested(words, c, who);
}
