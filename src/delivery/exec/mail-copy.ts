/**
 * The bytes a command or mbox file receives (Postfix's mail_copy()): optional envelope
 * lines in front — "From sender  date" (F), Return-Path (R), X-Original-To (O),
 * Delivered-To (D), in that order — then the message with each line ended by `eol`
 * ("\n" unless a pipe service sets eol=), lines beginning "From " prefixed with ">" (the >
 * flag; mbox files), lines beginning "." prefixed with "." (the . flag, BSMTP), and an
 * optional blank line at the end (B; mbox files). The queue keeps messages with CRLF; a
 * last line without a line ending still gets `eol`. Addresses are quoted as RFC 822 local
 * parts; the null sender is MAILER-DAEMON in the From_ line and <> in Return-Path.
 */

import { quote822Local } from './quote-822.js';

export interface CopyFlags {
  /** F: "From sender  Thu Jan  1 00:00:00 1970" first line. */
  readonly from?: boolean;
  /** R: Return-Path: <sender>. */
  readonly returnPath?: boolean;
  /** O: X-Original-To: original recipient (skipped when empty). */
  readonly origRcpt?: boolean;
  /** D: Delivered-To: recipient. */
  readonly delivered?: boolean;
  /** >: ">From " for body lines starting "From ". */
  readonly quoteFrom?: boolean;
  /** .: "." doubled at the start of a line. */
  readonly dot?: boolean;
  /** B: a blank line after the message. */
  readonly blank?: boolean;
}

export interface CopyEnvelope {
  readonly sender: string;
  readonly originalRecipient: string;
  readonly recipient: string;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** asctime(3) of local time without the newline: "Thu Aug  2 16:28:33 2026". */
export function asctime(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** The envelope lines alone (From_, Return-Path, X-Original-To, Delivered-To). */
export function envelopeLines(env: CopyEnvelope, flags: CopyFlags, eol: string, now: Date = new Date()): string {
  let out = '';
  if (flags.from) out += `From ${env.sender ? quote822Local(env.sender) : 'MAILER-DAEMON'}  ${asctime(now)}${eol}`;
  if (flags.returnPath) out += `Return-Path: <${env.sender ? quote822Local(env.sender) : ''}>${eol}`;
  if (flags.origRcpt && env.originalRecipient) out += `X-Original-To: ${quote822Local(env.originalRecipient)}${eol}`;
  if (flags.delivered) out += `Delivered-To: ${quote822Local(env.recipient)}${eol}`;
  return out;
}

const FROM_ = Buffer.from('From ');

/** The whole copy as one buffer (messages are bounded by message_size_limit). */
export function mailCopy(data: Buffer, env: CopyEnvelope, flags: CopyFlags, eol = '\n', now: Date = new Date()): Buffer {
  const eolBuf = Buffer.from(eol, 'latin1');
  const parts: Buffer[] = [Buffer.from(envelopeLines(env, flags, eol, now), 'utf8')];
  let pos = 0;
  while (pos < data.length) {
    let nl = data.indexOf(0x0a, pos);
    const next = nl < 0 ? data.length : nl + 1;
    if (nl < 0) nl = data.length;
    const end = nl > pos && data[nl - 1] === 0x0d ? nl - 1 : nl;
    if (flags.quoteFrom && data.subarray(pos, pos + 5).equals(FROM_)) parts.push(Buffer.from('>'));
    if (flags.dot && data[pos] === 0x2e) parts.push(Buffer.from('.'));
    parts.push(data.subarray(pos, end), eolBuf);
    pos = next;
  }
  if (flags.blank) parts.push(eolBuf);
  return Buffer.concat(parts);
}
