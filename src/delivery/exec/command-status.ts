/**
 * How a finished command becomes a delivery status, with Postfix's texts (pipe_command()
 * and sys_exits): exit 0 is success; output that begins with an RFC 3463 code ("4.2.2
 * mailbox full") decides status and text; a sysexits(3) code maps through the table
 * (75 temporary failure → deferred 4.3.0, 67 user unknown → bounced 5.1.1, …); any other
 * code bounces "Command died with status N: "cmd""; a signal defers; the time limit
 * bounces (5.3.0), as in Postfix. Command output follows as ". Command output: …".
 * `diagnostic` is the RFC 3464 Diagnostic-Code ("x-unix; …").
 */

import type { RunResult } from './run-command.js';
import { sysExitDetail, isSysExit, EX_TEMPFAIL } from './sysexits.js';
import { strerror } from '../../log/strerror.js';

export interface CommandStatus {
  readonly status: 'sent' | 'deferred' | 'bounced';
  readonly dsn: string;
  /** Status text (for failures; success texts are the caller's). */
  readonly text: string;
  readonly diagnostic: string;
  /** The printable command output, as captured. */
  readonly output: string;
}

/** Length of an RFC 3463 code at the start of text ("5.1.1" + end or white space), else 0. */
export function dsnPrefix(text: string): number {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?=$|\s)/.exec(text);
  return m ? m[0].length : 0;
}

/**
 * `program` names the delivery agent in a start-up failure, which Postfix reports from
 * the child as "<program>: fatal: pipe_command: execvp <cmd>: <error>" with exit 75.
 */
export function commandStatus(r: RunResult, command: string, program: string): CommandStatus {
  if (r.kind === 'spawn-error') {
    const output = `${program}: fatal: pipe_command: execvp ${command}: ${strerror(r.error)} `;
    return commandStatus({ kind: 'exit', code: EX_TEMPFAIL, output }, command, program);
  }
  const out = r.output ? `. Command output: ${r.output}` : '';
  const fallback = (text: string): string => `x-unix; ${r.output || text}`;
  switch (r.kind) {
    case 'timeout':
      return { status: 'bounced', dsn: '5.3.0', text: `Command time limit exceeded: "${command}"${out}`, diagnostic: fallback('internal software error'), output: r.output };
    case 'signal':
      return { status: 'deferred', dsn: '4.3.0', text: `Command died with signal ${r.signal}: "${command}"${out}`, diagnostic: fallback('internal software error'), output: r.output };
    case 'exit':
      break;
  }
  if (r.code === 0) return { status: 'sent', dsn: '2.0.0', text: '', diagnostic: '', output: r.output };
  const n = dsnPrefix(r.output);
  if (n > 0) {
    // "D.S.N text" output wins over the exit status. XXX: a 2.x.x code on failure bounces as 5.3.0.
    const code = r.output[0] === '2' ? '5.3.0' : r.output.slice(0, n);
    const text = r.output.slice(n).replace(/^\s+/, '');
    return { status: code[0] === '4' ? 'deferred' : 'bounced', dsn: code, text, diagnostic: `x-unix; ${text}`, output: r.output };
  }
  const sp = sysExitDetail(r.code);
  const status = sp.dsn[0] === '4' ? 'deferred' : 'bounced';
  if (isSysExit(r.code)) return { status, dsn: sp.dsn, text: `${sp.text}${out}`, diagnostic: fallback(sp.text), output: r.output };
  return { status: 'bounced', dsn: sp.dsn, text: `Command died with status ${r.code}: "${command}"${out}`, diagnostic: fallback(sp.text), output: r.output };
}
