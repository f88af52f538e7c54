/**
 * pipe(8) command attributes from master.cf (the words after "pipe"): flags=, user=,
 * size=, eol=, null_sender=, directory=, argv=… (argv last; its words are the command).
 * The words are the admin's (trusted) but checked as Postfix checks them: user= is
 * required and may not give root's uid or gid 0, argv= is required, unknown attributes
 * and flags are refused. Postfix stops the pipe process on these (msg_fatal); Postern
 * reports a PipeConfigError, which the agent turns into "mail system configuration error"
 * deferrals and a log warning with Postfix's wording.
 */

import { getpwnam, getgrnam, type AccountFiles } from '../exec/accounts.js';

export interface PipeFlags {
  /** B: blank line after the message. */
  readonly B: boolean;
  /** D: Delivered-To header, and the loop check. */
  readonly D: boolean;
  /** F: "From " envelope line. */
  readonly F: boolean;
  /** O: X-Original-To header. */
  readonly O: boolean;
  /** R: Return-Path header. */
  readonly R: boolean;
  /** X: final delivery (DSN action "delivered" instead of "relayed"). */
  readonly X: boolean;
  /** h: fold $recipient/$original_recipient domain, $domain and $nexthop to lower case. */
  readonly h: boolean;
  /** q: RFC 822-quote the local part of $sender, $recipient, $original_recipient. */
  readonly q: boolean;
  /** u: fold the $recipient/$original_recipient local part to lower case. */
  readonly u: boolean;
  /** .: double a leading ".". */
  readonly dot: boolean;
  /** >: ">From " quoting. */
  readonly quoteFrom: boolean;
}

export interface PipeAttributes {
  readonly flags: PipeFlags;
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  /** 0: no limit. */
  readonly sizeLimit: number;
  readonly eol: string;
  readonly nullSender: string;
  readonly directory?: string;
  /** The command words, macros not yet expanded; `{ … }` groups already unwrapped. */
  readonly argv: readonly string[];
}

export class PipeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipeConfigError';
  }
}

const FLAG_LETTERS: Record<string, keyof PipeFlags> = {
  B: 'B', D: 'D', F: 'F', O: 'O', R: 'R', X: 'X', h: 'h', q: 'q', u: 'u', '.': 'dot', '>': 'quoteFrom',
};

/** C-style escapes of eol= (\n \r \t \a \b \f \v \\ \ddd), as Postfix's unescape(). */
export function unescape(text: string): string {
  const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
  return text.replace(/\\([0-7]{1,3}|.)/gs, (_m, e: string) => (/^[0-7]/.test(e) ? String.fromCharCode(parseInt(e, 8)) : simple[e] ?? e));
}

/** "{ text }" → "text" (Postfix 3.0: arguments with spaces, or empty ones). */
function unwrap(word: string): string {
  return word.startsWith('{') && word.endsWith('}') ? word.slice(1, -1).trim() : word;
}

function attrName(word: string): string {
  const eq = word.indexOf('=');
  return eq < 0 ? '' : word.slice(0, eq).toLowerCase();
}

export function parsePipeAttributes(words: readonly string[], accounts: AccountFiles = {}): PipeAttributes {
  const flags: Record<keyof PipeFlags, boolean> = { B: false, D: false, F: false, O: false, R: false, X: false, h: false, q: false, u: false, dot: false, quoteFrom: false };
  let user: string | undefined;
  let uid = -1;
  let gid = -1;
  let sizeLimit = 0;
  let eol = '\n';
  let nullSender = 'MAILER-DAEMON';
  let directory: string | undefined;
  let argv: string[] | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const value = word.slice(word.indexOf('=') + 1);
    switch (attrName(word)) {
      case 'flags':
        for (const ch of value) {
          const f = FLAG_LETTERS[ch];
          if (!f) throw new PipeConfigError(`unknown flag: ${ch} (ignored)`);
          flags[f] = true;
        }
        break;
      case 'user': {
        const colon = value.indexOf(':');
        const name = colon < 0 ? value : value.slice(0, colon);
        const group = colon < 0 ? '' : value.slice(colon + 1);
        const pw = getpwnam(name, accounts);
        if (!pw) throw new PipeConfigError(`get_service_attr: unknown username: ${name}`);
        user = name;
        uid = pw.uid;
        gid = pw.gid;
        if (group) {
          const g = getgrnam(group, accounts);
          if (g === undefined) throw new PipeConfigError(`get_service_attr: unknown group: ${group}`);
          gid = g;
        }
        break;
      }
      case 'size':
        if (!/^\d+$/.test(value)) throw new PipeConfigError(`get_service_attr: bad size= value: ${value}`);
        sizeLimit = Number(value);
        break;
      case 'eol':
        eol = unescape(value);
        break;
      case 'null_sender':
        nullSender = value;
        break;
      case 'directory':
        directory = value;
        break;
      case 'chroot':
        throw new PipeConfigError('chroot= is not supported by Postern (run the command without it)');
      case 'argv':
        argv = [value, ...words.slice(i + 1)].map(unwrap);
        i = words.length;
        break;
      default:
        throw new PipeConfigError(`unknown attribute name: ${word}`);
    }
  }
  if (user === undefined) throw new PipeConfigError('missing user= command-line attribute');
  if (!argv || !argv[0]) throw new PipeConfigError('missing argv= command-line attribute');
  if (uid === 0) throw new PipeConfigError('user= command-line attribute specifies root privileges');
  if (gid === 0) throw new PipeConfigError('user= command-line attribute specifies privileged group id 0');
  return { flags, user, uid, gid, sizeLimit, eol, nullSender, directory, argv };
}
