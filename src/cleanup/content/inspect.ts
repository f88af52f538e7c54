/**
 * header_checks, mime_header_checks, nested_header_checks and body_checks, as Postfix's
 * cleanup(8) runs them: each logical header and each body line is looked up in the tables
 * of its class (the first table with a match decides), and the action is applied at once.
 * REJECT and DISCARD end the inspection; every other action goes on with the next line.
 *
 * In: the message, the tables, what to log with. Out: a ContentOutcome — a reply for
 * REJECT, whole-message effects (DISCARD, HOLD, REDIRECT, BCC, FILTER), the message with
 * IGNORE/STRIP/REPLACE/PREPEND applied, and one short line per decision (X-Postern-Decision).
 * Logs Postfix's lines: "ID: reject: header Subject: … from host[addr]; from=<…> to=<…>
 * proto=ESMTP helo=<…>: 5.7.1 message content rejected".
 *
 * With decoding on (mime-walk.ts), a header is matched decoded first and, when no rule
 * matches the decoded form, raw: rules written for either form work.
 */

import type { LookupTable } from '../../tables/types.js';
import type { MailLog } from '../../log/maillog.js';
import { replyForLog, type Reply } from '../../protocol/reply.js';
import { parseAction, rejectReply } from './actions.js';
import { walkMessage, rebuild, type ContentItem, type HeaderClass, type WalkOptions } from './mime-walk.js';

export interface CheckTables {
  readonly header: readonly LookupTable[];
  readonly mime: readonly LookupTable[];
  readonly nested: readonly LookupTable[];
  readonly body: readonly LookupTable[];
}

/** What cleanup_act_log() puts around each decision. */
export interface InspectLog {
  readonly log: MailLog;
  readonly program: string;
  readonly queueId: string;
  /** "host[addr]" for smtpd, "local" for pickup. */
  readonly origin: string;
  readonly sender: string;
  readonly recipient?: string;
  readonly proto?: string;
  readonly helo?: string;
}

export interface ContentOutcome {
  readonly reject?: Reply;
  readonly discard?: string;
  readonly hold?: string;
  readonly redirect?: string;
  readonly filter?: string;
  readonly bcc: readonly string[];
  readonly data: Buffer;
  /** "header_checks: Subject: … → HOLD", for the explain header and tests. */
  readonly decisions: readonly string[];
}

const TABLE_NAME: Record<HeaderClass | 'body', string> = { header: 'header_checks', mime: 'mime_header_checks', nested: 'nested_header_checks', body: 'body_checks' };

async function find(tables: readonly LookupTable[], key: string): Promise<string | undefined> {
  for (const t of tables) {
    const v = await t.lookup(key);
    if (v !== undefined) return v;
  }
  return undefined;
}

function actLine(l: InspectLog, action: string, cls: 'header' | 'body', content: string, text: string): string {
  let s = `${l.queueId}: ${action}: ${cls} ${content.replace(/[\r\n]+/g, ' ').slice(0, 200)} from ${l.origin};`;
  s += ` from=<${l.sender}>`;
  if (l.recipient !== undefined) s += ` to=<${l.recipient}>`;
  if (l.proto) s += ` proto=${l.proto}`;
  if (l.helo) s += ` helo=<${l.helo}>`;
  if (text) s += `: ${text}`;
  return s;
}

export async function inspectContent(data: Buffer, tables: CheckTables, opts: Omit<WalkOptions, 'wantBody'>, l: InspectLog): Promise<ContentOutcome> {
  const walk = await walkMessage(data, { ...opts, wantBody: tables.body.length > 0 });
  if (walk.mimeError) l.log.warning(l.program, `${l.queueId}: MIME structure not understood (${walk.mimeError}); content checks see the message without MIME processing`);
  let reject: Reply | undefined;
  let discard: string | undefined;
  let hold: string | undefined;
  let redirect: string | undefined;
  let filter: string | undefined;
  const bcc: string[] = [];
  const decisions: string[] = [];

  const lookup = async (item: ContentItem): Promise<{ value: string; text: string } | undefined> => {
    const list = item.kind === 'header' ? tables[item.cls] : tables.body;
    if (list.length === 0) return undefined;
    const v = await find(list, item.text);
    if (v !== undefined) return { value: v, text: item.text };
    if (item.kind === 'header' && item.rawText !== item.text) {
      const raw = await find(list, item.rawText);
      if (raw !== undefined) return { value: raw, text: item.rawText };
    }
    return undefined;
  };

  for (const item of walk.items) {
    const hit = await lookup(item);
    if (!hit) continue;
    const action = parseAction(hit.value);
    const cls = item.kind === 'header' ? 'header' : 'body';
    const table = TABLE_NAME[item.kind === 'header' ? item.cls : 'body'];
    const log = (name: string, text: string): void => l.log.line(l.program, actLine(l, name, cls, hit.text, text));
    const note = (what: string): void => void decisions.push(`${table}: ${hit.text.slice(0, 80)} → ${what}`);
    const piece = item.kind === 'header' ? walk.pieces[item.piece] : item.piece !== undefined ? walk.pieces[item.piece] : undefined;
    const editable = (): boolean => {
      if (piece) return true;
      // XXX: a line of a decoded part has no raw line of its own; re-encoding the part is not done.
      l.log.warning(l.program, `${l.queueId}: ${table}: ${action.kind.toUpperCase()} cannot edit a line of a decoded (base64/quoted-printable or non-UTF-8) part; the line is left as it is: ${hit.text.slice(0, 100)}`);
      return false;
    };
    switch (action.kind) {
      case 'reject': {
        reject = rejectReply(action.text);
        log('reject', replyForLog(reject).replace(/^\d{3} /, ''));
        note(`REJECT ${action.text}`.trim());
        break;
      }
      case 'discard':
        discard = action.text || `${cls} ${hit.text.slice(0, 100)}`;
        log('discard', action.text);
        note('DISCARD');
        break;
      case 'hold':
        hold = action.text || `${cls} ${hit.text.slice(0, 100)}`;
        log('hold', action.text);
        note('HOLD');
        break;
      case 'warn':
        log('warning', action.text);
        note('WARN');
        break;
      case 'info':
        log('info', action.text);
        note('INFO');
        break;
      case 'strip':
      case 'ignore':
        // STRIP is IGNORE with a log line.
        if (action.kind === 'strip') log('strip', action.text);
        if (editable()) piece!.replace = null;
        note(action.kind.toUpperCase());
        break;
      case 'prepend':
        if (editable()) (piece!.before ??= []).push(action.text);
        note('PREPEND');
        break;
      case 'replace':
        if (editable()) piece!.replace = action.text;
        note('REPLACE');
        break;
      case 'redirect':
        redirect = action.address;
        log('redirect', action.address);
        note(`REDIRECT ${action.address}`);
        break;
      case 'bcc':
        bcc.push(action.address);
        log('bcc', action.address);
        note(`BCC ${action.address}`);
        break;
      case 'filter':
        filter = action.nexthop;
        log('filter', action.nexthop);
        note(`FILTER ${action.nexthop}`);
        break;
      case 'dunno':
        break;
      case 'bad':
        l.log.warning(l.program, `${table}: ${action.why}`);
        break;
    }
    if (reject || discard !== undefined) break;
  }
  return { reject, discard, hold, redirect, filter, bcc, data: reject || discard !== undefined ? data : rebuild(data, walk.pieces), decisions };
}
