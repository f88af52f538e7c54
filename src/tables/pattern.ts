/**
 * regexp: (regexp_table(5), POSIX extended) and pcre: (pcre_table(5)) tables, matched with
 * JS RegExp against the whole lookup string. Shared file syntax:
 *   /pattern/flags result      !/pattern/ result      if /pattern/ … endif
 * Results may use $1…$9 / ${1}. Matching is case-insensitive unless the `i` flag toggles it.
 *
 * PCRE constructs that JS RegExp cannot do the same way are REFUSED with file and line:
 * possessive quantifiers (*+ ++ ?+ }+), atomic groups (?>…), recursion (?R) (?1) (?&name),
 * conditionals (?(…), \K, \Q…\E, callouts (?C, \G, \A \Z \z, and inline option changes
 * other than (?i) (?m) (?s) (?x) at the very start. POSIX classes [[:alpha:]] etc. are
 * translated for both types.
 */

import type { LookupTable } from './types.js';
import { TableError } from './types.js';
import { TextSource, type SourceLine } from './text-source.js';

interface Rule {
  re: RegExp;
  negate: boolean;
  result?: string; // undefined for `if`
  kind: 'match' | 'if' | 'endif';
  line: number;
  source: string;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\r\\n\\f\\v',
  punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e', graph: '\\x21-\\x7e',
};

const PCRE_REFUSED: [RegExp, string][] = [
  [/(?<!\\)(?:[*+?}])\+/, 'possessive quantifier'],
  [/\(\?>/, 'atomic group (?>…)'],
  [/\(\?(?:R|[+-]?\d+|&\w+|P>\w+)\)/, 'recursion'],
  [/\(\?\(/, 'conditional group (?(…)'],
  [/\\K/, '\\K (reset match start)'],
  [/\\Q/, '\\Q…\\E quoting'],
  [/\(\?C/, 'callout (?C'],
  [/\\G/, '\\G anchor'],
  [/\\[AZz]/, '\\A/\\Z/\\z anchors'],
];

function translate(pattern: string, pcre: boolean, file: string, line: number): { source: string; extraFlags: string } {
  let src = pattern.replace(/\[:([a-z]+):\]/g, (m, name: string) => POSIX_CLASSES[name] ?? m);
  let extraFlags = '';
  if (pcre) {
    for (const [re, what] of PCRE_REFUSED) {
      if (re.test(src)) throw new TableError(`${file}:${line}: PCRE construct not supported by Postern (${what}) in /${pattern}/`, file, line);
    }
    const lead = /^\(\?([imsx]+)\)/.exec(src);
    if (lead) {
      extraFlags = lead[1]!.replace('x', '');
      src = src.slice(lead[0].length);
    }
    if (/\(\?[a-zA-Z-]+[:)]/.test(src.replace(/\(\?(?:[:=!]|<[=!]|<\w+>|P<\w+>)/g, ''))) {
      throw new TableError(`${file}:${line}: PCRE inline option change inside the pattern is not supported by Postern in /${pattern}/`, file, line);
    }
    src = src.replace(/\(\?P<(\w+)>/g, '(?<$1>');
  }
  return { source: src, extraFlags };
}

function parseRules(pcre: boolean) {
  return (lines: SourceLine[], file: string): Rule[] => {
    const rules: Rule[] = [];
    let depth = 0;
    for (const { text, line } of lines) {
      if (/^endif\b/i.test(text)) {
        if (depth === 0) throw new TableError(`${file}:${line}: endif without if`, file, line);
        depth--;
        rules.push({ re: /$^/, negate: false, kind: 'endif', line, source: text });
        continue;
      }
      let rest = text;
      let isIf = false;
      if (/^if\s/i.test(rest)) {
        isIf = true;
        rest = rest.slice(2).trim();
      }
      let negate = false;
      if (rest.startsWith('!')) {
        negate = true;
        rest = rest.slice(1);
      }
      const delim = rest[0];
      if (!delim || /[\w\s\\]/.test(delim)) throw new TableError(`${file}:${line}: expected /pattern/ at "${text.slice(0, 40)}"`, file, line);
      let end = -1;
      for (let i = 1; i < rest.length; i++) {
        if (rest[i] === '\\') {
          i++;
          continue;
        }
        if (rest[i] === delim) {
          end = i;
          break;
        }
      }
      if (end < 0) throw new TableError(`${file}:${line}: missing closing ${delim} in "${text.slice(0, 40)}"`, file, line);
      const pattern = rest.slice(1, end);
      const after = rest.slice(end + 1);
      const fm = /^([A-Za-z]*)\s*(.*)$/s.exec(after)!;
      let flags = 'i';
      for (const f of fm[1]!) {
        if (f === 'i') flags = flags.includes('i') ? flags.replace('i', '') : flags + 'i';
        else if (f === 'm') flags += 'm';
        else if (f === 's' && pcre) flags += 's';
        else if (!'xAEUX'.includes(f)) throw new TableError(`${file}:${line}: unknown flag "${f}"`, file, line);
      }
      const t = translate(pattern, pcre, file, line);
      for (const f of t.extraFlags) if (!flags.includes(f)) flags += f;
      let re: RegExp;
      try {
        re = new RegExp(t.source, flags + 'u');
      } catch {
        try {
          re = new RegExp(t.source, flags);
        } catch (err) {
          throw new TableError(`${file}:${line}: bad pattern /${pattern}/: ${(err as Error).message}`, file, line);
        }
      }
      if (isIf) {
        depth++;
        rules.push({ re, negate, kind: 'if', line, source: pattern });
      } else {
        const result = fm[2]!.trim();
        if (!result) throw new TableError(`${file}:${line}: /${pattern}/ has no result`, file, line);
        rules.push({ re, negate, result, kind: 'match', line, source: pattern });
      }
    }
    if (depth !== 0) throw new TableError(`${file}: missing endif`, file);
    return rules;
  };
}

function substitute(result: string, m: RegExpExecArray | null): string {
  if (!m) return result;
  return result.replace(/\$(?:\{(\d)\}|(\d))/g, (_x, a: string | undefined, b: string | undefined) => m[Number(a ?? b)] ?? '');
}

export class PatternTable implements LookupTable {
  readonly kind = 'pattern' as const;
  private readonly source: TextSource<Rule[]>;
  constructor(readonly spec: string, file: string, pcre: boolean, now?: () => number) {
    this.source = new TextSource(file, parseRules(pcre), now);
  }

  async lookup(key: string): Promise<string | undefined> {
    const rules = this.source.get();
    let skipDepth = 0;
    for (const r of rules) {
      if (skipDepth > 0) {
        if (r.kind === 'if') skipDepth++;
        else if (r.kind === 'endif') skipDepth--;
        continue;
      }
      if (r.kind === 'endif') continue;
      const m = r.re.exec(key);
      const hit = r.negate ? !m : !!m;
      if (r.kind === 'if') {
        if (!hit) skipDepth = 1;
        continue;
      }
      if (hit) return substitute(r.result!, r.negate ? null : m);
    }
    return undefined;
  }

  /** Patterns that can never match a header line, e.g. seed 003's "/~From:/" (meant "/^From:/"). */
  lint(): { line: number; message: string }[] {
    const out: { line: number; message: string }[] = [];
    for (const r of this.source.get()) {
      if (/^~[A-Za-z-]+:/.test(r.source)) {
        out.push({ line: r.line, message: `/${r.source}/ can never match a header: a header line starts with its name, not "~" (did you mean "^${r.source.slice(1)}"?)` });
      }
    }
    return out;
  }
}
