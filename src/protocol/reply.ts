/**
 * SMTP replies as values (RFC 5321 §4.2, RFC 3463 enhanced status codes).
 *
 * A Reply carries the basic code, the enhanced code and the text; `disconnect` says the
 * session closes after sending it. Helpers keep the basic and enhanced classes in step
 * (a 4xx reply always carries a 4.x.x code), so no caller can send "552 4.3.1".
 * Trusts its callers: texts are ours, never raw client input without sanitising.
 */

export interface Reply {
  readonly code: number;
  /** "2.1.0" etc.; empty when the reply has none (greeting, EHLO lines, 354). */
  readonly enhanced: string;
  /** One string per reply line. */
  readonly lines: readonly string[];
  /** Close the connection after sending this reply. */
  readonly disconnect?: boolean;
}

/** Build a reply; the enhanced code's class digit is forced to match the basic code. */
export function reply(code: number, enhanced: string, text: string | readonly string[], disconnect = false): Reply {
  const cls = String(code)[0];
  let enh = enhanced;
  if (enh && (cls === '2' || cls === '4' || cls === '5') && enh[0] !== cls) enh = cls + enh.slice(1);
  const lines = typeof text === 'string' ? [text] : [...text];
  return disconnect ? { code, enhanced: enh, lines, disconnect: true } : { code, enhanced: enh, lines };
}

export const ok = (enhanced: string, text: string): Reply => reply(250, enhanced, text);
export const tempfail = (code: number, enhanced: string, text: string): Reply => reply(code, enhanced, text);
export const permfail = (code: number, enhanced: string, text: string): Reply => reply(code, enhanced, text);

/** Same reply, closing the connection afterwards. */
export function withDisconnect(r: Reply): Reply {
  return { ...r, disconnect: true };
}

/** Turn a "NNN text" or "NNN X.Y.Z text" string (access tables, policy servers) into a Reply. */
export function parseReplyText(s: string, fallbackEnhanced: string): Reply | undefined {
  const m = /^([245]\d\d)(?:[ -]+(?:([245]\.\d{1,3}\.\d{1,3})\s+)?(.*))?$/s.exec(s.trim());
  if (!m) return undefined;
  const code = Number(m[1]);
  const enh = m[2] ?? fallbackEnhanced;
  return reply(code, enh, m[3] ?? '');
}

/** Wire form: "250-first\r\n250 last\r\n", with the enhanced code on every line when enabled. */
export function formatReply(r: Reply, enhancedCodes = true): string {
  const prefix = enhancedCodes && r.enhanced ? `${r.enhanced} ` : '';
  const lines = r.lines.length ? r.lines : [''];
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const sep = i === lines.length - 1 ? ' ' : '-';
    out += `${r.code}${sep}${prefix}${lines[i]}\r\n`;
  }
  return out;
}

/** One-line text for the mail log: "554 5.7.1 <x@y>: Relay access denied". */
export function replyForLog(r: Reply): string {
  return `${r.code} ${r.enhanced ? r.enhanced + ' ' : ''}${r.lines.join(' ')}`;
}

export const isPositive = (r: Reply): boolean => r.code < 400;
export const isTemporary = (r: Reply): boolean => r.code >= 400 && r.code < 500;
export const isPermanent = (r: Reply): boolean => r.code >= 500;
