/**
 * The environment of a delivery command (Postfix's clean_env() + PATH): only the
 * variables named in export_environment are passed on from Postern's own environment
 * ("NAME=value" entries set a value), PATH is always /usr/bin:/bin, and the caller's
 * extra variables (local(8): HOME, USER, SENDER, …) are added last.
 */

import type { Params } from '../../config/types.js';

export function commandEnvironment(params: Params, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of params.list('export_environment')) {
    const eq = item.indexOf('=');
    if (eq > 0) env[item.slice(0, eq)] = item.slice(eq + 1);
    else if (process.env[item] !== undefined) env[item] = process.env[item]!;
  }
  env.PATH = '/usr/bin:/bin';
  return { ...env, ...extra };
}
