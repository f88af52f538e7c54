/**
 * The Params implementation: values from main.cf (and a service's -o overrides) over the
 * declared defaults, with Postfix's `$name`, `${name}`, `${name?x}`, `${name:x}` expansion
 * done lazily at read time, as Postfix does. Input is already split into name → raw value.
 */

import type { Params } from './types.js';
import type { ParamDecl } from './declare.js';

export interface RawValue {
  readonly value: string;
  readonly file: string;
  readonly line: number;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parse a Postfix time value ("300s", "1d", "5") into milliseconds; undefined when malformed. */
export function parseTimeMs(value: string, defaultUnit: string = 's'): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|[smhdw]?)$/i.exec(value.trim());
  if (!m) return undefined;
  const unit = (m[2] || defaultUnit).toLowerCase();
  return Math.round(Number(m[1]) * (UNIT_MS[unit] ?? 1000));
}

export function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'yes' || v === 'true' || v === '1' || v === 'on') return true;
  if (v === 'no' || v === 'false' || v === '0' || v === 'off') return false;
  return undefined;
}

/** Split a Postfix list: commas and/or white space; `{ … }` groups (inline tables) kept whole. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of value) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === ',' || ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r')) {
      if (cur) out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur) out.push(cur);
  return out;
}

export class ParamStore implements Params {
  constructor(
    private readonly decls: ReadonlyMap<string, ParamDecl>,
    private readonly values: ReadonlyMap<string, RawValue>,
    private readonly parent?: ParamStore,
  ) {}

  /** A child store: this store's values overridden by a service's -o settings. */
  withOverrides(overrides: ReadonlyMap<string, RawValue>): ParamStore {
    return new ParamStore(this.decls, overrides, this);
  }

  private decl(name: string): ParamDecl {
    const d = this.decls.get(name);
    if (!d) throw new Error(`internal: parameter "${name}" is read but not declared`);
    return d;
  }

  /** Unexpanded value: own override, else parent's, else default; undefined for unknown names. */
  rawValue(name: string): string | undefined {
    const own = this.values.get(name);
    if (own) return own.value;
    if (this.parent) return this.parent.rawValue(name);
    return this.decls.get(name)?.default;
  }

  /** Expand `$name` references in any string against this store (used for table paths too). */
  expand(text: string, depth = 0): string {
    if (depth > 20 || !text.includes('$')) return text;
    return text.replace(/\$(?:\{([A-Za-z0-9_]+)(?:([?:])((?:[^{}]|\{[^{}]*\})*))?\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))/g,
      (_m, braced: string | undefined, op: string | undefined, alt: string | undefined, paren: string | undefined, bare: string | undefined) => {
        const name = braced ?? paren ?? bare ?? '';
        const raw = this.rawValue(name);
        const value = raw === undefined ? '' : this.expand(raw, depth + 1);
        if (op === '?') return value ? this.expand(alt ?? '', depth + 1) : '';
        if (op === ':') return value ? '' : this.expand(alt ?? '', depth + 1);
        return value;
      });
  }

  str(name: string): string {
    this.decl(name);
    return this.expand(this.rawValue(name) ?? '').trim();
  }

  int(name: string): number {
    const d = this.decl(name);
    const n = Number.parseInt(this.str(name), 10);
    return Number.isFinite(n) ? n : Number.parseInt(d.default, 10);
  }

  bool(name: string): boolean {
    const d = this.decl(name);
    return parseBool(this.str(name)) ?? parseBool(d.default) ?? false;
  }

  timeMs(name: string): number {
    const d = this.decl(name);
    return parseTimeMs(this.str(name), d.timeUnit) ?? parseTimeMs(d.default, d.timeUnit) ?? 0;
  }

  list(name: string): string[] {
    return splitList(this.str(name));
  }

  byTransport(transport: string, suffix: string, fallback: string): string {
    const own = this.rawValue(`${transport}_${suffix}`);
    return own !== undefined && !this.decls.has(`${transport}_${suffix}`) ? this.expand(own).trim() : this.str(fallback);
  }

  isSet(name: string): boolean {
    return this.values.has(name) || (this.parent?.isSet(name) ?? false);
  }

  origin(name: string): { file: string; line: number } | undefined {
    const own = this.values.get(name);
    if (own) return { file: own.file, line: own.line };
    return this.parent?.origin(name);
  }
}
