/**
 * The guard between tests and the Debian packages they use. Every external program a test
 * runs is asked for through `program(name)`: it must be listed in test/debian-packages.txt
 * (the one list scripts/test.sh installs from), and it must be present. Either failure
 * throws an error naming the Debian package, so a test can never silently need more than
 * the list installs.
 */

import { readFileSync, accessSync, constants } from 'node:fs';
import { join, isAbsolute, delimiter } from 'node:path';
import { ROOT } from './root.js';

export const PACKAGE_LIST = join(ROOT, 'test', 'debian-packages.txt');

/** program → Debian package, from test/debian-packages.txt. */
export function packageList(): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of readFileSync(PACKAGE_LIST, 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const m = /^([a-z0-9][a-z0-9.+-]*):\s*(.*)$/.exec(line);
    if (!m) throw new Error(`${PACKAGE_LIST}: bad line "${raw}" (expected "package: program ...")`);
    for (const prog of m[2]!.split(/\s+/).filter(Boolean)) out.set(prog, m[1]!);
  }
  return out;
}

function findOnPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/local/sbin']);
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * The path of an external program a test needs. Throws, naming the package, when the
 * program is not in the list or not installed.
 */
export function program(name: string): string {
  const pkg = packageList().get(name);
  if (!pkg) throw new Error(`test needs "${name}", which test/debian-packages.txt does not list: add its Debian package there`);
  const path = isAbsolute(name) ? name : findOnPath(name);
  if (path) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* fall through */
    }
  }
  throw new Error(`test needs "${name}" from Debian package ${pkg}, which is not installed (run \`npm test\`, which installs test/debian-packages.txt)`);
}
