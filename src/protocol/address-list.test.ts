/** Unit tests of RFC 5322 address-list reading (sendmail -t). */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddressList } from './address-list.js';

test('display names, quoted commas, comments, groups and source routes give bare addresses', () => {
  assert.deepEqual(parseAddressList('Alice <alice@example.test>, "Bob, B." <bob@example.test>').addresses, ['alice@example.test', 'bob@example.test']);
  assert.deepEqual(parseAddressList('carol@example.test (Carol (the boss)), dave').addresses, ['carol@example.test', 'dave']);
  assert.deepEqual(parseAddressList('team: e@example.test, F <f@example.test>;, g@example.test').addresses, ['e@example.test', 'f@example.test', 'g@example.test']);
  assert.deepEqual(parseAddressList('undisclosed-recipients:;').addresses, []);
  assert.deepEqual(parseAddressList('<@relay.example:h@example.test>').addresses, ['h@example.test']);
  assert.deepEqual(parseAddressList('"odd local"@example.test').addresses, ['"odd local"@example.test']);
  assert.deepEqual(parseAddressList(' , ,').addresses, []);
});

test('broken lists report an error instead of guessing', () => {
  assert.match(parseAddressList('a@example.test, <broken').error ?? '', /unbalanced "<"/);
  assert.match(parseAddressList('"open quote@example.test').error ?? '', /unbalanced/);
  assert.match(parseAddressList('(open comment a@example.test').error ?? '', /unbalanced "\("/);
  assert.match(parseAddressList('two words@example.test').error ?? '', /not an address/);
});
