/** aliases(5) text parser: continuations, comments, quoted names, duplicates, bad lines. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceLines } from '../tables/text-source.js';
import { parseAliases, splitAliasValues } from './aliases.js';

const parse = (text: string) => parseAliases(sourceLines(text), '/etc/aliases');

test('names, values, continuation lines and comments', () => {
  const { entries, warnings } = parse([
    '# comment',
    'Postmaster:   root',
    '',
    'team: alice,',
    '\tbob,',
    '   carol@example.com',
    '  # a comment line inside is dropped',
    'x:y',
  ].join('\n'));
  assert.deepEqual([...entries], [['postmaster', 'root'], ['team', 'alice, bob, carol@example.com'], ['x', 'y']]);
  assert.deepEqual(warnings, []);
});

test('quoted names keep spaces and colons; names are case-insensitive', () => {
  const { entries } = parse('"sales dept": bob\n"a:b": c\n"Q\\"x": d\n');
  assert.equal(entries.get('sales dept'), 'bob');
  assert.equal(entries.get('a:b'), 'c');
  assert.equal(entries.get('q"x'), 'd');
});

test('first duplicate wins; lines without name:value are skipped with a warning', () => {
  const { entries, warnings } = parse('a: one\nbroken line\na: two\nempty:\nb: ok\n');
  assert.deepEqual([...entries], [['a', 'one'], ['b', 'ok']]);
  assert.deepEqual(warnings, [
    '/etc/aliases, line 2: need name:value pair',
    '/etc/aliases, line 3: duplicate entry: "a"',
    '/etc/aliases, line 4: no value for "empty"',
  ]);
});

test('value lists split at commas outside quotes', () => {
  assert.deepEqual(splitAliasValues('alice, "|/usr/bin/cmd -a, -b", /srv/mail/x/ ,bob@example.com,'), ['alice', '"|/usr/bin/cmd -a, -b"', '/srv/mail/x/', 'bob@example.com']);
  assert.deepEqual(splitAliasValues('"a\\"b, c", d'), ['"a\\"b, c"', 'd']);
  assert.deepEqual(splitAliasValues('  '), []);
});
