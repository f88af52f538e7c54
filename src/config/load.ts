/**
 * Loads a config directory (main.cf + master.cf) into typed Params and Services, with
 * every problem as a Diagnostic (file, line). Validation of each set value against its
 * declaration happens here, once, so the rest of Postern can trust `Params`.
 */

import { readFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { parseMainCf } from './main-cf.js';
import { parseMasterCf } from './master-cf.js';
import { ParamStore, parseBool, parseTimeMs, type RawValue } from './params.js';
import { paramDecls } from './params/index.js';
import type { Diagnostic, LoadedConfig, Service } from './types.js';
import { ConfigError } from './types.js';
import type { ParamDecl } from './declare.js';

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ severity: 'error', file, line: 0, message: `cannot read: ${(err as Error).message}` }]);
  }
}

/** Check one set value against its declaration; undefined when it is fine. */
export function validateValue(decl: ParamDecl, value: string, expand?: (text: string) => string): string | undefined {
  if (value.includes('$')) {
    // Postfix checks the expanded value; without an expander there is nothing to check yet.
    const expanded = expand?.(value);
    if (expanded === undefined || expanded.includes('$')) return undefined;
    const problem = validateValue(decl, expanded);
    return problem ? `${problem} (expanded from "${value}")` : undefined;
  }
  switch (decl.type) {
    case 'bool':
      return parseBool(value) === undefined ? `${decl.name}: bad boolean "${value}" (use yes or no)` : undefined;
    case 'int': {
      if (!/^-?\d+$/.test(value.trim())) return `${decl.name}: bad number "${value}"`;
      const n = Number(value);
      if (decl.min !== undefined && n < decl.min) return `${decl.name}: ${n} is below the minimum ${decl.min}`;
      if (decl.max !== undefined && n > decl.max) return `${decl.name}: ${n} is above the maximum ${decl.max}`;
      return undefined;
    }
    case 'time':
      return parseTimeMs(value, decl.timeUnit) === undefined ? `${decl.name}: bad time value "${value}" (use a number with s, m, h, d or w)` : undefined;
    default:
      return undefined;
  }
}

