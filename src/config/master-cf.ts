/**
 * master.cf parser (master(5)): columns service, type, private, unpriv, chroot, wakeup,
 * maxproc, command + args; continuation lines begin with white space; `-o name=value` and
 * `-o { name = value }` overrides. Detects continuation lines that lost their indentation
 * when pasted from a web page (seed 004): they start with `-o`, `flags=`, `user=`, `argv=`
 * or otherwise cannot be a service line.
 */

import type { Diagnostic } from './types.js';
import type { RawValue } from './params.js';

export interface MasterEntry {
  name: string;
  type: 'inet' | 'unix' | 'unix-dgram' | 'fifo' | 'pass';
  private: string;
  unpriv: string;
  chroot: string;
  wakeup: string;
  maxproc: string;
  command: string;
  args: string[];
  overrides: Map<string, RawValue>;
  line: number;
}

const TYPES = new Set(['inet', 'unix', 'unix-dgram', 'fifo', 'pass']);

/** Split a master.cf command line into words, keeping `{ … }` groups whole. */
function words(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    if (text[i] === '{') {
      // Braces nest: -o { smtpd_milters = { inet:host:port, default_action=accept } }
      let depth = 0;
      let stop = text.length;
      for (let k = i; k < text.length; k++) {
        if (text[k] === '{') depth++;
        else if (text[k] === '}' && --depth === 0) {
          stop = k + 1;
          break;
        }
      }
      out.push(text.slice(i, stop));
      i = stop;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j]!)) j++;
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

export function parseMasterCf(text: string, file: string): { entries: MasterEntry[]; diagnostics: Diagnostic[] } {
  const entries: MasterEntry[] = [];
  const diagnostics: Diagnostic[] = [];
  const lines = text.split(/\r?\n/);
  // Group physical lines into logical ones, noticing unindented continuations.
  const logical: { text: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (/^\s*#/.test(raw) || raw.trim() === '') continue;
    if (/^\s/.test(raw)) {
      if (logical.length === 0) {
        diagnostics.push({ severity: 'error', file, line: i + 1, message: 'continuation line without a service line before it' });
        continue;
      }
      logical[logical.length - 1]!.text += ' ' + raw.trim();
      continue;
    }
    const first = raw.trim().split(/\s+/);
    const looksLikeService = first.length >= 8 && TYPES.has(first[1] ?? '');
    if (!looksLikeService && logical.length > 0 && (first.length < 8 || /^(-o|-v|-D|flags=|user=|argv=|\{|-[A-Za-z]|\$)/.test(raw))) {
      const prev = logical[logical.length - 1]!;
      diagnostics.push({
        severity: 'error', file, line: i + 1,
        message: `this line looks like a continuation of the service on line ${prev.line} whose leading white space was lost (pasted from a web page?); indent it with spaces or a tab`,
      });
      prev.text += ' ' + raw.trim(); // keep going as Postfix would have meant it
      continue;
    }
    logical.push({ text: raw, line: i + 1 });
  }

  for (const { text: l, line } of logical) {
    const w = words(l);
    if (w.length < 8) {
      diagnostics.push({ severity: 'error', file, line, message: `service line needs 8 columns (service type private unpriv chroot wakeup maxproc command), found ${w.length}` });
      continue;
    }
    const [name, type, priv, unpriv, chroot, wakeup, maxproc, command, ...rest] = w as [string, string, string, string, string, string, string, string, ...string[]];
    if (!TYPES.has(type)) {
      diagnostics.push({ severity: 'error', file, line, message: `unknown service type "${type}" for service "${name}" (expected inet, unix, unix-dgram, fifo or pass)` });
      continue;
    }
    if (maxproc !== '-' && !/^\d+$/.test(maxproc)) {
      diagnostics.push({ severity: 'error', file, line, message: `bad maxproc "${maxproc}" for service "${name}": a number or "-"` });
      continue;
    }
    const overrides = new Map<string, RawValue>();
    const args: string[] = [];
    for (let k = 0; k < rest.length; k++) {
      const a = rest[k]!;
      if (a === '-o') {
        const next = rest[++k];
        const kv = next?.startsWith('{') ? next.slice(1, -1).trim() : next;
        const m = kv ? /^([A-Za-z0-9_]+)\s*=\s*(.*)$/s.exec(kv) : null;
        if (!m) {
          diagnostics.push({ severity: 'error', file, line, message: `-o needs "name=value", got "${next ?? ''}"` });
          continue;
        }
        overrides.set(m[1]!, { value: m[2]!.trim(), file, line });
      } else if (a.startsWith('-o') && a.includes('=')) {
        const m = /^-o([A-Za-z0-9_]+)=(.*)$/.exec(a);
        if (m) overrides.set(m[1]!, { value: m[2]!, file, line });
      } else {
        args.push(a);
      }
    }
    entries.push({ name, type: type as MasterEntry['type'], private: priv, unpriv, chroot, wakeup, maxproc, command, args, overrides, line });
  }
  return { entries, diagnostics };
}
