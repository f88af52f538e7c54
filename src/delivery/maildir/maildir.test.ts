/** Maildir writes: layout, byte-exact content (LF endings), unique names under concurrency, failures. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { deliverToMaildir, toLf, uniqueName } from './maildir.js';

const root = mkdtempSync(join(tmpdir(), 'postern-maildir-'));

test('creates cur/ new/ tmp/ (0700) and writes the prepended headers and LF-converted bytes into new/', async () => {
  const dir = join(root, 'a', 'Maildir') + '/';
  const data = Buffer.from('Subject: hi\r\nX-Bin: \xe9\r\n\r\nline 1\r\nlone\rcr\r\n.dot\r\n', 'latin1');
  const path = await deliverToMaildir(dir, data, { prepend: 'Return-Path: <s@x.example>\nDelivered-To: u@y.example\n' });
  assert.equal(dirname(path), join(dir, 'new'));
  assert.deepEqual(readFileSync(path), Buffer.from('Return-Path: <s@x.example>\nDelivered-To: u@y.example\nSubject: hi\nX-Bin: \xe9\n\nline 1\nlone\rcr\n.dot\n', 'latin1'));
  for (const sub of ['cur', 'new', 'tmp']) assert.equal(statSync(join(dir, sub)).mode & 0o777, 0o700, sub);
  assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.match(basename(path), /^\d{10}\.M\d{1,6}P\d+Q\d+(T\d+)?\.[^/:]+$/);
});

test('toLf converts CRLF only and keeps data without CR as is', () => {
  assert.deepEqual(Buffer.from(toLf(Buffer.from('a\r\nb\rc\n\r\r\n'))), Buffer.from('a\nb\rc\n\r\n'));
  const plain = Buffer.from('no cr\n');
  assert.equal(toLf(plain), plain);
});

test('unique names in one thread', () => {
  const names = new Set(Array.from({ length: 1000 }, () => uniqueName()));
  assert.equal(names.size, 1000);
});

test('100 parallel deliveries to one Maildir give 100 distinct files, each intact', async () => {
  const dir = join(root, 'busy');
  const paths = await Promise.all(Array.from({ length: 100 }, (_, i) => deliverToMaildir(dir, Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`), { prepend: `Delivered-To: n${i}@x.example\n` })));
  assert.equal(new Set(paths).size, 100);
  const files = readdirSync(join(dir, 'new')).sort();
  assert.equal(files.length, 100);
  const bodies = new Set(files.map((f) => readFileSync(join(dir, 'new', f), 'utf8')));
  for (let i = 0; i < 100; i++) assert.equal(bodies.has(`Delivered-To: n${i}@x.example\nSubject: ${i}\n\nbody ${i}\n`), true, `message ${i}`);
  assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
});

test('a Maildir path that cannot be created rejects with the errno code', async () => {
  const file = join(root, 'plainfile');
  writeFileSync(file, 'x');
  await assert.rejects(deliverToMaildir(join(file, 'Maildir'), Buffer.from('x\r\n'), { prepend: '' }), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR' || e.code === 'EEXIST');
});
