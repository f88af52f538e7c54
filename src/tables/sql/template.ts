/**
 * Postfix's %-templates for SQL tables (mysql_table(5), pgsql_table(5), sqlite_table(5):
 * `query` and `result_format`). A template is parsed once into pieces (text and escapes);
 * this module only decides what each escape stands for. It never builds SQL: the query
 * pieces go to sql-text.ts, which turns escapes into bound parameters.
 *
 * Escapes: %% (a "%"), %s (the whole string), %u (local part of user@domain, else the
 * whole string), %d (domain part), %1..%9 (domain labels counted from the right: for
 * user@mail.example.com %1 = com, %2 = example, %3 = mail), and %S %U %D, which in a query
 * mean the same as %s %u %d and in result_format refer to the input key.
 *
 * Postfix's "no query" rules, kept exactly: in a query, %u with an empty local part ("@d"),
 * %d without a domain, and %1..%9 without a domain or with too few labels mean the query
 * is not run and the lookup is a miss. result_format's %S %U %D %1..%9 apply the same
 * rules to the key (decided before the query). Its lower-case %u/%d apply to each result
 * value: a value with an empty local part (for %u) or without a domain (for %d) is skipped.
 * Input is the admin's template (trusted, validated at open) and the key (untrusted data).
 */

export type Escape = 's' | 'u' | 'd' | 'S' | 'U' | 'D' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
export type Piece = { readonly text: string } | { readonly escape: Escape };

const ESCAPES = new Set('sudSUD123456789');

/** Parse a template; throws Error naming the bad escape ("%x", or a trailing "%"). */
export function parseTemplate(template: string): Piece[] {
  const out: Piece[] = [];
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch !== '%') {
      text += ch;
      continue;
    }
    const next = template[i + 1];
    i++;
    if (next === '%') {
      text += '%';
      continue;
    }
    if (next === undefined) throw new Error('a lone "%" at the end (write %% for a percent sign)');
    if (!ESCAPES.has(next)) throw new Error(`invalid escape "%${next}" (valid: %% %s %u %d %S %U %D %1-%9)`);
    if (text) out.push({ text });
    text = '';
    out.push({ escape: next as Escape });
  }
  if (text) out.push({ text });
  return out;
}

export function escapesOf(pieces: readonly Piece[]): Escape[] {
  return pieces.flatMap((p) => ('escape' in p ? [p.escape] : []));
}

interface Parts {
  readonly whole: string;
  /** Set only when the string has an "@" (the last one splits, as in Postfix). */
  readonly local?: string;
  readonly domain?: string;
}

function split(s: string): Parts {
  const at = s.lastIndexOf('@');
  return at < 0 ? { whole: s } : { whole: s, local: s.slice(0, at), domain: s.slice(at + 1) };
}

/** What an escape stands for in a string, or undefined when the rule says "no query"/"skip". */
function valueOf(e: Escape, p: Parts): string | undefined {
  switch (e.toLowerCase()) {
    case 's':
      return p.whole;
    case 'u':
      if (p.local === undefined) return p.whole;
      return p.local === '' ? undefined : p.local;
    case 'd':
      return p.domain ? p.domain : undefined;
    default: {
      if (!p.domain) return undefined;
      const labels = p.domain.split('.');
      const n = Number(e);
      const label = labels[labels.length - n];
      return n <= labels.length && label ? label : undefined;
    }
  }
}

/**
 * The values for a query's escapes, in order, for `key`; undefined when Postfix would not
 * run the query (the lookup is then a miss).
 */
export function queryValues(escapes: readonly Escape[], key: string): string[] | undefined {
  const p = split(key);
  const out: string[] = [];
  for (const e of escapes) {
    const v = valueOf(e, p);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

const KEY_ESCAPE = /^[SUD1-9]$/;

/** True when result_format's key escapes (%S %U %D %1-%9) cannot be filled from `key`. */
export function resultSuppressed(format: readonly Piece[], key: string): boolean {
  const p = split(key);
  return format.some((x) => 'escape' in x && KEY_ESCAPE.test(x.escape) && valueOf(x.escape, p) === undefined);
}

/**
 * One result value through result_format; undefined when the value is skipped (empty, or
 * %u/%d cannot be filled from it). Nothing is quoted: the result is not SQL.
 */
export function formatResult(format: readonly Piece[], value: string, key: string): string | undefined {
  if (value === '') return undefined;
  const v = split(value);
  const k = split(key);
  let out = '';
  for (const x of format) {
    if ('text' in x) {
      out += x.text;
      continue;
    }
    const s = valueOf(x.escape, KEY_ESCAPE.test(x.escape) ? k : v);
    if (s === undefined) return undefined;
    out += s;
  }
  return out;
}
