/**
 * The SMTP command table: one row per verb with the flags the dispatcher enforces. Order
 * matches Postfix's smtpd_cmd_table, which is also the order of the counters in
 * "disconnect from …". Flags follow Postfix: `junk` = SMTPD_CMD_FLAG_LIMIT, `beforeTls` =
 * SMTPD_CMD_FLAG_PRE_TLS, `last` = SMTPD_CMD_FLAG_LAST (RFC 2920 §3.1: may only end a
 * pipelined group, so input pending after it is improper pipelining even with EHLO).
 */

export interface CommandSpec {
  readonly name: string;
  /** Refused with 503 before HELO/EHLO when smtpd_helo_required = yes. */
  readonly needsHelo: boolean;
  /** Counts against smtpd_junk_command_limit. */
  readonly junk: boolean;
  /** Allowed before TLS on a listener that requires TLS. */
  readonly beforeTls: boolean;
  /** Must be the last command of a pipelined group. */
  readonly last: boolean;
}

type Flag = 'helo' | 'junk' | 'pretls' | 'last';
const row = (name: string, ...flags: Flag[]): CommandSpec => ({
  name, needsHelo: flags.includes('helo'), junk: flags.includes('junk'), beforeTls: flags.includes('pretls'), last: flags.includes('last'),
});

export const COMMANDS: readonly CommandSpec[] = [
  row('HELO', 'junk', 'pretls', 'last'),
  row('EHLO', 'junk', 'pretls', 'last'),
  row('STARTTLS', 'pretls'),
  row('AUTH', 'helo'),
  row('MAIL', 'helo'),
  row('RCPT', 'helo'),
  row('DATA', 'helo', 'last'),
  row('BDAT', 'helo'),
  row('RSET', 'junk'),
  row('NOOP', 'junk', 'pretls', 'last'),
  row('VRFY', 'junk', 'last'),
  row('ETRN', 'helo', 'junk'),
  row('QUIT', 'pretls'),
  // Not a junk command in Postfix; counted here so HELP cannot loop forever for free.
  row('HELP', 'junk', 'pretls'),
];

export const COMMAND_BY_NAME: ReadonlyMap<string, CommandSpec> = new Map(COMMANDS.map((c) => [c.name, c]));

/** HELP's list: the table's verbs, sorted as Postfix does. */
export const HELP_TEXT = `Commands: ${COMMANDS.map((c) => c.name).sort().join(' ')}`;

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
