/**
 * The configuration file of an SQL table ("mysql:/etc/postfix/virtual.cf"), in Postfix's
 * format (mysql_table(5), pgsql_table(5), sqlite_table(5)): main.cf syntax, `name = value`
 * with continuation lines, values taken literally (no $name expansion, as in Postfix).
 *
 * Keys: hosts, user, password, dbname (MySQL, PostgreSQL); dbpath (SQLite); query;
 * result_format; domain; expansion_limit; the old form select_field/table/where_field/
 * additional_conditions (and PostgreSQL's select_function), turned into the query Postfix
 * builds from them; retry_interval and idle_interval. Postern adds `timeout` (seconds,
 * default 5) for connecting and for each query.
 *
 * Parsing never connects. Errors (syntax, no query, a bad %-escape, an escape that cannot
 * be a parameter) throw TableError with the file and line; keys Postern does not know or
 * does not implement are returned as warnings for `postern check`.
 */

import { readFileSync } from 'node:fs';
import { parseMainCf } from '../../config/main-cf.js';
import type { Diagnostic } from '../../config/types.js';
import { TableError } from '../types.js';
import { parseTemplate, type Piece } from './template.js';
import { compileQuery, type CompiledQuery, type Dialect } from './sql-text.js';

export interface SqlConfig {
  readonly type: Dialect;
  readonly file: string;
  /** hosts as written, split at commas/white space ("localhost" when not set). */
  readonly hosts: string[];
  readonly user: string;
  readonly password: string;
  readonly dbname: string;
  /** SQLite: the database file. */
  readonly dbpath: string;
  readonly query: CompiledQuery;
  readonly resultFormat: Piece[];
  /** `domain` items as written (names, /files, type:tables, !negations); empty = no restriction. */
  readonly domain: string[];
  readonly expansionLimit: number;
  readonly timeoutMs: number;
  readonly retryMs: number;
  readonly idleMs: number;
  /** Line numbers of the keys, for messages. */
  readonly lines: ReadonlyMap<string, number>;
  readonly warnings: Diagnostic[];
}

const COMMON = ['query', 'result_format', 'domain', 'expansion_limit', 'timeout', 'table', 'select_field', 'where_field', 'additional_conditions'];
const KNOWN: Record<Dialect, string[]> = {
  mysql: [...COMMON, 'hosts', 'user', 'password', 'dbname', 'retry_interval', 'idle_interval', 'charset', 'require_result_set'],
  pgsql: [...COMMON, 'hosts', 'user', 'password', 'dbname', 'retry_interval', 'idle_interval', 'select_function', 'encoding'],
  sqlite: [...COMMON, 'dbpath'],
};
/** Known to Postfix, not implemented here: refused, because ignoring them could weaken security or change results. */
const REFUSED: Record<Dialect, string[]> = {
  mysql: ['option_file', 'option_group', 'tls_cert_file', 'tls_key_file', 'tls_CAfile', 'tls_CApath', 'tls_ciphers', 'tls_verify_cert'],
  pgsql: [],
  sqlite: [],
};

function seconds(raw: string, name: string, file: string, line: number, min: number): number {
  const m = /^(\d+(?:\.\d+)?)(s?)$/.exec(raw.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || n < min) throw new TableError(`${file}, line ${line}: ${name} = ${raw}: expected a number of seconds${min > 0 ? ' above 0' : ''}`, file, line);
  return n * 1000;
}

export function parseQueryFile(type: Dialect, file: string): SqlConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // No line: reported where the table is named (main.cf), not in a file that cannot be read.
    throw new TableError(`cannot read the ${type} table configuration ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const parsed = parseMainCf(text, file);
  const bad = parsed.diagnostics.find((d) => d.severity === 'error');
  if (bad) throw new TableError(`${file}, line ${bad.line}: ${bad.message}`, file, bad.line);
  const warnings: Diagnostic[] = parsed.diagnostics.slice();
  const lines = new Map<string, number>();
  const values = new Map<string, string>();
  for (const [name, v] of parsed.values) {
    lines.set(name, v.line);
    values.set(name, v.value);
    if (REFUSED[type].includes(name)) throw new TableError(`${file}, line ${v.line}: ${name} is not supported by Postern's ${type} tables (refused rather than ignored)`, file, v.line);
    if (!KNOWN[type].includes(name)) warnings.push({ severity: 'warning', file, line: v.line, message: `unknown ${type} table setting "${name}" (ignored)` });
  }
  const get = (name: string): string => values.get(name) ?? '';
  const lineOf = (name: string): number => lines.get(name) ?? 0;

  let query = get('query');
  let queryKey = 'query';
  if (!query && (get('table') || get('select_field') || get('where_field') || get('select_function'))) {
    // The pre-2.2 form, expanded the way Postfix does it.
    if (type === 'pgsql' && get('select_function')) {
      query = `SELECT ${get('select_function')}('%s')`;
      queryKey = 'select_function';
    } else {
      for (const k of ['select_field', 'table', 'where_field']) {
        if (!get(k)) throw new TableError(`${file}: no "query", and the old form needs select_field, table and where_field (${k} is missing)`, file, lineOf('table') || lineOf('select_field') || lineOf('where_field'));
      }
      query = `SELECT ${get('select_field')} FROM ${get('table')} WHERE ${get('where_field')} = '%s' ${get('additional_conditions')}`.trim();
      queryKey = 'where_field';
    }
  }
  if (!query) throw new TableError(`${file}: no "query" setting (mysql_table(5): query = SELECT … WHERE …='%s')`, file, 0);

  let compiled: CompiledQuery;
  try {
    compiled = compileQuery(parseTemplate(query), type);
  } catch (err) {
    throw new TableError(`${file}, line ${lineOf(queryKey)}: ${queryKey}: ${(err as Error).message}`, file, lineOf(queryKey));
  }
  let resultFormat: Piece[];
  try {
    resultFormat = parseTemplate(get('result_format') || '%s');
  } catch (err) {
    throw new TableError(`${file}, line ${lineOf('result_format')}: result_format: ${(err as Error).message}`, file, lineOf('result_format'));
  }
  const limitRaw = get('expansion_limit') || '0';
  if (!/^\d+$/.test(limitRaw)) throw new TableError(`${file}, line ${lineOf('expansion_limit')}: expansion_limit = ${limitRaw}: expected a whole number`, file, lineOf('expansion_limit'));

  if (type === 'sqlite' && !get('dbpath')) throw new TableError(`${file}: no "dbpath" setting (the SQLite database file)`, file, 0);
  if (type !== 'sqlite' && !get('dbname')) throw new TableError(`${file}: no "dbname" setting (the database name)`, file, 0);
  const hosts = get('hosts').split(/[\s,]+/).filter(Boolean);
  return {
    type,
    file,
    hosts: hosts.length ? hosts : ['localhost'],
    user: get('user'),
    password: get('password'),
    dbname: get('dbname'),
    dbpath: get('dbpath'),
    query: compiled,
    resultFormat,
    domain: get('domain').split(/[\s,]+/).filter(Boolean),
    expansionLimit: Number(limitRaw),
    timeoutMs: values.has('timeout') ? seconds(get('timeout'), 'timeout', file, lineOf('timeout'), 0.001) : 5000,
    retryMs: values.has('retry_interval') ? seconds(get('retry_interval'), 'retry_interval', file, lineOf('retry_interval'), 0) : 60_000,
    idleMs: values.has('idle_interval') ? seconds(get('idle_interval'), 'idle_interval', file, lineOf('idle_interval'), 0) : 60_000,
    lines,
    warnings,
  };
}
