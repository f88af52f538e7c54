/**
 * MAIL FROM and RCPT TO parameters of one transaction (RFC 1870 SIZE, RFC 6152 8BITMIME,
 * RFC 3030 BINARYMIME, RFC 6531 SMTPUTF8, RFC 3461 RET/ENVID/NOTIFY/ORCPT). Takes the
 * parsed path from protocol/mail-args.ts (untrusted client text) and returns either the
 * validated envelope part or the reply that refuses it, in Postfix's wording.
 */

import { reply, type Reply } from '../protocol/reply.js';
import { isXtext, type ParsedPath } from '../protocol/mail-args.js';
import type { SubmittedRecipient } from '../cleanup/types.js';

export interface MailOptions {
  size?: number;
  bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  smtputf8: boolean;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
}

/** MAIL FROM parameters; `sizeLimit` is message_size_limit (SIZE= above it → 552). */
export function mailOptions(parsed: ParsedPath, sizeLimit: number): MailOptions | Reply {
  const o: MailOptions = { smtputf8: false };
  for (const [key, value] of parsed.params) {
    const v = value === true ? '' : value;
    switch (key) {
      case 'SIZE':
        if (!/^\d{1,20}$/.test(v)) return reply(501, '5.5.4', 'Bad message size syntax');
        if (Number(v) > sizeLimit) return reply(552, '5.3.4', 'Message size exceeds fixed limit');
        o.size = Number(v);
        break;
      case 'BODY': {
        const b = v.toUpperCase();
        if (b !== '7BIT' && b !== '8BITMIME' && b !== 'BINARYMIME') return reply(501, '5.5.4', `Unsupported option: BODY=${v.slice(0, 40)}`);
        o.bodyType = b;
        break;
      }
      case 'SMTPUTF8':
        if (value !== true) return reply(501, '5.5.4', 'Bad SMTPUTF8 syntax');
        o.smtputf8 = true;
        break;
      case 'RET': {
        const r = v.toUpperCase();
        if (r !== 'FULL' && r !== 'HDRS') return reply(501, '5.5.4', 'Bad RET parameter syntax');
        o.ret = r;
        break;
      }
      case 'ENVID':
        if (!v || v.length > 100 || !isXtext(v)) return reply(501, '5.5.4', 'Bad ENVID parameter syntax');
        o.envid = v;
        break;
      default:
        return reply(555, '5.5.4', `Unsupported option: ${key}`);
    }
  }
  if (!o.smtputf8 && nonAscii(parsed.address)) return reply(553, '5.6.7', 'Must declare SMTPUTF8 to send unicode address');
  return o;
}

/** RCPT TO parameters; `smtputf8` says whether MAIL declared SMTPUTF8. */
export function recipient(parsed: ParsedPath, smtputf8: boolean): SubmittedRecipient | Reply {
  let orcpt: string | undefined;
  let notify: string[] | undefined;
  for (const [key, value] of parsed.params) {
    const v = value === true ? '' : value;
    if (key === 'NOTIFY') {
      const list = v.toUpperCase().split(',');
      const ok = list.every((n) => ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'].includes(n)) && !(list.includes('NEVER') && list.length > 1);
      if (!ok) return reply(501, '5.5.4', 'Error: Bad NOTIFY parameter syntax');
      notify = list;
    } else if (key === 'ORCPT') {
      if (!/^[A-Za-z0-9-]+;.+/.test(v) || v.length > 500) return reply(501, '5.5.4', 'Error: Bad ORCPT parameter syntax');
      orcpt = v;
    } else return reply(555, '5.5.4', `Unsupported option: ${key}`);
  }
  if (!smtputf8 && nonAscii(parsed.address)) return reply(553, '5.6.7', 'Must declare SMTPUTF8 to send unicode address');
  return { address: parsed.address, ...(orcpt !== undefined ? { orcpt } : {}), ...(notify ? { notify } : {}) };
}

const nonAscii = (s: string): boolean => /[^\x00-\x7f]/.test(s);

/** The longest single header field (with its folded continuation lines), in bytes. */
export function longestHeader(data: Buffer): number {
  const end = data.indexOf('\r\n\r\n');
  const head = end < 0 ? data : data.subarray(0, end + 2);
  let longest = 0;
  let start = 0;
  let cur = 0;
  for (let i = head.indexOf(10); i >= 0; i = head.indexOf(10, i + 1)) {
    const lineLen = i + 1 - start;
    const folded = head[start] === 32 || head[start] === 9;
    cur = folded ? cur + lineLen : lineLen;
    if (cur > longest) longest = cur;
    start = i + 1;
  }
  return Math.max(longest, head.length - start);
}
