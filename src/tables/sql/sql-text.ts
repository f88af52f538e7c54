/**
 * Turns a parsed query template into SQL with bound parameters, so the lookup key is
 * DATA and never SQL text. Postfix pastes the escaped key into the query; Postern instead
 * replaces every %-escape with a placeholder of the driver's dialect and sends the values
 * separately (server-side prepared statements for MySQL/MariaDB and PostgreSQL, bound
 * parameters for SQLite), so no quoting rule of any server or sql_mode matters.
 *
 * Queries are written for Postfix, where escapes usually sit inside string literals
 * (`WHERE address='%s'`). A small lexer tracks literals, quoted identifiers and comments:
 *  - an escape that is a whole literal ('%s') becomes the placeholder itself;
 *  - an escape inside a longer literal ('%u@%d', '%%@%d') becomes a concatenation of the
 *    literal's pieces and placeholders (CONCAT(…) in MySQL, (… || …) elsewhere);
 *  - an escape outside literals becomes a placeholder (a value, as Postfix's text would be);
 *  - an escape inside a comment is dropped (it still counts for the "no query" rules);
 *  - an escape inside a quoted identifier, a PostgreSQL E'' or dollar-quoted string, or
 *    right after a backslash in a MySQL literal cannot be a parameter: refused at open.
 * The admin's own placeholders (`?` in MySQL/SQLite, `$1` in PostgreSQL, `:name` in
 * SQLite) are refused too, since they would shift the bound values.
 * Input: the admin's template (trusted but validated); output: SQL text + escape per slot.
 */

import type { Escape, Piece } from './template.js';

export type Dialect = 'mysql' | 'pgsql' | 'sqlite';

export interface CompiledQuery {
  readonly sql: string;
  /**
   * PostgreSQL only: the same query with every placeholder cast to text. A bare $n has no
   * type where Postfix's '…' literal would still work (CONCAT('%u', '@', x)); the driver
   * switches to this form when the server answers "could not determine data type".
   */
  readonly textSql?: string;
  /** The escape bound to each placeholder, in placeholder order. */
  readonly slots: Escape[];
  /** Every escape in the template (including dropped ones): they decide "no query". */
  readonly escapes: Escape[];
}

interface EscapeItem {
  readonly escape: Escape;
}

type State =
  | { k: 'code' }
  | { k: 'literal'; quote: string; parts: (string | EscapeItem)[]; cur: string; prefixed: boolean; dangling: boolean }
  | { k: 'ident'; close: string }
  | { k: 'line-comment' }
  | { k: 'block-comment'; depth: number }
  | { k: 'opaque'; close: string; what: string; start: number };

/** Marks a bare PostgreSQL placeholder while compiling (a private-use character). */
const BARE = '\uE000';

function isWord(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9_$]/.test(ch);
}

