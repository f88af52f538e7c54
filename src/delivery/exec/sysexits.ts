/**
 * sysexits(3) exit codes of delivery commands, with the RFC 3463 status and text that
 * Postfix's sys_exits table gives them (pipe(8), local(8)). A code outside the table is
 * "unknown mail system error N" with 5.3.0, as in Postfix.
 */

export interface SysExit {
  readonly code: number;
  readonly dsn: string;
  readonly text: string;
}

export const EX_USAGE = 64;
export const EX_NOUSER = 67;
export const EX_SOFTWARE = 70;
export const EX_TEMPFAIL = 75;

const TABLE: readonly SysExit[] = [
  { code: 64, dsn: '5.3.0', text: 'command line usage error' },
  { code: 65, dsn: '5.6.0', text: 'data format error' },
  { code: 66, dsn: '5.3.0', text: 'cannot open input' },
  { code: 67, dsn: '5.1.1', text: 'user unknown' },
  { code: 68, dsn: '5.1.2', text: 'host name unknown' },
  { code: 69, dsn: '5.3.0', text: 'service unavailable' },
  { code: 70, dsn: '5.3.0', text: 'internal software error' },
  { code: 71, dsn: '4.3.0', text: 'system resource problem' },
  { code: 72, dsn: '5.3.0', text: 'critical OS file missing' },
  { code: 73, dsn: '5.2.0', text: "can't create user output file" },
  { code: 74, dsn: '5.3.0', text: 'input/output error' },
  { code: 75, dsn: '4.3.0', text: 'temporary failure' },
  { code: 76, dsn: '5.5.0', text: 'remote error in protocol' },
  { code: 77, dsn: '5.7.0', text: 'permission denied' },
  { code: 78, dsn: '5.3.5', text: 'local configuration error' },
];

const BY_CODE = new Map(TABLE.map((e) => [e.code, e]));

/** True for the codes sysexits.h defines (64..78). */
export function isSysExit(code: number): boolean {
  return BY_CODE.has(code);
}

/** The table entry, or Postfix's fallback for any other code. */
export function sysExitDetail(code: number): SysExit {
  return BY_CODE.get(code) ?? { code, dsn: '5.3.0', text: `unknown mail system error ${code}` };
}
