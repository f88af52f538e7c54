/**
 * Restriction lists as configured: which parameter feeds each list, the restriction
 * classes, and the problems `check` and createPolicyEngine report with file and line —
 * unknown names (error), names Postern does not implement yet (warning; skipped at run
 * time), missing arguments, bare "type:table" words where Postfix has no default access
 * check (DATA and end-of-data lists).
 */

import type { Diagnostic, Params } from '../config/types.js';
import type { ParamStore } from '../config/params.js';
import { splitList } from '../config/params.js';
import type { Stage } from './types.js';
import { registry, notYet, WARN_IF_REJECT } from './registry.js';

export const STAGE_PARAM: Record<Stage, string> = {
  client: 'smtpd_client_restrictions', helo: 'smtpd_helo_restrictions', sender: 'smtpd_sender_restrictions',
  relay: 'smtpd_relay_restrictions', recipient: 'smtpd_recipient_restrictions', data: 'smtpd_data_restrictions',
  end_of_data: 'smtpd_end_of_data_restrictions', etrn: 'smtpd_etrn_restrictions',
};

/** A user-defined parameter's value (restriction classes are not declared parameters). */
export function rawList(params: Params, name: string): string[] | undefined {
  const store = params as ParamStore;
  if (typeof store.rawValue !== 'function' || store.rawValue(name) === undefined) return undefined;
  return splitList(store.expand('$' + name));
}

export interface ListRef {
  readonly param: string;
  readonly words: string[];
  /** False for data/end-of-data lists, where a bare "type:table" has no meaning. */
  readonly bareTablesOk: boolean;
}

export function configuredLists(params: Params): { lists: ListRef[]; classes: Map<string, string[]> } {
  const classes = new Map<string, string[]>();
  for (const c of params.list('smtpd_restriction_classes')) classes.set(c, rawList(params, c) ?? []);
  const lists: ListRef[] = (Object.keys(STAGE_PARAM) as Stage[]).map((s) => ({
    param: STAGE_PARAM[s], words: params.list(STAGE_PARAM[s]), bareTablesOk: s !== 'data' && s !== 'end_of_data',
  }));
  for (const [c, words] of classes) lists.push({ param: c, words, bareTablesOk: true });
  return { lists, classes };
}

/** Every table a list names (check_*_access arguments and bare type:table words), for validation. */
export function tableRefs(params: Params): { param: string; spec: string }[] {
  const out: { param: string; spec: string }[] = [];
  for (const l of configuredLists(params).lists) {
    for (let i = 0; i < l.words.length; i++) {
      const name = l.words[i]!.toLowerCase();
      const def = registry.get(name);
      if (def?.takesArg && /^check_\w+_access$/.test(name) && i + 1 < l.words.length) out.push({ param: l.param, spec: l.words[++i]! });
      else if (def?.takesArg || notYet.get(name)?.takesArg) i++;
      else if (!def && l.words[i]!.includes(':')) out.push({ param: l.param, spec: l.words[i]! });
    }
  }
  return out;
}

export function compileProblems(params: Params): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { lists, classes } = configuredLists(params);
  for (const c of classes.keys()) {
    if (rawList(params, c) === undefined) {
      const at = params.origin('smtpd_restriction_classes') ?? { file: '<default>', line: 0 };
      out.push({ severity: 'error', ...at, message: `smtpd_restriction_classes: restriction class ${c} has no definition (add "${c} = restrictions…")` });
    }
  }
  for (const { param, words, bareTablesOk } of lists) {
    const at = params.origin(param) ?? { file: '<default>', line: 0 };
    const err = (message: string): void => void out.push({ severity: 'error', ...at, message: `${param}: ${message}` });
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      const name = w.toLowerCase();
      const def = registry.get(name);
      const later = notYet.get(name);
      if (def?.takesArg || later?.takesArg) {
        const arg = words[i + 1];
        if (arg === undefined) err(`${w} needs an argument (${name === 'sleep' ? 'a number of seconds' : name === 'check_policy_service' ? 'transport:server' : 'a table or domain'})`);
        else if (name === 'sleep' && !/^\d+$/.test(arg)) err(`sleep needs a number of seconds, not "${arg}"`);
        i++;
      }
      if (def || name === WARN_IF_REJECT || classes.has(w)) continue;
      if (later) {
        out.push({ severity: 'warning', ...at, message: `${param}: restriction ${w} is not supported yet in Postern (planned: ${later.feature}); it is skipped` });
        continue;
      }
      if (w.includes(':')) {
        if (!bareTablesOk) err(`specify one of check_client_access, check_helo_access, check_sender_access, check_recipient_access before "${w}" (a bare table has no default here)`);
        continue;
      }
      err(`unknown restriction "${w}"`);
    }
  }
  return out;
}
