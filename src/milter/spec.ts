/**
 * Which milters a listener talks to: smtpd_milters / non_smtpd_milters items
 * ("inet:host:port", "inet:[::1]:port", "unix:/path", "local:/path") with the global
 * milter_* settings, or Postfix 3.0's per-milter form
 * "{ inet:host:port, connect_timeout=10s, default_action=accept, … }" (MILTER_README).
 * Input is the admin's configuration; a malformed item is an error the caller logs, and
 * that milter is treated as down (its default action applies), as Postfix does.
 */

import type { Params } from '../config/types.js';
import { parseTimeMs, splitList } from '../config/params.js';

export type DefaultAction = 'accept' | 'reject' | 'tempfail' | 'quarantine';

export interface MilterSpec {
  /** As written, for log lines: "inet:127.0.0.1:8891". */
  readonly name: string;
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  readonly connectTimeout: number;
  readonly commandTimeout: number;
  readonly contentTimeout: number;
  readonly defaultAction: DefaultAction;
  /** Protocol version offered (milter_protocol: 2, 3, 4 or 6). */
  readonly protocol: number;
}

const ACTIONS: readonly DefaultAction[] = ['accept', 'reject', 'tempfail', 'quarantine'];

export function parseDefaultAction(v: string): DefaultAction | undefined {
  const a = v.trim().toLowerCase();
  return (ACTIONS as readonly string[]).includes(a) ? (a as DefaultAction) : undefined;
}

/** "6", or Postfix's "6|no_header_reply" forms: the leading number. */
export function parseProtocol(v: string): number | undefined {
  const n = Number(/^\s*(\d+)/.exec(v)?.[1]);
  return [2, 3, 4, 6].includes(n) ? n : undefined;
}

/** "inet:host:port", "unix:/path": the socket address, or an error text. */
export function parseEndpoint(s: string): { host: string; port: number } | { path: string } | string {
  const m = /^(inet|unix|local):(.*)$/i.exec(s.trim());
  if (!m) return `unsupported milter endpoint "${s}": use inet:host:port or unix:/path`;
  const rest = m[2]!;
  if (m[1]!.toLowerCase() !== 'inet') return rest ? { path: rest } : `missing path in milter endpoint "${s}"`;
  const hp = /^\[([^\]]+)\]:(\d+)$/.exec(rest) ?? /^([^:]*):(\d+)$/.exec(rest);
  const port = Number(hp?.[2]);
  if (!hp || !(port > 0 && port < 65536)) return `bad milter endpoint "${s}": expected inet:host:port`;
  return { host: hp[1] || 'localhost', port };
}

export interface SpecList {
  readonly specs: MilterSpec[];
  readonly errors: string[];
}

/** Parse a milter list parameter (smtpd_milters or non_smtpd_milters) with its settings. */
export function milterSpecs(params: Params, listParam: 'smtpd_milters' | 'non_smtpd_milters'): SpecList {
  const base = {
    connectTimeout: params.timeMs('milter_connect_timeout'),
    commandTimeout: params.timeMs('milter_command_timeout'),
    contentTimeout: params.timeMs('milter_content_timeout'),
    defaultAction: parseDefaultAction(params.str('milter_default_action')) ?? 'tempfail',
    protocol: parseProtocol(params.str('milter_protocol')) ?? 6,
  };
  const specs: MilterSpec[] = [];
  const errors: string[] = [];
  for (const item of params.list(listParam)) {
    const grouped = /^\{(.*)\}$/s.exec(item.trim());
    const [endpoint = '', ...settings] = grouped ? splitList(grouped[1]!.replace(/\s*=\s*/g, '=')) : [item];
    const spec = { ...base, name: endpoint };
    let bad = false;
    for (const kv of settings) {
      const [k = '', v = ''] = kv.split('=', 2);
      const key = k.toLowerCase();
      if (key === 'connect_timeout' || key === 'command_timeout' || key === 'content_timeout') {
        const ms = parseTimeMs(v, 's');
        if (ms === undefined) errors.push(`milter ${endpoint}: bad ${key} "${v}"`), (bad = true);
        else spec[key === 'connect_timeout' ? 'connectTimeout' : key === 'command_timeout' ? 'commandTimeout' : 'contentTimeout'] = ms;
      } else if (key === 'default_action') {
        const a = parseDefaultAction(v);
        if (!a) errors.push(`milter ${endpoint}: bad default_action "${v}"`), (bad = true);
        else spec.defaultAction = a;
      } else if (key === 'protocol') {
        const p = parseProtocol(v);
        if (!p) errors.push(`milter ${endpoint}: bad protocol "${v}"`), (bad = true);
        else spec.protocol = p;
      } else {
        errors.push(`milter ${endpoint}: unknown setting "${kv}"`);
        bad = true;
      }
    }
    const ep = parseEndpoint(endpoint);
    if (typeof ep === 'string') {
      errors.push(ep);
      bad = true;
    }
    // A milter whose settings are wrong still counts: it is "down", so its default action applies.
    specs.push(bad || typeof ep === 'string' ? { ...spec, host: undefined, port: undefined, path: undefined } : { ...spec, ...ep });
  }
  return { specs, errors };
}
