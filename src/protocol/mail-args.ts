/**
 * MAIL FROM / RCPT TO argument parsing (RFC 5321 §4.1.2, ESMTP parameters from RFC 1870
 * SIZE, RFC 6152 8BITMIME, RFC 3030 BINARYMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN).
 * Untrusted input: returns an error reply value instead of throwing.
 */

import { reply, type Reply } from './reply.js';

export interface ParsedPath {
  /** Address without the angle brackets ("" for <>). */
  readonly address: string;
  readonly params: Map<string, string | true>;
}

/** "FROM:<a@b> SIZE=10" → path and parameters. `keyword` is "FROM" or "TO". */
export function parsePath(arg: string, keyword: 'FROM' | 'TO'): ParsedPath | Reply {
  const syntax = keyword === 'FROM' ? reply(501, '5.5.4', 'Syntax: MAIL FROM:<address>') : reply(501, '5.5.4', 'Syntax: RCPT TO:<address>');
  const m = new RegExp(`^${keyword}\\s*:\\s*(.*)$`, 'is').exec(arg.trim());
  if (!m) return syntax;
  const rest = m[1]!;
  let address: string;
  let after: string;
  if (rest.startsWith('<')) {
    let inQuote = false;
    let end = -1;
    for (let i = 1; i < rest.length; i++) {
      const c = rest[i];
      if (c === '\\') {
        i++;
        continue;
      }
      if (c === '"') inQuote = !inQuote;
      else if (c === '>' && !inQuote) {
        end = i;
        break;
      }
    }
    if (end < 0) return syntax;
    address = rest.slice(1, end);
    after = rest.slice(end + 1);
    if (after && !/^\s/.test(after)) return syntax;
  } else {
    // Postfix accepts a bare address when strict_rfc821_envelopes = no (the default).
    const sp = rest.search(/\s/);
    address = sp < 0 ? rest : rest.slice(0, sp);
    after = sp < 0 ? '' : rest.slice(sp);
    if (!address) return syntax;
  }
  const bad = keyword === 'FROM' ? reply(501, '5.1.7', 'Bad sender address syntax') : reply(501, '5.1.3', 'Bad recipient address syntax');
  if (/[\s<>()\x00-\x1f\x7f]/.test(address.replace(/"(?:[^"\\]|\\.)*"/g, '')) || address.length > 512) return bad;
  if ((address.match(/"/g)?.length ?? 0) % 2 === 1) return bad;
  const params = new Map<string, string | true>();
  for (const word of after.trim().split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    const key = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) return reply(501, '5.5.4', `Bad parameter syntax: ${word.slice(0, 40)}`);
    params.set(key, eq < 0 ? true : word.slice(eq + 1));
  }
  return { address, params };
}

/** RFC 3461 xtext: printable ASCII except "+" and "=", with +XX escapes. */
export function isXtext(s: string): boolean {
  return /^(?:[!-*,-<>-~]|\+[0-9A-F]{2})*$/.test(s);
}
