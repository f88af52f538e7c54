import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Input, unstuff } from './framing.js';

function feedAll(input: Input, text: string, chunk: number): void {
  const b = Buffer.from(text, 'latin1');
  for (let i = 0; i < b.length; i += chunk) input.feed(b.subarray(i, i + chunk));
}

test('command lines: CRLF ends a line; bare LF only when allowed; over-long lines reported once', () => {
  const i = new Input();
  i.feed(Buffer.from('EHLO a\r\nNOOP\nQUIT\r\n'));
  assert.deepEqual(i.readLine(100, true), { kind: 'line', text: 'EHLO a', bareLf: false, utf8: true });
  assert.deepEqual(i.readLine(100, true), { kind: 'line', text: 'NOOP', bareLf: true, utf8: true });
  assert.deepEqual(i.readLine(100, true), { kind: 'line', text: 'QUIT', bareLf: false, utf8: true });
  const j = new Input();
  j.feed(Buffer.from('x'.repeat(150)));
  assert.equal(j.readLine(100, true)?.kind, 'too-long');
  j.feed(Buffer.from('y'.repeat(150)));
  assert.equal(j.readLine(100, true), undefined, 'the rest of the same long line is skipped silently');
  j.feed(Buffer.from('zz\r\nNOOP\r\n'));
  assert.deepEqual(j.readLine(100, true), { kind: 'line', text: 'NOOP', bareLf: false, utf8: true });
});

test('DATA ends only at CRLF.CRLF, whatever the chunking; smuggling variants stay in the body', () => {
  const body = 'Subject: x\r\n\r\na\n.\r\nMAIL FROM:<e>\r\n\r\n.\nb\r.\rc\n.\nd\r\n..dot\r\n';
  for (const chunk of [1, 2, 3, 5, 7, 64, 4096]) {
    const i = new Input();
    i.startData();
    feedAll(i, `${body}.\r\nNOOP\r\n`, chunk);
    let r;
    // Feed is done; read as the session would, repeatedly.
    r = i.readData(1_000_000, 'normalize');
    assert.ok(r?.data, `chunk ${chunk}`);
    assert.equal(r.data.toString('latin1'), 'Subject: x\r\n\r\na\r\n\r\nMAIL FROM:<e>\r\n\r\n\r\nb\r.\rc\r\n\r\nd\r\n.dot\r\n', `chunk ${chunk}`);
    assert.deepEqual(i.readLine(100, true), { kind: 'line', text: 'NOOP', bareLf: false, utf8: true });
  }
});

test('DATA split across feeds is found at any boundary, including the CRLF before the dot', () => {
  const msg = 'Subject: y\r\n\r\nhello\r\n.\r\n';
  for (let cut = 1; cut < msg.length; cut++) {
    const i = new Input();
    i.startData();
    i.feed(Buffer.from(msg.slice(0, cut)));
    const first = i.readData(1000, 'normalize');
    if (first) {
      assert.equal(first.data?.toString(), 'Subject: y\r\n\r\nhello\r\n');
      continue;
    }
    i.feed(Buffer.from(msg.slice(cut)));
    assert.equal(i.readData(1000, 'normalize')?.data?.toString(), 'Subject: y\r\n\r\nhello\r\n', `cut ${cut}`);
  }
});

test('empty message and size limit', () => {
  const i = new Input();
  i.startData();
  i.feed(Buffer.from('.\r\n'));
  assert.equal(i.readData(10, 'normalize')?.data?.length, 0);
  const j = new Input();
  j.startData();
  j.feed(Buffer.from('x'.repeat(50) + '\r\n.\r\n'));
  const r = j.readData(10, 'normalize');
  assert.equal(r?.data, undefined);
  assert.equal(r?.size, 52);
});

test('unstuff: dots removed only at line starts; bare LF kept or normalised', () => {
  assert.equal(unstuff(Buffer.from('..a\r\nb.c\r\n.\r\n'), false).data.toString(), '.a\r\nb.c\r\n\r\n');
  assert.deepEqual(unstuff(Buffer.from('a\nb'), false), { data: Buffer.from('a\nb'), bareLf: true });
  assert.equal(unstuff(Buffer.from('a\n.b'), true).data.toString(), 'a\r\nb');
});

/** unstuff's byte loop written out plainly, to check its no-copy fast path against. */
function unstuffReference(raw: string, normalizeLf: boolean): { data: string; bareLf: boolean } {
  let out = '';
  let lineStart = true;
  let bareLf = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    const atStart = lineStart;
    lineStart = false;
    if (atStart && c === '.') continue;
    if (c !== '\n') {
      out += c;
    } else if (raw[i - 1] === '\r') {
      out += '\n';
      lineStart = true;
    } else {
      bareLf = true;
      out += normalizeLf ? '\r\n' : '\n';
      lineStart = normalizeLf;
    }
  }
  return { data: out, bareLf };
}

test('unstuff: a message with nothing to change is returned as is (no copy); random inputs match the plain byte loop', () => {
  const plain = Buffer.from('Subject: x\r\n\r\nline one. and.\r\nline two\r\n');
  assert.equal(unstuff(plain, true).data, plain);
  let seed = 7;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let k = 0; k < 3000; k++) {
    const s = Array.from({ length: rand(12) }, () => '.\r\na'[rand(4)]).join('');
    for (const norm of [true, false]) {
      const got = unstuff(Buffer.from(s, 'latin1'), norm);
      assert.deepEqual({ data: got.data.toString('latin1'), bareLf: got.bareLf }, unstuffReference(s, norm), JSON.stringify(s));
    }
  }
});
