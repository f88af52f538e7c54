/**
 * The sendmail(1) command line as Postfix's sendmail reads it (getopt string
 * "B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx"): single-letter options, grouped flags
 * ("-ti"), option values attached ("-fuser") or in the next argument ("-f user"), "--" ends
 * the options; options may also follow recipients (GNU getopt order). Values for options
 * Postern has no use for are accepted and ignored, as Postfix ignores them.
 */

export type SendmailMode = 'deliver' | 'smtp' | 'list' | 'flush' | 'unsupported';

export interface SendmailArgs {
  mode: SendmailMode;
  /** For mode 'unsupported': the option, e.g. "-bd". */
  unsupported?: string;
  extractRecipients: boolean;
  /** -i / -oi: a line with a single "." does not end the message. */
  ignoreDots: boolean;
  sender?: string;
  fullname?: string;
  configDir?: string;
  notify?: string[];
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  recipients: string[];
}

const FLAGS = new Set('GIUcimntvx');
const WITH_VALUE = new Set('BCFLNORVXbefhoprq');

export class SendmailUsageError extends Error {}

export function parseSendmailArgs(argv: readonly string[]): SendmailArgs {
  const a: SendmailArgs = { mode: 'deliver', extractRecipients: false, ignoreDots: false, recipients: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      a.recipients.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      a.recipients.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const opt = arg[j]!;
      if (FLAGS.has(opt)) {
        if (opt === 't') a.extractRecipients = true;
        else if (opt === 'i') a.ignoreDots = true;
        else if (opt === 'I') {
          a.mode = 'unsupported';
          a.unsupported = '-I (newaliases)';
        }
        continue;
      }
      if (!WITH_VALUE.has(opt)) throw new SendmailUsageError(`invalid option -- '${opt}'`);
      let value = arg.slice(j + 1);
      if (opt === 'q') {
        // -q, -q30m, -qR…: run the queue now (the interval is meaningless here).
        a.mode = 'flush';
        break;
      }
      if (value === '') {
        if (i + 1 >= argv.length) throw new SendmailUsageError(`option requires an argument -- '${opt}'`);
        value = argv[++i]!;
      }
      applyValue(a, opt, value);
      break;
    }
  }
  return a;
}

function applyValue(a: SendmailArgs, opt: string, value: string): void {
  switch (opt) {
    case 'f':
    case 'r':
      a.sender = value;
      return;
    case 'F':
      a.fullname = value;
      return;
    case 'C':
      a.configDir = value;
      return;
    case 'o':
      if (value === 'i') a.ignoreDots = true;
      return; // -oem, -om, -oA…: sendmail options Postfix ignores
    case 'N': {
      const list = value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
      const ok = list.every((n) => ['SUCCESS', 'DELAY', 'FAILURE', 'NEVER'].includes(n)) && (!list.includes('NEVER') || list.length === 1);
      if (!ok || list.length === 0) throw new SendmailUsageError(`-N ${value}: expected "never" or a list of success, delay, failure`);
      a.notify = list;
      return;
    }
    case 'R': {
      const r = value.toUpperCase();
      if (r !== 'FULL' && r !== 'HDRS') throw new SendmailUsageError(`-R ${value}: expected "full" or "hdrs"`);
      a.ret = r;
      return;
    }
    case 'V':
      a.envid = value;
      return;
    case 'b':
      if (value === 'm') a.mode = 'deliver';
      else if (value === 's') a.mode = 'smtp';
      else if (value === 'p') a.mode = 'list';
      else if (['d', 'i', 'v', 'D', 'a', 'h', 'H', 'P'].includes(value)) {
        a.mode = 'unsupported';
        a.unsupported = `-b${value}`;
      } else throw new SendmailUsageError(`-b${value}: unknown mode`);
      return;
    default:
      return; // -B -L -O -X -e -h -p: accepted and ignored, as Postfix does
  }
}
