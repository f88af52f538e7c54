/**
 * The SMTP command table: one row per verb with the flags the dispatcher enforces. Order
 * matches Postfix's, which is also the order of the counters in "disconnect from …".
 */

export interface CommandSpec {
  readonly name: string;
  /** Refused with 503 before HELO/EHLO when smtpd_helo_required = yes. */
  readonly needsHelo: boolean;
  /** Counts against smtpd_junk_command_limit. */
  readonly junk: boolean;
  /** Allowed before TLS on a listener that requires TLS (next issue). */
  readonly beforeTls: boolean;
}

const row = (name: string, needsHelo: boolean, junk: boolean, beforeTls: boolean): CommandSpec => ({ name, needsHelo, junk, beforeTls });

export const COMMANDS: readonly CommandSpec[] = [
  row('HELO', false, false, true),
  row('EHLO', false, false, true),
  row('STARTTLS', false, false, true),
  row('AUTH', true, false, false),
  row('MAIL', true, false, false),
  row('RCPT', true, false, false),
  row('DATA', true, false, false),
  row('BDAT', true, false, false),
  row('RSET', false, true, true),
  row('NOOP', false, true, true),
  row('VRFY', false, true, false),
  row('ETRN', true, true, false),
  row('QUIT', false, false, true),
  row('HELP', false, true, true),
];

export const COMMAND_BY_NAME: ReadonlyMap<string, CommandSpec> = new Map(COMMANDS.map((c) => [c.name, c]));

/** Per-command counters for the disconnect line: "ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6". */
export class CommandStats {
  private readonly ok = new Map<string, number>();
  private readonly total = new Map<string, number>();

  count(name: string, success: boolean): void {
    this.total.set(name, (this.total.get(name) ?? 0) + 1);
    if (success) this.ok.set(name, (this.ok.get(name) ?? 0) + 1);
  }

  format(): string {
    const parts: string[] = [];
    let ok = 0;
    let total = 0;
    for (const name of [...COMMANDS.map((c) => c.name), 'UNKNOWN']) {
      const t = this.total.get(name);
      if (!t) continue;
      const o = this.ok.get(name) ?? 0;
      ok += o;
      total += t;
      parts.push(`${name.toLowerCase()}=${o === t ? t : `${o}/${t}`}`);
    }
    if (total === 0) return 'commands=0';
    parts.push(`commands=${ok === total ? total : `${ok}/${total}`}`);
    return parts.join(' ');
  }
}
