/**
 * pipe(8) argv macro expansion: $name, ${name} and $(name) ("$$" is one "$"), with
 * Postfix's rule that an argument naming a per-recipient macro ($recipient,
 * $original_recipient, $user, $extension, $mailbox, $domain) becomes one argument per
 * recipient. Flags: q quotes $sender/$recipient/$original_recipient local parts (RFC 822),
 * h folds their domain and $domain/$nexthop to lower case, u folds the local part. Values
 * come from the envelope (untrusted) but are passed as separate argv words, never through
 * a shell. Expansion is single-pass: "$" inside an address is never expanded again.
 */

import { quote822Local } from '../exec/quote-822.js';
import type { PipeFlags } from './attributes.js';

const PER_RECIPIENT = new Set(['recipient', 'original_recipient', 'user', 'extension', 'mailbox', 'domain']);
const PER_MESSAGE = new Set([
  'sender', 'nexthop', 'size', 'queue_id', 'envid', 'client_address', 'client_hostname', 'client_port',
  'client_protocol', 'client_helo', 'sasl_method', 'sasl_username', 'sasl_sender',
]);

export interface MacroRecipient {
  readonly recipient: string;
  readonly originalRecipient: string;
}

export interface MacroContext {
  /** Per-message values by macro name (sender already replaced by null_sender when empty). */
  readonly message: Readonly<Record<string, string>>;
  readonly recipients: readonly MacroRecipient[];
  /** recipient_delimiter (a set of characters; "" = none). */
  readonly delimiter: string;
  readonly flags: Pick<PipeFlags, 'h' | 'q' | 'u'>;
}

export class MacroError extends Error {}

type Piece = { text: string } | { name: string };

/** Split one argument into literal text and macro references; throws on an unknown name. */
export function parseMacros(arg: string): Piece[] {
  const out: Piece[] = [];
  let lit = '';
  for (let i = 0; i < arg.length; i++) {
    const ch = arg[i]!;
    if (ch !== '$') { lit += ch; continue; }
    const next = arg[i + 1];
    if (next === '$') { lit += '$'; i++; continue; }
    let name: string;
    if (next === '{' || next === '(') {
      const close = arg.indexOf(next === '{' ? '}' : ')', i + 2);
      if (close < 0) throw new MacroError(`unmatched "${next}" in "${arg}"`);
      name = arg.slice(i + 2, close);
      i = close;
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(arg.slice(i + 1));
      if (!m) { lit += '$'; continue; }
      name = m[0];
      i += name.length;
    }
    if (!PER_RECIPIENT.has(name) && !PER_MESSAGE.has(name)) throw new MacroError(`unknown macro name: "${name}"`);
    if (lit) out.push({ text: lit });
    lit = '';
    out.push({ name });
  }
  if (lit) out.push({ text: lit });
  return out;
}

/** Quote and fold a whole address as Postfix's morph_recipient(). */
export function morphAddress(address: string, flags: Pick<PipeFlags, 'h' | 'q' | 'u'>, quote = flags.q): string {
  const a = quote ? quote822Local(address) : address;
  const at = a.lastIndexOf('@');
  if (flags.h && flags.u) return a.toLowerCase();
  if (flags.u) return at < 0 ? a.toLowerCase() : a.slice(0, at).toLowerCase() + a.slice(at);
  if (flags.h && at >= 0) return a.slice(0, at + 1) + a.slice(at + 1).toLowerCase();
  return a;
}

/** Postfix's split_addr(): user and extension of a local part, or no extension. */
export function splitExtension(local: string, delimiter: string): { user: string; extension: string } {
  const none = { user: local, extension: '' };
  if (!delimiter) return none;
  const lc = local.toLowerCase();
  if (lc === 'postmaster' || lc === 'mailer-daemon' || lc === 'double-bounce') return none;
  if (delimiter.includes('-') && (lc.startsWith('owner-') || (lc.length > 8 && lc.endsWith('-request')))) return none;
  let i = 0;
  while (i < local.length && !delimiter.includes(local[i]!)) i++;
  if (i === 0 || i === local.length) return none;
  return { user: local.slice(0, i), extension: local.slice(i + 1) };
}

function recipientValue(name: string, r: MacroRecipient, ctx: MacroContext): string {
  if (name === 'recipient') return morphAddress(r.recipient, ctx.flags);
  if (name === 'original_recipient') return morphAddress(r.originalRecipient, ctx.flags);
  const folded = morphAddress(r.recipient, ctx.flags, false);
  const at = folded.lastIndexOf('@');
  const local = at < 0 ? folded : folded.slice(0, at);
  if (name === 'domain') return at < 0 ? '' : folded.slice(at + 1);
  if (name === 'mailbox') return local;
  const { user, extension } = splitExtension(local, ctx.delimiter);
  return name === 'user' ? user : extension;
}

/** The expanded command words. Throws MacroError for an unknown macro name. */
export function expandArgv(argv: readonly string[], ctx: MacroContext): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const pieces = parseMacros(arg);
    const perRecipient = pieces.some((p) => 'name' in p && PER_RECIPIENT.has(p.name));
    const render = (r?: MacroRecipient): string =>
      pieces.map((p) => ('text' in p ? p.text : r && PER_RECIPIENT.has(p.name) ? recipientValue(p.name, r, ctx) : ctx.message[p.name] ?? '')).join('');
    if (perRecipient) for (const r of ctx.recipients) out.push(render(r));
    else out.push(render());
  }
  return out;
}
