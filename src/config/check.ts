/**
 * `postern check`: load the configuration, validate restriction lists and tables, and
 * explain dangerous settings in plain words. Prints "postern: FILE:LINE: severity: text"
 * lines and returns the exit code (1 when there is any error).
 */

import { loadConfig } from './load.js';
import type { Diagnostic, LoadedConfig, Params } from './types.js';
import { ConfigError } from './types.js';
import { validatePolicyConfig } from '../policy/validate.js';
import { parseCidr } from '../policy/networks.js';
import { TableRegistry, isAliasFileType, splitSpec } from '../tables/open.js';
import { TableError, type LookupTable } from '../tables/types.js';
import { SqlTable } from '../tables/sql/base.js';
import { PatternTable } from '../tables/pattern.js';
import { existsSync, readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { tlsSettings } from '../listener/tls.js';
import { abuseDiagnostics } from './check-abuse.js';
import { milterDiagnostics } from './check-milter.js';

function where(p: Params, name: string, fallback: { file: string; line: number }): { file: string; line: number } {
  return p.origin(name) ?? fallback;
}

/** Warnings about settings that are legal but unsafe. */
function dangerous(cfg: LoadedConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const push = (d: Diagnostic): void => {
    const key = `${d.file}:${d.line}:${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  };
  for (const svc of cfg.services.filter((s) => s.type === 'inet' && s.command === 'smtpd')) {
    const p = svc.params;
    const at = { file: svc.file, line: svc.line };
    for (const net of p.list('mynetworks')) {
      const c = parseCidr(net);
      if (c && ((c.family === 4 && c.prefix < 8) || (c.family === 6 && c.prefix < 32))) {
        push({ severity: 'warning', ...where(p, 'mynetworks', at), message: `mynetworks contains ${net}: every client in that network may relay mail anywhere (an open relay for that range)` });
      }
    }
    const relay = p.list('smtpd_relay_restrictions');
    const rcpt = p.list('smtpd_recipient_restrictions');
    const guards = ['reject_unauth_destination', 'defer_unauth_destination', 'reject'];
    const guarded = (list: string[]): boolean => {
      for (const r of list) {
        if (guards.includes(r)) return true;
        if (r === 'permit') return false;
      }
      return false;
    };
    if (!guarded(relay) && !guarded(rcpt)) {
      push({ severity: 'warning', ...where(p, p.isSet('smtpd_relay_restrictions') ? 'smtpd_relay_restrictions' : 'smtpd_recipient_restrictions', at),
        message: `service ${svc.name}: neither smtpd_relay_restrictions nor smtpd_recipient_restrictions ends in reject_unauth_destination or defer_unauth_destination: this would be an OPEN RELAY (Postern refuses relaying anyway and says so here)` });
    }
    for (const name of ['smtpd_client_restrictions', 'smtpd_helo_restrictions', 'smtpd_sender_restrictions', 'smtpd_relay_restrictions', 'smtpd_recipient_restrictions', 'smtpd_data_restrictions']) {
      const list = p.list(name);
      const i = list.indexOf('warn_if_reject');
      if (i >= 0 && i + 1 < list.length) {
        push({ severity: 'warning', ...where(p, name, at), message: `${name}: "warn_if_reject ${list[i + 1]}" only LOGS what ${list[i + 1]} would reject; it is not enforced. Remove warn_if_reject once the log shows it is safe` });
      }
    }
  }
  return out;
}

/** Parameters whose values are (or may contain) lookup tables, checked by opening them. */
const TABLE_PARAMS = ['alias_maps', 'local_recipient_maps', 'virtual_alias_maps', 'virtual_mailbox_maps', 'virtual_uid_maps', 'virtual_gid_maps',
  'mydestination', 'relay_domains', 'virtual_mailbox_domains', 'virtual_alias_domains',
  'header_checks', 'mime_header_checks', 'nested_header_checks', 'body_checks'];

/** Header-check parameters: their pattern tables are linted for rules that can never match a header. */
const HEADER_CHECK_PARAMS = new Set(['header_checks', 'mime_header_checks', 'nested_header_checks']);

/** Keys of a texthash: source that end in ":" (an aliases file given the wrong type). */
function aliasSyntaxKeys(spec: string, dir: string): string[] {
  try {
    const file = resolvePath(dir, spec.replace(/^(proxy:)*texthash:/i, ''));
    return readFileSync(file, 'utf8').split('\n').filter((l) => /^[^#\s][^\s]*:(\s|$)/.test(l));
  } catch {
    return [];
  }
}

/** Rules of a header-check pattern table that can never match a header (seed 003's "/~From:/"), with file and line. */
function headerRuleProblems(param: string, spec: string, table: LookupTable, dir: string): Diagnostic[] {
  if (!(table instanceof PatternTable)) return [];
  const file = resolvePath(dir, splitSpec(spec).name);
  return table.lint().map((l) => ({ severity: 'warning' as const, file, line: l.line, message: `${param}: ${l.message}` }));
}

/** Where a table error belongs: the table's own file and line when it has one (SQL query files), else main.cf. */
function tableDiagnostic(name: string, err: unknown, at: { file: string; line: number }, severity: Diagnostic['severity']): Diagnostic {
  const msg = (err as Error).message;
  if (err instanceof TableError && err.file && err.line !== undefined) {
    const own = msg.startsWith(`${err.file}, line ${err.line}: `) ? msg.slice(`${err.file}, line ${err.line}: `.length) : msg.startsWith(`${err.file}: `) ? msg.slice(err.file.length + 2) : msg;
    return { severity, file: err.file, line: err.line, message: `${name} (${at.file}:${at.line}): ${own}` };
  }
  return { severity, ...at, message: `${name}: ${msg}` };
}

function tableProblems(cfg: LoadedConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const tables = new TableRegistry({ baseDir: cfg.dir });
  // A table named by several parameters (virtual_alias_domains defaults to $virtual_alias_maps) is reported once.
  const checked = new Set<string>();
  for (const name of TABLE_PARAMS) {
    const at = cfg.main.origin(name) ?? { file: '<default>', line: 0 };
    for (const item of cfg.main.list(name)) {
      if (!/^[a-z]+:/i.test(item) || item.startsWith('[') || checked.has(item)) continue;
      checked.add(item);
      try {
        const table = name === 'alias_maps' ? tables.openAliases(item) : tables.open(item);
        // SQL tables are parsed (query file, escapes, hosts) but never connected to; their
        // unknown settings are shown at their own file and line.
        const sqlWarnings = table instanceof SqlTable ? table.config.warnings : [];
        for (const w of sqlWarnings) out.push({ ...w, message: `${name} (${at.file}:${at.line}): ${w.message}` });
        // Lines the table's syntax cannot use are skipped at run time: show each with its line.
        for (const w of table.warnings?.() ?? []) out.push({ severity: 'warning', ...at, message: `${name}: ${item}: ${w}` });
        if (HEADER_CHECK_PARAMS.has(name)) out.push(...headerRuleProblems(name, item, table, cfg.dir));
        if (name === 'alias_maps' && /^(proxy:)*texthash:/i.test(item)) {
          const aliasLike = (table.warnings?.() ?? []).length > 0 || aliasSyntaxKeys(item, cfg.dir).length > 0;
          if (aliasLike) out.push({ severity: 'warning', ...at, message: `${name}: ${item} looks like an aliases(5) file ("name: value"), but texthash: reads postmap(1) "key value" lines as Postfix does; use hash:${item.replace(/^(proxy:)*texthash:/i, '')} for an aliases file` });
        }
      } catch (err) {
        const missing = /does not exist/.test((err as Error).message);
        // A missing alias file is common on fresh systems and acts as empty; anything else cannot run.
        const benign = missing && name === 'alias_maps' && isAliasFileType(item);
        out.push(tableDiagnostic(name, err, at, benign && at.file === '<default>' ? 'info' : benign ? 'warning' : 'error'));
      }
    }
  }
  void tables.closeAll();
  return out;
}

export async function runCheck(dir: string, out: (line: string) => void): Promise<number> {
  let cfg: LoadedConfig;
  try {
    cfg = loadConfig(dir);
  } catch (err) {
    const diags = err instanceof ConfigError ? err.diagnostics : [{ severity: 'error' as const, file: dir, line: 0, message: (err as Error).message }];
    for (const d of diags) out(`postern: ${d.file}:${d.line}: ${d.severity}: ${d.message}`);
    return 1;
  }
  const diags: Diagnostic[] = [...cfg.diagnostics];
  const seen = new Set<string>();
  for (const svc of cfg.services) {
    if (svc.type !== 'inet' || svc.command !== 'smtpd') continue;
    for (const d of validatePolicyConfig(svc.params, `service ${svc.name}`)) {
      const key = `${d.file}:${d.line}:${d.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        diags.push(d);
      }
    }
  }
  diags.push(...tableProblems(cfg));
  for (const svc of cfg.services) {
    if (svc.type !== 'inet' || svc.command !== 'smtpd') continue;
    try {
      const selfSigned = svc.params.bool('postern_tls_self_signed') && !existsSync(svc.params.str('smtpd_tls_cert_file'));
      if (!selfSigned) tlsSettings(svc.params); // a missing self-signed pair is created at first start
    } catch (err) {
      const at = svc.params.origin('smtpd_tls_cert_file') ?? svc.params.origin('smtpd_tls_chain_files') ?? { file: svc.file, line: svc.line };
      const d: Diagnostic = { severity: 'error', ...at, message: `service ${svc.name}: ${(err as Error).message}` };
      if (!seen.has(`${d.file}:${d.line}:${(err as Error).message}`)) {
        seen.add(`${d.file}:${d.line}:${(err as Error).message}`);
        diags.push(d);
      }
    }
  }
  diags.push(...dangerous(cfg), ...abuseDiagnostics(cfg), ...milterDiagnostics(cfg));
  const order = { error: 0, warning: 1, info: 2 };
  diags.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1) || order[a.severity] - order[b.severity]);
  for (const d of diags) out(`postern: ${d.file}:${d.line}: ${d.severity}: ${d.message}`);
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.filter((d) => d.severity === 'warning').length;
  out(`postern: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return errors > 0 ? 1 : 0;
}
