/**
 * RFC 5322 §3.4 address lists as they appear in To:/Cc:/Bcc: headers, reduced to the bare
 * addresses (what `sendmail -t` needs): display names, comments and group names are
 * dropped, "<…>" route addresses win over the surrounding text, source routes are stripped.
 * Input is untrusted header text; nothing here throws — a broken list gives `error`.
 */

import { stripSourceRoute } from './address.js';

export interface AddressListResult {
  readonly addresses: string[];
  /** Why the list could not be read (unbalanced quotes, brackets or comments, spaces in an address). */
  readonly error?: string;
}

export function parseAddressList(value: string): AddressListResult {
  const addresses: string[] = [];
  let text = ''; // the current mailbox outside comments and <>
  let angle: string | undefined;
  let error: string | undefined;

  const finish = (): void => {
    if (angle !== undefined) {
      const a = stripSourceRoute(angle.trim());
      if (a) addresses.push(a);
    } else {
      const a = text.trim();
      if (a) {
        // An addr-spec has no white space outside quoted strings.
        if (/\s/.test(a.replace(/"(?:[^"\\]|\\.)*"/g, ''))) error ??= `not an address: "${a}"`;
        else addresses.push(a);
      }
    }
    text = '';
    angle = undefined;
  };

  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '(') {
      let depth = 1;
      for (i++; i < value.length && depth > 0; i++) {
        if (value[i] === '\\') i++;
        else if (value[i] === '(') depth++;
        else if (value[i] === ')') depth--;
      }
      i--;
      if (depth > 0) error ??= 'unbalanced "(" in the address list';
      text += ' ';
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < value.length && value[j] !== '"'; j++) if (value[j] === '\\') j++;
      if (j >= value.length) {
        error ??= 'unbalanced \'"\' in the address list';
        break;
      }
      text += value.slice(i, j + 1);
      i = j;
    } else if (ch === '<') {
      const j = value.indexOf('>', i);
      if (j < 0) {
        error ??= 'unbalanced "<" in the address list';
        break;
      }
      angle = value.slice(i + 1, j);
      i = j;
    } else if (ch === ',') {
      finish();
    } else if (ch === ':' && angle === undefined) {
      // "group-name:" — the name is not an address; its members follow.
      text = '';
    } else if (ch === ';') {
      finish();
    } else {
      text += ch;
    }
  }
  finish();
  return error ? { addresses, error } : { addresses };
}
