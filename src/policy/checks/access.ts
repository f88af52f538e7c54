/**
 * check_client_access, check_helo_access, check_sender_access, check_recipient_access and
 * the access(5) actions a table value may name: OK, REJECT, DEFER, DEFER_IF_REJECT,
 * DEFER_IF_PERMIT, DUNNO, "NNN text", WARN, HOLD, DISCARD, PREPEND, FILTER, REDIRECT,
 * INFO, restriction-class names and restriction lists.
 */

import type { PolicyContext, RestrictionDef } from '../context.js';
import { DUNNO, PERMIT, refusal, subject } from '../context.js';
import type { SessionFacts, Stage, Verdict } from '../types.js';
import { lookupAddress, lookupClient, lookupDomain, type Hit } from '../../tables/lookup-order.js';
import { splitList } from '../../config/params.js';

type Kind = 'client' | 'helo' | 'sender' | 'recipient';

/** Turn an access table value into a verdict, Postfix's way. */
export async function accessAction(value: string, facts: SessionFacts, kind: Kind, ctx: PolicyContext, depth: number, listStage: Stage): Promise<Verdict> {
  const v = value.trim();
  const m = /^(\S+)\s*(.*)$/s.exec(v);
  const word = (m?.[1] ?? '').toUpperCase();
  const text = (m?.[2] ?? '').trim();
  const s = subject(facts, kind);
  const num = /^([245])(\d\d)$/.exec(word);
  if (num) {
    const code = Number(word);
    if (num[1] === '2') return PERMIT;
    const em = /^([45]\.\d{1,3}\.\d{1,3})\s+(.*)$/s.exec(text);
    const enh = em ? em[1]! : `${num[1]}.7.1`;
    const r = refusal(code, enh, s.key, s.what, (em ? em[2]! : text) || 'Access denied');
    return { kind: num[1] === '4' ? 'defer' : 'reject', reply: r };
  }
  switch (word) {
    case 'OK':
    case 'PERMIT':
      return PERMIT;
    case 'DUNNO':
      return DUNNO;
    case 'REJECT':
      return { kind: 'reject', reply: refusal(ctx.params.int('access_map_reject_code'), '5.7.1', s.key, s.what, text || 'Access denied') };
    case 'DEFER':
      return { kind: 'defer', reply: refusal(ctx.params.int('access_map_defer_code'), '4.7.1', s.key, s.what, text || 'Access denied') };
    case 'DEFER_IF_REJECT':
      return { kind: 'defer_if_reject', reply: refusal(ctx.params.int('access_map_defer_code'), '4.7.1', s.key, s.what, text || 'Service unavailable') };
    case 'DEFER_IF_PERMIT':
      return { kind: 'defer_if_permit', reply: refusal(ctx.params.int('access_map_defer_code'), '4.7.1', s.key, s.what, text || 'Service unavailable') };
    case 'WARN':
    case 'INFO':
      return { kind: 'warn', text: `<${s.key}>: ${s.what.replace(' rejected', '')} ${text || 'triggers WARN action'}`.trim() };
    case 'HOLD':
      return { kind: 'hold', text: `<${s.key}>: ${s.what.replace(' rejected', '')} ${text || 'triggers HOLD action'}` };
    case 'DISCARD':
      return { kind: 'discard', text: `<${s.key}>: ${s.what.replace(' rejected', '')} ${text || 'triggers DISCARD action'}` };
    case 'PREPEND':
      return text ? { kind: 'prepend', header: text } : DUNNO;
    case 'FILTER':
      return text ? { kind: 'filter', nexthop: text } : DUNNO;
    case 'REDIRECT':
      return text ? { kind: 'redirect', address: text } : DUNNO;
  }
  // Anything else is a restriction class name or a list of restrictions.
  return ctx.evalWords(splitList(v), facts, listStage, depth + 1);
}

function accessCheck(kind: Kind): RestrictionDef {
  return {
    takesArg: true,
    fn: async (facts, stage, ctx, arg, depth) => {
      const table = ctx.tables.open(arg!);
      const opts = { delimiter: ctx.params.str('recipient_delimiter'), parentMatches: ctx.params.list('parent_domain_matches_subdomains').includes('smtpd_access_maps') };
      let hit: Hit | undefined;
      if (kind === 'client') hit = await lookupClient(table, facts.client, opts);
      else if (kind === 'helo') hit = facts.helo ? await lookupDomain(table, facts.helo, opts) : undefined;
      else if (kind === 'sender') hit = facts.sender === undefined ? undefined : await lookupAddress(table, facts.sender === '' ? ctx.params.str('smtpd_null_access_lookup_key') : facts.sender, opts);
      else hit = facts.recipient === undefined ? undefined : await lookupAddress(table, facts.recipient, opts);
      if (!hit) return DUNNO;
      return accessAction(hit.value, facts, kind, ctx, depth, stage);
    },
  };
}

export const accessRestrictions: Record<string, RestrictionDef> = {
  check_client_access: accessCheck('client'),
  check_helo_access: accessCheck('helo'),
  check_sender_access: accessCheck('sender'),
  check_recipient_access: accessCheck('recipient'),
};
