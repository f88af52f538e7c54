import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, escapesOf, queryValues, resultSuppressed, formatResult } from './template.js';
import { compileQuery } from './sql-text.js';

const values = (q: string, key: string): string[] | undefined => queryValues(escapesOf(parseTemplate(q)), key);

test('every query escape, for user@mail.example.com', () => {
  assert.deepEqual(values('%s|%u|%d|%1|%2|%3|%S|%U|%D|%%', 'user@mail.example.com'), ['user@mail.example.com', 'user', 'mail.example.com', 'com', 'example', 'mail', 'user@mail.example.com', 'user', 'mail.example.com']);
  assert.deepEqual(parseTemplate('a%%b%s'), [{ text: 'a%b' }, { escape: 's' }]);
  assert.deepEqual(parseTemplate('100%%'), [{ text: '100%' }]);
});

test('%u of a key without "@" is the whole key; the last "@" splits', () => {
  assert.deepEqual(values('%u', 'postmaster'), ['postmaster']);
  assert.deepEqual(values('%u %d', '"a@b"@example.com'), ['"a@b"', 'example.com']);
});

test('Postfix runs no query when an escape cannot be filled', () => {
  assert.equal(values('%u', '@example.com'), undefined, '%u with an empty local part');
  assert.equal(values('%d', 'example.com'), undefined, '%d of a bare domain');
  assert.equal(values('%d', 'user'), undefined, '%d without a domain');
  assert.equal(values('%d', 'user@'), undefined, '%d with an empty domain');
  assert.equal(values('%D', 'user'), undefined, '%D is %d in a query');
  assert.equal(values('%U', '@example.com'), undefined);
  assert.equal(values('%1', 'user'), undefined, '%1 of an unqualified key');
  assert.equal(values('%3', 'user@example.com'), undefined, 'not enough labels');
  assert.deepEqual(values('%2', 'user@example.com'), ['example']);
  assert.deepEqual(values('%s', '@example.com'), ['@example.com'], '%s alone always runs');
  assert.deepEqual(values('%u', 'user@'), ['user']);
});

test('bad escapes are refused with the escape named', () => {
  assert.throws(() => parseTemplate('WHERE a=%x'), /invalid escape "%x"/);
  assert.throws(() => parseTemplate('WHERE a=%'), /lone "%"/);
});

test('result_format: %s %u %d on each value, key escapes, skipped values', () => {
  const f = parseTemplate('%u/Maildir/ for %D (%1)');
  assert.equal(formatResult(f, 'alice@example.com', 'bob@mail.test.org'), 'alice/Maildir/ for mail.test.org (org)');
  assert.equal(formatResult(parseTemplate('smtp:[%s]'), 'relay.example', 'k'), 'smtp:[relay.example]');
  assert.equal(formatResult(parseTemplate('%u'), 'plain', 'k'), 'plain');
  assert.equal(formatResult(parseTemplate('%u'), '@example.com', 'k'), undefined, 'empty local part: skipped');
  assert.equal(formatResult(parseTemplate('%d'), 'plain', 'k'), undefined, 'unqualified value with %d: skipped');
  assert.equal(formatResult(parseTemplate('%s'), '', 'k'), undefined, 'empty value: skipped');
  assert.equal(resultSuppressed(parseTemplate('%s@%D'), 'user'), true, '%D needs a domain in the KEY: no query');
  assert.equal(resultSuppressed(parseTemplate('%s@%D'), 'user@example.com'), false);
  assert.equal(resultSuppressed(parseTemplate('%u@%d'), 'user'), false, 'lower-case escapes refer to the result');
  assert.equal(resultSuppressed(parseTemplate('%3'), 'u@a.b'), true);
});

test('compiled query: escapes become placeholders; dropped comment escapes still decide "no query"', () => {
  const q = compileQuery(parseTemplate("SELECT x FROM t WHERE a='%u' -- by %d\n"), 'sqlite');
  assert.equal(q.sql, "SELECT x FROM t WHERE a=? -- by \n");
  assert.deepEqual(q.slots, ['u']);
  assert.deepEqual(q.escapes, ['u', 'd']);
  assert.equal(queryValues(q.escapes, 'user'), undefined, 'the %d in the comment still suppresses the query');
  assert.deepEqual(queryValues(q.slots, 'user@x'), ['user']);
});
