/**
 * `postern check --dns`: a live test of every configured DNS list with the test entries
 * RFC 5782 §5 requires — 127.0.0.2 (address lists) or "test" (domain lists) must be
 * listed, 127.0.0.1 / "invalid" must not — through the resolver main.cf configures. Says
 * in plain words when a list does not answer, refuses our resolver (Spamhaus'
 * 127.255.255.254 for public resolvers), lists nothing (dead or misspelled) or lists
 * everything (a closed list answering for every address). Exit 1 when any list has a problem.
 */

import { loadConfig } from '../config/load.js';
import { dnsFromParams } from '../dns/resolver.js';
import { parseBlockedCodes, queryList, type ListResult } from '../dns/dnsxl.js';
import { configuredDnsLists, type ConfiguredList } from '../policy/validate-dns.js';
import type { Params } from '../config/types.js';

function describe(r: ListResult): string {
  switch (r.kind) {
    case 'listed':
      return `listed (${r.answers.join(', ')})`;
    case 'clean':
      return 'not listed';
    case 'error':
      return `no answer (${r.reason})`;
    case 'blocked':
      return `answered ${r.answer}: ${r.meaning}`;
  }
}

/** One line of advice for one list; `ok` false when the admin must act. */
async function probe(params: Params, c: ConfiguredList): Promise<{ ok: boolean; text: string }> {
  const dns = dnsFromParams(params);
  const blocked = parseBlockedCodes(params.list('postern_rbl_blocked_replies')).codes;
  const [yes, no] = c.kind === 'address' ? ['2.0.0.127', '1.0.0.127'] : ['test', 'invalid'];
  const shown = c.kind === 'address' ? ['127.0.0.2', '127.0.0.1'] : ['"test"', '"invalid"'];
  // The filter is left out on purpose: the test entries answer 127.0.0.2, which a filter may exclude.
  const list = { spec: c.list.domain, domain: c.list.domain };
  const [t, n] = await Promise.all([queryList(dns, `${yes}.${c.list.domain}`, list, blocked, { txt: false }), queryList(dns, `${no}.${c.list.domain}`, list, blocked, { txt: false })]);
  const name = `${c.restriction} ${c.list.spec}`;
  if (t.kind === 'blocked' || n.kind === 'blocked') {
    const b = (t.kind === 'blocked' ? t : n) as Extract<ListResult, { kind: 'blocked' }>;
    return { ok: false, text: `${name}: REFUSES YOUR RESOLVER: ${c.list.domain} answered ${b.answer} (${b.meaning}). Every lookup counts as "not listed", so this list blocks nothing. Use your own recursive resolver (not a public one such as 8.8.8.8 or your provider's), or the list's registered service.` };
  }
  if (t.kind === 'error') {
    return { ok: false, text: `${name}: NOT ANSWERING (${t.reason}): every lookup counts as "not listed" and costs up to dns_timeout × dns_tries per message. If the list has closed, remove it.` };
  }
  if (n.kind === 'listed') {
    return { ok: false, text: `${name}: LISTS EVERYTHING: ${shown[1]} is ${describe(n)}, which a working list never lists. Closed lists do this on purpose; remove it now, or it rejects all mail.` };
  }
  if (t.kind === 'clean') {
    return { ok: false, text: `${name}: does not list its test entry ${shown[0]}: the list is probably dead or its name misspelled; it blocks nothing.` };
  }
  return { ok: true, text: `${name}: answers as expected (${shown[0]} ${describe(t)}, ${shown[1]} ${describe(n)}).` };
}

export async function runCheckDns(dir: string, out: (line: string) => void): Promise<number> {
  const cfg = loadConfig(dir);
  const seen = new Map<string, { params: Params; list: ConfiguredList }>();
  for (const svc of cfg.services) {
    if (svc.type !== 'inet' || svc.command !== 'smtpd') continue;
    for (const l of configuredDnsLists(svc.params)) if (!seen.has(`${l.restriction} ${l.list.domain}`)) seen.set(`${l.restriction} ${l.list.domain}`, { params: svc.params, list: l });
  }
  if (seen.size === 0) {
    out('postern: no DNS lists are configured');
    return 0;
  }
  const results = await Promise.all([...seen.values()].map((s) => probe(s.params, s.list)));
  for (const r of results) out(`postern: ${r.ok ? 'ok' : 'problem'}: ${r.text}`);
  const bad = results.filter((r) => !r.ok).length;
  out(`postern: ${results.length} DNS list${results.length === 1 ? '' : 's'} tested, ${bad} with problems`);
  return bad > 0 ? 1 : 0;
}
