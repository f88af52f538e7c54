/**
 * Mail log sentences of the SMTP server, one function per event, in Postfix's wording
 * (checked against smtpd.c and a real Postfix 3.7 log: pflogsumm and fail2ban read these).
 * Client text is untrusted: it is escaped or made printable before it reaches the log.
 */

import type { MailLog } from './maillog.js';

export interface Who {
  readonly program: string;
  /** "name[addr]" (with ":port" when smtpd_client_port_logging = yes). */
  readonly client: string;
}

export const smtpdLog = {
  connect(log: MailLog, w: Who): void {
    log.line(w.program, `connect from ${w.client}`);
  },
  disconnect(log: MailLog, w: Who, stats: string): void {
    log.line(w.program, `disconnect from ${w.client}${stats ? ' ' + stats : ''}`);
  },
  /** `bytes` is given while a message is being received: "lost connection after DATA (1234 bytes) from …". */
  lostConnection(log: MailLog, w: Who, after: string, bytes?: number): void {
    log.line(w.program, `lost connection after ${after}${bytes !== undefined ? ` (${bytes} bytes)` : ''} from ${w.client}`);
  },
  timeout(log: MailLog, w: Who, after: string, bytes?: number): void {
    log.line(w.program, `timeout after ${after}${bytes !== undefined ? ` (${bytes} bytes)` : ''} from ${w.client}`);
  },
  tooManyErrors(log: MailLog, w: Who, after: string): void {
    log.line(w.program, `too many errors after ${after} from ${w.client}`);
  },
  sessionLimit(log: MailLog, w: Who, after: string): void {
    log.line(w.program, `session time limit exceeded after ${after} from ${w.client}`);
  },
  commandLimit(log: MailLog, w: Who, after: string): void {
    log.line(w.program, `too many commands after ${after} from ${w.client}`);
  },
  queueId(log: MailLog, w: Who, id: string, sasl?: { user: string; method: string }): void {
    const auth = sasl ? `, sasl_method=${sasl.method}, sasl_username=${sasl.user}` : '';
    log.line(w.program, `${id}: client=${w.client}${auth}`);
  },
  /** The exact form fail2ban's postfix[mode=auth] filter matches. */
  saslFailed(log: MailLog, w: Who, mech: string, reason: string, user: string): void {
    log.warning(w.program, `${w.client}: SASL ${mech} authentication failed: ${reason}${user ? `, sasl_username=${user}` : ''}`);
  },
  saslTempfail(log: MailLog, w: Who, mech: string, reason: string): void {
    log.warning(w.program, `${w.client}: SASL ${mech} authentication temporarily failed: ${reason}`);
  },
  tlsEstablished(log: MailLog, w: Who, t: { protocol: string; cipher: string; bits: number }): void {
    log.line(w.program, `Anonymous TLS connection established from ${w.client}: ${t.protocol} with cipher ${t.cipher} (${t.bits}/${t.bits} bits)`);
  },
  tlsFailed(log: MailLog, w: Who, why: string): void {
    log.warning(w.program, `TLS library problem: SSL_accept error from ${w.client}: ${why}`);
  },
  /** "NOQUEUE: reject: RCPT from x[1.2.3.4]: 554 5.7.1 …; from=<a> to=<b> proto=ESMTP helo=<h>" (also reject_warning, hold, …). */
  action(log: MailLog, w: Who, id: string | undefined, action: string, cmd: string, text: string, env: { from?: string; to?: string; proto: string; helo?: string }): void {
    let tail = '';
    if (env.from !== undefined) tail += ` from=<${env.from}>`;
    if (env.to !== undefined) tail += ` to=<${env.to}>`;
    tail += ` proto=${env.proto}`;
    if (env.helo !== undefined) tail += ` helo=<${env.helo}>`;
    log.line(w.program, `${id ?? 'NOQUEUE'}: ${action}: ${cmd} from ${w.client}: ${text};${tail}`);
  },
  /** Postfix logs the first 30 characters, non-printable ones as "?". */
  requestTooLong(log: MailLog, w: Who, limit: number, head: string): void {
    log.warning(w.program, `${w.client}: request longer than ${limit}: ${printable(head.slice(0, 30))}...`);
  },
  malformedBdat(log: MailLog, w: Who, id: string | undefined, arg: string): void {
    log.warning(w.program, `${id ?? 'NOQUEUE'}: malformed BDAT command syntax from ${w.client}: ${printable(`BDAT ${arg}`.slice(0, 100))}`);
  },
  bareNewline(log: MailLog, w: Who, where: string): void {
    log.warning(w.program, `${w.client}: bare <LF> received after ${where}`);
  },
  /** `next`: the first bytes the client sent too early (up to 100, C-escaped as Postfix does). */
  improperPipelining(log: MailLog, w: Who, after: string, next: Buffer): void {
    log.line(w.program, `improper command pipelining after ${after} from ${w.client}: ${escapeBytes(next.subarray(0, 100))}`);
  },
  sessionsFull(log: MailLog, program: string, service: string, limit: number, client: string): void {
    log.warning(program, `service "${service}" has reached its session limit "${limit}": refusing ${client}`);
  },
  internalError(log: MailLog, w: Who, what: string): void {
    log.error(w.program, `${w.client}: internal error during ${what}`);
  },
};

/** Postfix's printable(): every byte outside printable ASCII becomes "?". */
export function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

/** Postfix's escape(): C escapes for control characters, octal for other bytes. */
export function escapeBytes(b: Buffer): string {
  let out = '';
  for (const c of b) {
    if (c === 13) out += '\\r';
    else if (c === 10) out += '\\n';
    else if (c === 9) out += '\\t';
    else if (c === 92) out += '\\\\';
    else if (c >= 32 && c < 127) out += String.fromCharCode(c);
    else out += '\\' + c.toString(8).padStart(3, '0');
  }
  return out;
}