/** Names referenced as $name / ${name} anywhere: those are user-defined, not unknown. */
function referencedNames(values: Iterable<RawValue>): Set<string> {
  const out = new Set<string>();
  for (const v of values) for (const m of v.value.matchAll(/\$\{?\(?([A-Za-z0-9_]+)/g)) out.add(m[1]!);
  return out;
}

/** Suffixes Postfix accepts after any master.cf transport name ("dovecot_destination_recipient_limit"). */
const PER_TRANSPORT = /^(.+)_(destination_concurrency_limit|destination_recipient_limit|initial_destination_concurrency|time_limit|destination_rate_delay|destination_concurrency_failed_cohort_limit|extra_recipient_limit|recipient_limit|recipient_refill_limit|recipient_refill_delay|delivery_slot_cost|delivery_slot_discount|delivery_slot_loan|minimum_delivery_slots|destination_concurrency_positive_feedback|destination_concurrency_negative_feedback)$/;
/** Transports that exist without a master.cf line in Postern. */
export const BUILTIN_TRANSPORTS = ['smtp', 'relay', 'lmtp', 'local', 'virtual', 'discard', 'error', 'retry'];

function checkValues(values: Map<string, RawValue>, referenced: Set<string>, diags: Diagnostic[], restrictionClasses: Set<string>, store: ParamStore, transports: ReadonlySet<string>): void {
  for (const [name, raw] of values) {
    const decl = paramDecls.get(name);
    if (!decl) {
      if (referenced.has(name) || restrictionClasses.has(name)) continue;
      const per = PER_TRANSPORT.exec(name);
      if (per && transports.has(per[1]!)) continue;
      diags.push({ severity: 'warning', file: raw.file, line: raw.line, message: `unknown parameter ${name} (not a Postfix parameter Postern knows; ignored)` });
      continue;
    }
    if (decl.noEffect) diags.push({ severity: 'info', file: raw.file, line: raw.line, message: `${name}: accepted, no effect in Postern: ${decl.noEffect}` });
    else if (decl.planned && raw.value !== decl.default && raw.value !== '') {
      diags.push({ severity: 'warning', file: raw.file, line: raw.line, message: `${name}: not supported yet in Postern (planned: ${decl.planned}); ignored for now` });
    }
    const problem = validateValue(decl, raw.value, (t) => store.expand(t));
    if (problem) diags.push({ severity: 'error', file: raw.file, line: raw.line, message: problem });
  }
}

const WELL_KNOWN = new Set(['smtp', 'submission', 'smtps', 'submissions']);

export function loadConfig(dirArg: string): LoadedConfig {
  const dir = resolve(dirArg);
  const mainFile = join(dir, 'main.cf');
  const masterFile = join(dir, 'master.cf');
  const diagnostics: Diagnostic[] = [];
  const main = parseMainCf(readText(mainFile), mainFile);
  diagnostics.push(...main.diagnostics);

  // Computed defaults, as Postfix derives them at start-up.
  const values = main.values;
  const setDefault = (name: string, value: string): void => {
    if (!values.has(name)) values.set(name, { value, file: '<default>', line: 0 });
  };
  values.set('config_directory', { value: dir, file: '<-c>', line: 0 });
  setDefault('postern_share_directory', fileURLToPath(new URL('../../share', import.meta.url)));
  let host = hostname();
  if (!host.includes('.')) host += '.localdomain';
  setDefault('myhostname', host);
  const myhost = values.get('myhostname')!.value;
  setDefault('mydomain', myhost.includes('.') && !myhost.includes('$') ? myhost.slice(myhost.indexOf('.') + 1) : 'localdomain');

  const mainStore = new ParamStore(paramDecls, values);
  const restrictionClasses = new Set(mainStore.list('smtpd_restriction_classes'));

  let entries: ReturnType<typeof parseMasterCf>['entries'] = [];
  if (existsSync(masterFile)) {
    const master = parseMasterCf(readText(masterFile), masterFile);
    entries = master.entries;
    diagnostics.push(...master.diagnostics);
  } else {
    diagnostics.push({ severity: 'info', file: masterFile, line: 0, message: 'no master.cf: using one service "smtp inet n - n - - smtpd"' });
    entries = [{ name: 'smtp', type: 'inet', private: 'n', unpriv: '-', chroot: 'n', wakeup: '-', maxproc: '-', command: 'smtpd', args: [], overrides: new Map(), line: 0 }];
  }

  const allValues = [...values.values(), ...entries.flatMap((e) => [...e.overrides.values()])];
  const referenced = referencedNames(allValues);
  for (const e of entries) for (const c of e.overrides.get('smtpd_restriction_classes')?.value.split(/[\s,]+/) ?? []) restrictionClasses.add(c);
  const transports = new Set([...BUILTIN_TRANSPORTS, ...entries.map((e) => e.name)]);
  checkValues(values, referenced, diagnostics, restrictionClasses, mainStore, transports);

  const services: Service[] = [];
  for (const e of entries) {
    const params = mainStore.withOverrides(e.overrides);
    checkValues(e.overrides, referenced, diagnostics, restrictionClasses, params, transports);
    const maxproc = e.maxproc === '-' ? params.int('default_process_limit') : Number(e.maxproc);
    if (e.type === 'inet' && e.command === 'smtpd' && !WELL_KNOWN.has(e.name) && !/^(\[[^\]]+\]|[^:]+)?:?\d+$/.test(e.name) && !/^\d+$/.test(e.name)) {
      diagnostics.push({ severity: 'error', file: masterFile, line: e.line, message: `service "${e.name}": not a port, host:port or known service name (smtp, submission, smtps)` });
    }
    services.push({
      name: e.name, type: e.type, private: e.private !== 'n', unprivileged: e.unpriv !== 'n', chroot: e.chroot === 'y',
      wakeup: e.wakeup, maxproc, command: e.command, args: e.args, params, file: masterFile, line: e.line,
    });
  }
  return { dir, main: mainStore, services, diagnostics };
}
