/**
 * `postern check` for the DNS defences: every DNS list argument parses, the tempfail
 * actions and blocked-reply codes are valid, every check_policy_service endpoint is usable,
 * reject_maps_rbl is named as obsolete, and a list known to answer several codes without a
 * reply filter gets an info line. Also lists the configured DNS lists for `check --dns`.
 * No network I/O.
 */

import type { Diagnostic, Params } from '../config/types.js';
import { configuredLists } from './compile.js';
import { parseListSpec, parseBlockedCodes, type ListSpec } from '../dns/dnsxl.js';
import { parseEndpoint } from './delegation/client.js';

/** Restrictions whose argument is a DNS list, and what they look up. */
export const DNS_LIST_RESTRICTIONS: Record<string, 'address' | 'domain'> = {
  reject_rbl_client: 'address', reject_rbl: 'address', permit_dnswl_client: 'address',
  reject_rhsbl_client: 'domain', reject_rhsbl_reverse_client: 'domain', reject_rhsbl_helo: 'domain', reject_rhsbl_sender: 'domain',
  reject_rhsbl_recipient: 'domain', permit_rhswl_client: 'domain',
};

/** Lists whose operators answer several codes meaning different things (and different lists). */
const MULTI_CODE: Record<string, string> = {
  'zen.spamhaus.org': '127.0.0.2–3 SBL/CSS, 127.0.0.4–7 XBL, 127.0.0.10–11 PBL (dynamic addresses that may legitimately send through their provider); for example =127.0.0.[2..11]',
  'dbl.spamhaus.org': '127.0.1.2–99 listings, 127.0.1.255 "IP queries not allowed"; for example =127.0.1.[2..99]',
  'dnsbl.sorbs.net': 'one code per SORBS sub-list (spam, open proxies, dynamic ranges, …)',
  'bl.mailspike.net': 'reputation levels from "worst" to "neutral"',
  'list.dnswl.org': 'trust levels 127.0.x.0 (none) to 127.0.x.3 (high)',
  'all.rbl.jp': 'one code per RBL.JP sub-list',
};

export interface ConfiguredList {
  readonly restriction: string;
  readonly list: ListSpec;
  readonly kind: 'address' | 'domain';
  readonly param: string;
}

/** Every DNS list named in the restriction lists (and maps_rbl_domains when reject_maps_rbl is used). */
export function configuredDnsLists(params: Params): ConfiguredList[] {
  const out: ConfiguredList[] = [];
  for (const { param, words } of configuredLists(params).lists) {
    for (let i = 0; i < words.length; i++) {
      const name = words[i]!.toLowerCase();
      const kind = DNS_LIST_RESTRICTIONS[name];
      if (kind && i + 1 < words.length) {
        const list = parseListSpec(words[++i]!);
        if (typeof list !== 'string') out.push({ restriction: name, list, kind, param });
      } else if (name === 'reject_maps_rbl') {
        for (const d of params.list('maps_rbl_domains')) {
          const list = parseListSpec(d);
          if (typeof list !== 'string') out.push({ restriction: name, list, kind: 'address', param: 'maps_rbl_domains' });
        }
      }
    }
  }
  return out;
}

export function validateDnsConfig(params: Params): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = (p: string) => params.origin(p) ?? { file: '<default>', line: 0 };
  for (const { param, words } of configuredLists(params).lists) {
    for (let i = 0; i < words.length; i++) {
      const name = words[i]!.toLowerCase();
      if (name === 'reject_maps_rbl') {
        out.push({ severity: 'info', ...at(param), message: `${param}: reject_maps_rbl is obsolete (Postfix warns it will be removed); use "reject_rbl_client domain" for each of maps_rbl_domains` });
        if (params.list('maps_rbl_domains').length === 0) out.push({ severity: 'warning', ...at(param), message: `${param}: reject_maps_rbl with an empty maps_rbl_domains checks nothing` });
        continue;
      }
      if (name === 'check_policy_service' && i + 1 < words.length) {
        const ep = parseEndpoint(words[++i]!);
        if (typeof ep === 'string') out.push({ severity: 'error', ...at(param), message: `${param}: ${ep}` });
        continue;
      }
      if (!DNS_LIST_RESTRICTIONS[name] || i + 1 >= words.length) continue;
      const arg = words[++i]!;
      const list = parseListSpec(arg);
      if (typeof list === 'string') {
        out.push({ severity: 'error', ...at(param), message: `${param}: ${name}: ${list}` });
        continue;
      }
      const codes = MULTI_CODE[list.domain];
      if (!list.filter && codes && name.startsWith('reject_')) {
        out.push({ severity: 'info', ...at(param), message: `${param}: "${name} ${arg}" has no reply filter, so every answer rejects: ${list.domain} answers several codes (${codes}). Add "=d.d.d.d" with the codes you mean (see the list's documentation)` });
      }
    }
  }
  for (const p of ['postern_rbl_tempfail_action']) {
    if (!['dunno', 'defer', 'defer_if_permit'].includes(params.str(p).toLowerCase())) out.push({ severity: 'error', ...at(p), message: `${p}: "${params.str(p)}" is not dunno, defer or defer_if_permit` });
  }
  for (const p of ['reject_tempfail_action', 'unknown_address_tempfail_action', 'unknown_helo_hostname_tempfail_action']) {
    if (!['defer', 'defer_if_permit'].includes(params.str(p).toLowerCase())) out.push({ severity: 'error', ...at(p), message: `${p}: "${params.str(p)}" is not defer or defer_if_permit` });
  }
  for (const problem of parseBlockedCodes(params.list('postern_rbl_blocked_replies')).problems) {
    out.push({ severity: 'error', ...at('postern_rbl_blocked_replies'), message: `postern_rbl_blocked_replies: ${problem}` });
  }
  return out;
}
