/**
 * The package list is the only way a test gets an external program: every program named
 * in a test file (run('x', …), program('x'), spawn('x', …), execFile*('x', …)) must be in
 * test/debian-packages.txt, spawn/execFile must go through program(), and the guard itself
 * must name the package when a program is missing or unlisted.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './support/root.js';
import { packageList, program } from './support/packages.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'node_modules' || n === 'fixtures' ? [] : testFiles(p);
    return /\.(ts|mjs)$/.test(n) ? [p] : [];
  });
}

// Programs that belong to Node or to the base system image, not to a Debian package we install.
const BASE = new Set(['id', 'sh', 'bash', 'true', 'kill', 'ip']);

test('every external program a test names is listed in test/debian-packages.txt', () => {
  const listed = packageList();
  const missing: string[] = [];
  const direct: string[] = [];
  for (const f of [...testFiles(join(ROOT, 'test')).filter((p) => !p.endsWith('packages.test.ts')), ...testFiles(join(ROOT, 'src')).filter((p) => p.endsWith('.test.ts'))]) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/\b(?:run|program)\(\s*'([^']+)'/g)) {
      if (!listed.has(m[1]!) && !BASE.has(m[1]!)) missing.push(`${relative(ROOT, f)}: ${m[1]}`);
    }
    for (const m of text.matchAll(/\b(?:spawn|spawnSync|execFile|execFileSync)\(\s*'([^']+)'/g)) {
      if (!BASE.has(m[1]!)) direct.push(`${relative(ROOT, f)}: ${m[1]} (use program('${m[1]}'))`);
    }
  }
  assert.deepEqual(missing, [], 'programs not in test/debian-packages.txt');
  assert.deepEqual(direct, [], 'programs spawned without the package guard');
});

test('program() names the package to add, or the package to install', () => {
  assert.throws(() => program('no-such-program-xyz'), /does not list: add its Debian package/);
  assert.match(program('openssl'), /\/openssl$/);
  assert.equal(packageList().get('doveadm'), 'dovecot-core');
});
