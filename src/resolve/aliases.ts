/**
 * Alias values as local(8) reads them, whatever table they came from: a comma-separated
 * list where commas inside double quotes do not split. The aliases(5) file format itself
 * is read by tables/aliases.ts.
 */

export { parseAliases, AliasTable, type ParsedAliases } from '../tables/aliases.js';

/** Split an alias value list at commas outside double quotes. */
export function splitAliasValues(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && q && i + 1 < value.length) {
      cur += ch + value[++i];
      continue;
    }
    if (ch === '"') q = !q;
    if (ch === ',' && !q) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
