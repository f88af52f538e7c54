/**
 * The reply for a DNS list rejection (smtpd_check.c rbl_reject_reply): a template from
 * rbl_reply_maps (key: the list as written, then its bare domain) or default_rbl_reply,
 * expanded once with Postfix's $rbl_* attributes — not with main.cf parameters — then
 * checked to start with a 4xx/5xx code, optionally followed by an enhanced code.
 * Input: admin-written templates; client-controlled values (names, TXT text from the list)
 * are only substituted, never re-expanded, and made printable by refusalReply().
 */

import type { Call } from '../context.js';
import { asVerdict, lookupFailure, refusalReply, serverError } from '../context.js';
import type { Verdict } from '../types.js';
import type { ParamStore } from '../../config/params.js';
import type { Params } from '../../config/types.js';
import type { ListSpec } from '../../dns/dnsxl.js';

/** What a DNS list matched: Postfix's $rbl_class and $rbl_what. */
export interface RblSubject {
  readonly cls: string;
  readonly what: string;
}

/** A parameter's value before main.cf expansion (templates use $rbl_* names of their own). */
export function rawParam(params: Params, name: string): string {
  const store = params as ParamStore;
  return typeof store.rawValue === 'function' ? (store.rawValue(name) ?? '') : params.str(name);
}

function splitAddr(a: string | undefined): { addr: string; local: string; domain: string } {
  if (a === undefined) return { addr: '', local: '', domain: '' };
  if (a === '') return { addr: '<>', local: '<>', domain: '' };
  const at = a.lastIndexOf('@');
  return { addr: a, local: at < 0 ? a : a.slice(0, at), domain: at < 0 ? '' : a.slice(at + 1) };
}

/** The attributes of default_rbl_reply (postconf(5)). */
export function rblVariables(c: Call, list: ListSpec, subject: RblSubject, reason: string): Map<string, string> {
  const f = c.facts;
  const s = splitAddr(f.sender);
  const r = splitAddr(f.recipient);
  return new Map([
    ['client', `${f.client.name}[${f.client.addr}]`], ['client_address', f.client.addr], ['client_name', f.client.name],
    ['reverse_client_name', f.client.reverseName], ['helo_name', f.helo ?? ''],
    ['rbl_class', subject.cls], ['rbl_code', String(c.ctx.params.int('maps_rbl_reject_code'))], ['rbl_domain', list.spec],
    ['rbl_reason', reason], ['rbl_txt', reason], ['rbl_what', subject.what],
    ['sender', s.addr], ['sender_name', s.local], ['sender_domain', s.domain],
    ['recipient', r.addr], ['recipient_name', r.local], ['recipient_domain', r.domain],
  ]);
}

/**
 * One level of $name, ${name}, ${name?text}, ${name:text} expansion against `vars`
 * (unknown names are empty, as in Postfix); undefined on a syntax error.
 */
export function expandTemplate(template: string, vars: ReadonlyMap<string, string>): string | undefined {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch !== '$') {
      out += ch;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '{' || next === '(') {
      const close = next === '{' ? '}' : ')';
      let depth = 1;
      let j = i + 2;
      for (; j < template.length && depth > 0; j++) {
        if (template[j] === next) depth++;
        else if (template[j] === close) depth--;
      }
      if (depth !== 0) return undefined;
      const inner = template.slice(i + 2, j - 1);
      const m = /^([A-Za-z0-9_]+)(?:([?:])(.*))?$/s.exec(inner);
      if (!m) return undefined;
      const value = vars.get(m[1]!) ?? '';
      if (m[2] === undefined) out += value;
      else {
        const alt = expandTemplate(m[3]!, vars);
        if (alt === undefined) return undefined;
        if ((m[2] === '?') === (value !== '')) out += alt;
      }
      i = j - 1;
      continue;
    }
    const m = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
    if (!m) return undefined;
    out += vars.get(m[0]) ?? '';
    i += m[0].length;
  }
  return out;
}

/** The refusal for a listed subject, worded by the template (or Postfix's fallback text when the template is bad). */
export async function rblRefusal(c: Call, list: ListSpec, subject: RblSubject, reason: string): Promise<Verdict> {
  const { params, tables } = c.ctx;
  let template: string | undefined;
  for (const spec of params.list('rbl_reply_maps')) {
    try {
      const t = tables.open(spec);
      template = (await t.lookup(list.spec)) ?? (list.spec !== list.domain ? await t.lookup(list.domain) : undefined);
    } catch {
      return serverError();
    }
    if (template !== undefined) break;
  }
  const vars = rblVariables(c, list, subject, reason);
  let text = template !== undefined ? expandTemplate(template, vars) : undefined;
  if (text === undefined) {
    if (template !== undefined) c.ctx.note('warning', `rbl_reject_reply: bad rbl reply template for domain ${list.spec}: ${template}`);
    text = expandTemplate(rawParam(params, 'default_rbl_reply'), vars);
    if (text === undefined) return lookupFailure(subject.what);
  }
  const m = /^([45]\d\d)(?: +([45]\.\d{1,3}\.\d{1,3}))? +(.*)$/s.exec(text);
  if (!m) {
    c.ctx.note('warning', `rbl_reject_reply: bad RBL response template: ${text}`);
    return asVerdict(refusalReply(450, '4.7.1', `Service unavailable; ${subject.cls} [${subject.what}] blocked using ${list.spec}`));
  }
  const code = Number(m[1]);
  // The enhanced code must be in the same class as the basic one (smtpd_check_reject()).
  const dsn = m[2] ? `${m[1]![0]}${m[2].slice(1)}` : `${m[1]![0]}.7.1`;
  return asVerdict(refusalReply(code, dsn, m[3]!));
}
