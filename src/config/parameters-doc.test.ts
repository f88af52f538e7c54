import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderParametersDoc } from './gen-parameters-doc.js';
import { allParams } from './params/index.js';

test('docs/parameters.md is generated from the declarations and up to date (npm run docs:params)', () => {
  const committed = readFileSync(new URL('../../docs/parameters.md', import.meta.url), 'utf8');
  assert.equal(committed, renderParametersDoc());
});

test('every declared parameter has a doc line and a valid default for its type', () => {
  for (const d of allParams) {
    assert.ok(d.doc.length > 5, `${d.name} has no doc`);
    if (d.type === 'int' && !d.default.includes('$')) assert.match(d.default, /^-?\d+$/, d.name);
    if (d.type === 'bool') assert.match(d.default, /^(yes|no)$/, d.name);
  }
});
