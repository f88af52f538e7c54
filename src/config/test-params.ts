/**
 * Params for unit tests and embedded defaults: declared defaults overridden by a plain
 * object, with `$name` expansion. Not used to read files (config/load.ts does that).
 */
import { ParamStore, type RawValue } from './params.js';
import { paramDecls } from './params/index.js';

export function paramsFrom(values: Record<string, string>): ParamStore {
  const map = new Map<string, RawValue>();
  for (const [k, v] of Object.entries(values)) map.set(k, { value: v, file: '<test>', line: 0 });
  return new ParamStore(paramDecls, map);
}
