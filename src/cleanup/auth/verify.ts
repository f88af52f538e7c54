/**
 * Email authentication of one incoming message by mailauth (SPF RFC 7208, DKIM RFC 6376,
 * DMARC RFC 7489, ARC RFC 8617; DNS through dns/), turned into Postern's decisions:
 *  - one Authentication-Results header (RFC 8601) "Authentication-Results: <myhostname>;
 *    spf=…; dkim=…; dmarc=…; arc=…", and the removal of any such header already in the
 *    message that claims to be ours (RFC 8601 §5: a forgery, or a copy from an earlier hop);
 *  - the DMARC policy when DMARC fails and postern_dmarc_enforce = yes: p=reject →
 *    "550 5.7.1 Message rejected per DMARC policy of DOMAIN"; p=quarantine → the
 *    X-Postern-Quarantine header, or HOLD with postern_dmarc_quarantine_action = hold.
 * Input: the message as it will be queued (untrusted), the client's address, HELO and sender.
 * XXX: pct= is not sampled: a failing message gets the policy every time.
 */

import { loadMailauth } from './mailauth.js';
import type { Params } from '../../config/types.js';
import type { MailauthResolver } from '../../dns/mailauth-resolver.js';
import { reply, type Reply } from '../../protocol/reply.js';
import { splitMessage, joinMessage, fieldValue } from '../headers.js';

export interface AuthVerdict {
  /** The Authentication-Results field, CRLF-terminated. */
  readonly header: string;
  /** "spf=pass dkim=none dmarc=none arc=none", for the log and the explain header. */
  readonly summary: string;
  readonly reject?: Reply;
  readonly hold?: string;
  /** Extra header lines to add (X-Postern-Quarantine), CRLF-terminated. */
  readonly extraHeaders: string;
  /** What DMARC decided, for the log ("dmarc=fail p=reject header.from=example.org"). */
  readonly dmarcNote?: string;
}

export interface AuthInput {
  readonly ip: string;
  readonly helo?: string;
  readonly sender: string;
  readonly resolver: MailauthResolver;
}

/** Removes Authentication-Results fields whose authserv-id is ours (case-insensitive). */
export function removeOurAuthResults(data: Buffer, authservId: string): Buffer {
  const split = splitMessage(data);
  const id = authservId.toLowerCase();
  const keep = split.fields.filter((f) => f.name.toLowerCase() !== 'authentication-results' || fieldValue(f).split(';')[0]!.trim().split(/\s+/)[0]!.toLowerCase() !== id);
  if (keep.length === split.fields.length) return data;
  return joinMessage({ fields: keep, body: split.body });
}

const word = (info: string | undefined): string => (info ?? '').split(/\s/)[0] ?? '';

export async function verifyMessage(data: Buffer, params: Params, input: AuthInput): Promise<AuthVerdict> {
  const myhostname = params.str('myhostname');
  const r = await (await loadMailauth()).authenticate(data, {
    ip: input.ip, helo: input.helo ?? input.ip, sender: input.sender, mta: myhostname,
    resolver: input.resolver as never, disableBimi: true,
  });
  const parts: string[] = [];
  if (r.spf) parts.push(r.spf.info);
  for (const d of r.dkim.results ?? []) parts.push(d.info);
  if (r.dmarc && r.dmarc.info) parts.push(r.dmarc.info);
  parts.push(r.arc && r.arc.info ? r.arc.info : 'arc=none');
  // One value per line: the field can be long (comments, several signatures).
  const header = `Authentication-Results: ${myhostname};\r\n\t${parts.map((p) => p.replace(/\r?\n/g, ' ')).join(';\r\n\t')}\r\n`;
  const dkimWords = (r.dkim.results ?? []).map((d) => word(d.info));
  const summary = [word(r.spf ? r.spf.info : 'spf=none'), dkimWords.length ? dkimWords.join(',') : 'dkim=none', r.dmarc ? word(r.dmarc.info) || 'dmarc=none' : 'dmarc=none', r.arc ? word(r.arc.info) || 'arc=none' : 'arc=none'].join(' ');

  let rejectReply: Reply | undefined;
  let hold: string | undefined;
  let extraHeaders = '';
  let dmarcNote: string | undefined;
  const dm = r.dmarc;
  if (dm && dm.status.result === 'fail') {
    const policy = String((dm as { policy?: string }).policy ?? 'none').toLowerCase();
    const domain = String(dm.status.header?.from ?? dm.status.header?.d ?? (dm as { domain?: string }).domain ?? '');
    dmarcNote = `dmarc=fail p=${policy} header.from=${domain}`;
    if (params.bool('postern_dmarc_enforce')) {
      if (policy === 'reject') rejectReply = reply(550, '5.7.1', `Message rejected per DMARC policy of ${domain}`);
      else if (policy === 'quarantine') {
        if (params.str('postern_dmarc_quarantine_action').toLowerCase() === 'hold') hold = `DMARC quarantine policy of ${domain}`;
        else extraHeaders = `X-Postern-Quarantine: DMARC ${domain}\r\n`;
      }
    }
  }
  return { header, summary, reject: rejectReply, hold, extraHeaders, dmarcNote };
}
