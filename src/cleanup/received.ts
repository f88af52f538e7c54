/** The Received: header Postern adds, in Postfix's layout (RFC 5321 §4.4, RFC 3848 protocol names). */

import type { SessionFacts } from '../policy/types.js';

// Intl.DateTimeFormat is slow to build; the zone name only changes with the offset (DST).
let cachedZone: { offset: number; name: string } | undefined;
function zoneName(offsetMinutes: number): string {
  if (cachedZone?.offset !== offsetMinutes) {
    const name = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(new Date()).find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
    cachedZone = { offset: offsetMinutes, name };
  }
  return cachedZone.name;
}

/**
 * RFC 5322 date as Postfix's mail_date(): "Sun, 22 Nov 2026 09:45:01 +0000 (UTC)". Postfix
 * pads days 1–9 with a space (strftime %e); we write "2 Nov", RFC 5322's plain form.
 */
export function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const mons = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, '0');
  const mm = String(Math.abs(off) % 60).padStart(2, '0');
  const zone = zoneName(off);
  const time = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  return `${days[d.getDay()]}, ${d.getDate()} ${mons[d.getMonth()]} ${d.getFullYear()} ${time} ${sign}${hh}${mm} (${zone})`;
}

/** "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" (RFC 3848) or "SMTP". */
export function withProtocol(f: SessionFacts): string {
  // RFC 3848 suffixes are defined for ESMTP only.
  if (f.protocol === 'SMTP') return 'SMTP';
  return `ESMTP${f.tls ? 'S' : ''}${f.saslUsername ? 'A' : ''}`;
}

/**
 * Postfix's layout (smtpd.c): "from HELO (NAME [ADDR])" with the client name standing in
 * for a missing HELO; "for <rcpt>; DATE" on one line with exactly one recipient, otherwise
 * "id ID;" and the date on a line of its own.
 */
export function receivedHeader(f: SessionFacts, opts: { myhostname: string; mailName: string; queueId: string; recipients: readonly string[]; date: Date }): string {
  const helo = f.helo ?? f.client.name;
  const addr = f.client.addr.includes(':') ? `IPv6:${f.client.addr}` : f.client.addr;
  let h = `Received: from ${helo} (${f.client.name} [${addr}])`;
  if (f.tls && f.params.bool('smtpd_tls_received_header')) {
    h += `\r\n\t(using ${f.tlsProtocol} with cipher ${f.tlsCipher} (${f.tlsBits}/${f.tlsBits} bits))\r\n\t(No client certificate requested)`;
  }
  if (f.saslUsername && f.params.bool('smtpd_sasl_authenticated_header')) h += `\r\n\t(Authenticated sender: ${f.saslUsername})`;
  h += `\r\n\tby ${opts.myhostname} (${opts.mailName}) with ${withProtocol(f)} id ${opts.queueId}`;
  if (opts.recipients.length === 1) return `${h}\r\n\tfor <${opts.recipients[0]}>; ${rfc5322Date(opts.date)}\r\n`;
  return `${h};\r\n\t${rfc5322Date(opts.date)}\r\n`;
}

/**
 * The Received: header of a locally submitted message, as Postfix's pickup(8) writes it:
 * "Received: by HOST (MAIL_NAME, from userid UID)" and "\tid ID; DATE" (no "from" clause:
 * there is no client; no "for": pickup never names a recipient).
 */
export function pickupReceivedHeader(opts: { myhostname: string; mailName: string; uid: number; queueId: string; date: Date }): string {
  return `Received: by ${opts.myhostname} (${opts.mailName}, from userid ${opts.uid})\r\n\tid ${opts.queueId}; ${rfc5322Date(opts.date)}\r\n`;
}
