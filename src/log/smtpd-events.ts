/** Mail log sentences of the SMTP server, one function per event, in Postfix's wording. */

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
  lostConnection(log: MailLog, w: Who, after: string): void {
    log.line(w.program, `lost connection after ${after} from ${w.client}`);
  },
  timeout(log: MailLog, w: Who, after: string): void {
    log.line(w.program, `timeout after ${after} from ${w.client}`);
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
  requestTooLong(log: MailLog, w: Who, limit: number, head: string): void {
    log.warning(w.program, `${w.client}: request longer than ${limit}: ${head}...`);
  },
  bareNewline(log: MailLog, w: Who, where: string): void {
    log.warning(w.program, `${w.client}: bare <LF> received after ${where}`);
  },
  improperPipelining(log: MailLog, w: Who, after: string, next: string): void {
    log.line(w.program, `improper command pipelining after ${after} from ${w.client}: ${next}`);
  },
  sessionsFull(log: MailLog, program: string, service: string, limit: number, client: string): void {
    log.warning(program, `service "${service}" has reached its session limit "${limit}": refusing ${client}`);
  },
  internalError(log: MailLog, w: Who, what: string): void {
    log.error(w.program, `${w.client}: internal error during ${what}`);
  },
};