export function compileQuery(pieces: readonly Piece[], dialect: Dialect): CompiledQuery {
  const items: (string | EscapeItem)[] = [];
  for (const p of pieces) {
    if ('text' in p) items.push(...p.text);
    else items.push({ escape: p.escape });
  }
  const slots: Escape[] = [];
  const escapes: Escape[] = [];
  let sql = '';
  let state: State = { k: 'code' };
  const ch = (i: number): string | undefined => {
    const x = items[i];
    return typeof x === 'string' ? x : undefined;
  };
  const placeholder = (e: Escape, inConcat: boolean): string => {
    slots.push(e);
    if (dialect !== 'pgsql') return '?';
    return inConcat ? `CAST($${slots.length} AS text)` : `${BARE}${slots.length}${BARE}`;
  };
  const quoteText = (quote: string, raw: string): string => quote + raw + quote;
  const closeLiteral = (lit: Extract<State, { k: 'literal' }>): void => {
    const parts = lit.cur ? [...lit.parts, lit.cur] : lit.parts;
    if (!parts.some((p) => typeof p !== 'string')) {
      sql += quoteText(lit.quote, parts.join(''));
      return;
    }
    if (lit.prefixed) throw new Error('an escape inside a prefixed string (N\'…\', _charset\'…\', X\'…\') cannot be a parameter; use a plain \'…\' string');
    if (parts.length === 1) {
      sql += placeholder((parts[0] as EscapeItem).escape, false);
      return;
    }
    const sqlParts = parts.map((p) => (typeof p === 'string' ? quoteText(lit.quote, p) : placeholder(p.escape, true)));
    sql += dialect === 'mysql' ? `CONCAT(${sqlParts.join(', ')})` : `(${sqlParts.join(' || ')})`;
  };

  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (typeof item !== 'string') {
      escapes.push(item.escape);
      switch (state.k) {
        case 'code':
          sql += placeholder(item.escape, false);
          break;
        case 'literal':
          if (state.dangling) {
            throw new Error(`%${item.escape} right after a backslash in a quoted string cannot be a parameter`);
          }
          if (state.cur) state.parts.push(state.cur);
          state.cur = '';
          state.parts.push(item);
          break;
        case 'ident':
          throw new Error(`%${item.escape} inside a quoted identifier cannot be a parameter (only values can be)`);
        case 'opaque':
          throw new Error(`%${item.escape} inside ${state.what} cannot be a parameter; use a plain '…' string`);
        default:
          break; // comments: dropped
      }
      continue;
    }
    const c = item;
    switch (state.k) {
      case 'code': {
        const n = ch(i + 1);
        if (c === "'" || (c === '"' && dialect === 'mysql')) {
          if (dialect === 'pgsql' && /[Ee]/.test(sql.slice(-1)) && !isWord(sql.slice(-2, -1))) {
            sql += c;
            state = { k: 'opaque', close: "'", what: "an E'' string", start: sql.length };
          } else state = { k: 'literal', quote: c, parts: [], cur: '', prefixed: isWord(sql.slice(-1)), dangling: false };
        } else if (c === '"') {
          state = { k: 'ident', close: '"' };
          sql += c;
        } else if (c === '`' && dialect !== 'pgsql') {
          state = { k: 'ident', close: '`' };
          sql += c;
        } else if (c === '[' && dialect === 'sqlite') {
          state = { k: 'ident', close: ']' };
          sql += c;
        } else if (c === '-' && n === '-' && (dialect !== 'mysql' || items[i + 2] === undefined || /\s/.test(ch(i + 2) ?? 'x'))) {
          state = { k: 'line-comment' };
          sql += c;
        } else if (c === '#' && dialect === 'mysql') {
          state = { k: 'line-comment' };
          sql += c;
        } else if (c === '/' && n === '*' && !(dialect === 'mysql' && (ch(i + 2) === '!' || ch(i + 2) === '+'))) {
          state = { k: 'block-comment', depth: 1 };
          sql += '/*';
          i++;
        } else if (c === '$' && dialect === 'pgsql' && !isWord(sql.slice(-1))) {
          const rest = items.slice(i + 1).map((x) => (typeof x === 'string' ? x : '\0')).join('');
          const tag = /^([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest);
          if (/^\d/.test(rest)) throw new Error(`the query contains the placeholder $${/^\d+/.exec(rest)![0]}: write %s (or %u, %d) instead`);
          if (tag) {
            const delim = `$${tag[0]}`;
            sql += delim;
            state = { k: 'opaque', close: delim, what: 'a dollar-quoted string', start: sql.length };
            i += tag[0].length;
          } else sql += c;
        } else if (c === '?' && dialect !== 'pgsql') {
          throw new Error('the query contains "?", which the driver would take for a parameter: write %s (or %u, %d) instead');
        } else if ((c === ':' || c === '@' || c === '$') && dialect === 'sqlite' && /[A-Za-z_]/.test(n ?? '') && !isWord(sql.slice(-1))) {
          throw new Error(`the query contains "${c}${n}…", which SQLite would take for a named parameter: write %s (or %u, %d) instead`);
        } else sql += c;
        break;
      }
      case 'literal': {
        if (dialect === 'mysql' && c === '\\') {
          state.cur += c;
          const n = ch(i + 1);
          if (n !== undefined) {
            state.cur += n;
            i++;
          } else state.dangling = items[i + 1] !== undefined;
        } else if (c === state.quote) {
          if (ch(i + 1) === state.quote) {
            state.cur += c + c;
            i++;
          } else {
            closeLiteral(state);
            state = { k: 'code' };
          }
        } else state.cur += c;
        break;
      }
      case 'ident':
        sql += c;
        if (c === state.close) {
          if (ch(i + 1) === state.close && state.close !== ']') {
            sql += c;
            i++;
          } else state = { k: 'code' };
        }
        break;
      case 'opaque': {
        sql += c;
        if (state.close === "'" && c === '\\') {
          const n = ch(i + 1);
          if (n !== undefined) {
            sql += n;
            i++;
          }
        } else if (state.close === "'" && c === "'") {
          if (ch(i + 1) === "'") {
            sql += "'";
            i++;
          } else state = { k: 'code' };
        } else if (state.close.length > 1 && c === '$' && sql.length - state.start >= state.close.length && sql.endsWith(state.close)) {
          state = { k: 'code' };
        }
        break;
      }
      case 'line-comment':
        sql += c;
        if (c === '\n') state = { k: 'code' };
        break;
      case 'block-comment':
        if (c === '*' && ch(i + 1) === '/') {
          sql += '*/';
          i++;
          if (--state.depth === 0) state = { k: 'code' };
        } else if (c === '/' && ch(i + 1) === '*' && dialect === 'pgsql') {
          sql += '/*';
          i++;
          state.depth++;
        } else sql += c;
        break;
    }
  }
  if (state.k === 'literal') throw new Error(`unterminated ${state.quote}…${state.quote} string`);
  if (state.k === 'ident') throw new Error(`unterminated quoted identifier (missing ${state.close})`);
  if (state.k === 'opaque') throw new Error(`unterminated ${state.what}`);
  if (state.k === 'block-comment') throw new Error('unterminated /* comment');
  if (dialect !== 'pgsql') return { sql, slots, escapes };
  const bare = new RegExp(`${BARE}(\\d+)${BARE}`, 'g');
  return { sql: sql.replace(bare, '$$$1'), textSql: sql.replace(bare, 'CAST($$$1 AS text)'), slots, escapes };
}
