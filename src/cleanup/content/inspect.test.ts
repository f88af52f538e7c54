/**
 * Header and body checks on their own: every action (REJECT … OK) with Postfix's log line and
 * reply; rules written in Japanese against base64 ISO-2022-JP, quoted-printable Shift_JIS,
 * 8-bit EUC-JP, base64 UTF-8, HTML-only and RFC 2047 subjects (fixtures built by Python's
 * codecs); the same rules in raw mode (postern_mime_decode_checks = no) missing exactly the
 * encoded ones; header classes (primary, MIME, nested); size limit; no-MIME mode.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableRegistry } from '../../tables/open.js';
import type { MailLog } from '../../log/maillog.js';
import { formatReply } from '../../protocol/reply.js';
import { inspectContent, type CheckTables, type InspectLog } from './inspect.js';
import { walkMessage } from './mime-walk.js';
import { japaneseFixtures, SPAM_PHRASE, type FixtureName } from '../../../test/support/japanese-mail.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-inspect-'));
const registry = new TableRegistry({ baseDir: dir });
let n = 0;

function table(text: string) {
  const file = join(dir, `t${n++}`);
  writeFileSync(file, text);
  return registry.open(`regexp:${file}`);
}

function tables(over: { header?: string; mime?: string; nested?: string; body?: string }): CheckTables {
  const h = over.header !== undefined ? [table(over.header)] : [];
  return {
    header: h,
    mime: over.mime !== undefined ? [table(over.mime)] : h,
    nested: over.nested !== undefined ? [table(over.nested)] : h,
    body: over.body !== undefined ? [table(over.body)] : [],
  };
}

function fakeLog(): MailLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    line: (_p: string, m: string) => void lines.push(m),
    warning: (_p: string, m: string) => void lines.push(`warning: ${m}`),
  } as unknown as MailLog & { lines: string[] };
}

function ctx(log: MailLog): InspectLog {
  return { log, program: 'postfix/cleanup', queueId: 'Q1', origin: 'client.example.org[192.0.2.7]', sender: 'spammer@example.org', recipient: 'bob@mx.test', proto: 'ESMTP', helo: 'helo.example.org' };
}

const DECODE = { mime: true, decode: true, bodyLimit: 51200 };
const RAW = { mime: true, decode: false, bodyLimit: 51200 };

const SPAM_RULES = { header: `/^Subject:.*激安/ REJECT 5.7.1 spam subject\n`, body: `/${SPAM_PHRASE}/ REJECT 5.7.1 spam body\n/^TVqQ/ REJECT 5.7.1 executable attachment\n` };

const msg = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'utf8');

test('decoded: a Japanese rule matches every charset and encoding; raw (Postfix) mode matches only 8-bit UTF-8', async () => {
  const fx = await japaneseFixtures();
  const expectDecoded: Record<FixtureName, string | undefined> = {
    'iso2022jp-base64': 'spam body', 'sjis-qp': 'spam body', 'eucjp-8bit': 'spam body', 'utf8-base64': 'spam body', 'utf8-8bit': 'spam body',
    'html-only-iso2022jp': 'spam body', 'subject-iso2022jp': 'spam subject', 'multipart-attachment': 'executable attachment',
    'nested-message': 'spam subject', 'ham-iso2022jp': undefined,
  };
  const expectRaw: Record<FixtureName, string | undefined> = {
    'iso2022jp-base64': undefined, 'sjis-qp': undefined, 'eucjp-8bit': undefined, 'utf8-base64': undefined, 'utf8-8bit': 'spam body',
    'html-only-iso2022jp': undefined, 'subject-iso2022jp': undefined, 'multipart-attachment': 'executable attachment',
    'nested-message': undefined, 'ham-iso2022jp': undefined,
  };
  const t = tables(SPAM_RULES);
  for (const [name, data] of Object.entries(fx) as [FixtureName, Buffer][]) {
    const d = await inspectContent(data, t, DECODE, ctx(fakeLog()));
    assert.equal(d.reject?.lines[0], expectDecoded[name], `decoded ${name}`);
    const r = await inspectContent(data, t, RAW, ctx(fakeLog()));
    assert.equal(r.reject?.lines[0], expectRaw[name], `raw ${name}`);
  }
});

test('REJECT: 550 5.7.1 reply and Postfix\'s cleanup log line; the default text is "message content rejected"', async () => {
  const log = fakeLog();
  const o = await inspectContent(msg('Subject: cheap pills\nFrom: a@b\n\nhi\n'), tables({ header: '/^Subject:.*pills/ REJECT\n' }), DECODE, ctx(log));
  assert.equal(formatReply(o.reject!), '550 5.7.1 message content rejected\r\n');
  assert.deepEqual(log.lines, ['Q1: reject: header Subject: cheap pills from client.example.org[192.0.2.7]; from=<spammer@example.org> to=<bob@mx.test> proto=ESMTP helo=<helo.example.org>: 5.7.1 message content rejected']);
  const o2 = await inspectContent(msg('Subject: x\n\nbuy now\n'), tables({ body: '/buy now/ REJECT 4.7.0 try later\n' }), DECODE, ctx(fakeLog()));
  assert.equal(formatReply(o2.reject!), '451 4.7.0 try later\r\n');
  const o3 = await inspectContent(msg('Subject: x\n\nbuy now\n'), tables({ body: '/buy now/ REJECT no thanks\n' }), DECODE, ctx(fakeLog()));
  assert.equal(formatReply(o3.reject!), '550 5.7.1 no thanks\r\n');
});

test('REJECT and DISCARD stop the inspection; HOLD, WARN, INFO go on', async () => {
  const log = fakeLog();
  const rules = '/^Subject:/ HOLD held for review\n/^X-A:/ WARN watch this\n/^X-B:/ INFO fyi\n/^X-C:/ DISCARD gone\n/^X-D:/ REJECT never reached\n';
  const o = await inspectContent(msg('Subject: s\nX-A: 1\nX-B: 2\nX-C: 3\nX-D: 4\n\nbody\n'), tables({ header: rules }), DECODE, ctx(log));
  assert.equal(o.reject, undefined);
  assert.equal(o.hold, 'held for review');
  assert.equal(o.discard, 'gone');
  const tail = ' from client.example.org[192.0.2.7]; from=<spammer@example.org> to=<bob@mx.test> proto=ESMTP helo=<helo.example.org>';
  assert.deepEqual(log.lines, [
    `Q1: hold: header Subject: s${tail}: held for review`,
    `Q1: warning: header X-A: 1${tail}: watch this`,
    `Q1: info: header X-B: 2${tail}: fyi`,
    `Q1: discard: header X-C: 3${tail}: gone`,
  ]);
});

test('IGNORE, STRIP, REPLACE, PREPEND edit headers and raw body lines; DUNNO and OK change nothing', async () => {
  const log = fakeLog();
  const o = await inspectContent(msg('Subject: s\nX-Drop: 1\nX-Strip: 1\nX-Old: 1\nX-Keep: 1\nX-Ok: 1\n\nline one\nsecret line\nline three\n'), tables({
    header: '/^X-Drop:/ IGNORE\n/^X-Strip:/ STRIP stripped\n/^X-Old:/ REPLACE X-New: 2\n/^Subject:/ PREPEND X-Before: yes\n/^X-Keep:/ DUNNO\n/^X-Ok:/ OK\n',
    body: '/^secret/ REPLACE [removed]\n/^line three/ PREPEND inserted\n/^line one/ IGNORE\n',
  }), DECODE, ctx(log));
  assert.equal(o.data.toString(), 'X-Before: yes\r\nSubject: s\r\nX-New: 2\r\nX-Keep: 1\r\nX-Ok: 1\r\n\r\n[removed]\r\ninserted\r\nline three\r\n');
  assert.deepEqual(log.lines.map((l) => l.split(' from ')[0]), ['Q1: strip: header X-Strip: 1']);
});

test('REDIRECT (last wins), BCC (each adds), FILTER (last wins) are logged and returned', async () => {
  const log = fakeLog();
  const o = await inspectContent(msg('Subject: s\nX-A: 1\n\nbody\n'), tables({
    header: '/^Subject:/ REDIRECT first@mx.test\n/^X-A:/ REDIRECT second@mx.test\n',
    body: '/^body/ BCC archive@mx.test\n',
  }), DECODE, ctx(log));
  assert.equal(o.redirect, 'second@mx.test');
  assert.deepEqual(o.bcc, ['archive@mx.test']);
  const f = await inspectContent(msg('Subject: s\n\nbody\n'), tables({ header: '/^Subject:/ FILTER smtp-amavis:[127.0.0.1]:10024\n', body: '/^body/ FILTER relay:[10.0.0.1]\n' }), DECODE, ctx(fakeLog()));
  assert.equal(f.filter, 'relay:[10.0.0.1]');
  assert.match(log.lines[0]!, /^Q1: redirect: header Subject: s from .*: first@mx\.test$/);
  assert.match(log.lines[2]!, /^Q1: bcc: body body from .*: archive@mx\.test$/);
});

test('an unknown action or a missing argument is a logged warning, not a decision', async () => {
  const log = fakeLog();
  const o = await inspectContent(msg('Subject: s\n\nbody\n'), tables({ header: '/^Subject:/ FROB\n', body: '/^body/ REDIRECT\n' }), DECODE, ctx(log));
  assert.equal(o.reject, undefined);
  assert.deepEqual(log.lines, ['warning: header_checks: unknown command: FROB', 'warning: body_checks: REDIRECT needs user@domain: "REDIRECT"']);
});

test('header classes: primary → header_checks, Content-*/parts → mime_header_checks, attached message → nested_header_checks', async () => {
  const m = msg('Subject: top\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\nX-Part: p\n\nhi\n--b\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: text/plain\n\nin\n--b--\n');
  const walk = await walkMessage(m, { ...DECODE, wantBody: false });
  const heads = walk.items.flatMap((i) => (i.kind === 'header' ? [`${i.cls} ${i.text}`] : []));
  assert.deepEqual(heads, [
    'header Subject: top', 'mime MIME-Version: 1.0', 'mime Content-Type: multipart/mixed; boundary="b"',
    'mime Content-Type: text/plain', 'mime X-Part: p', 'mime Content-Type: message/rfc822',
    'nested Subject: inner', 'mime Content-Type: text/plain',
  ]);
  const log = fakeLog();
  const o = await inspectContent(m, tables({ header: '/^Subject: top/ WARN primary\n', mime: '/^X-Part:/ WARN mime\n', nested: '/^Subject: inner/ WARN nested\n' }), DECODE, ctx(log));
  assert.equal(o.reject, undefined);
  assert.deepEqual(log.lines.map((l) => l.split(': ').pop()), ['primary', 'mime', 'nested']);
});

test('without MIME processing, part headers are body lines and nothing is decoded', async () => {
  const fx = await japaneseFixtures();
  const o = await inspectContent(fx['nested-message'], tables({ header: '/^Subject:.*激安/ REJECT\n', body: '/^Subject: =\\?ISO-2022-JP/ REJECT 5.7.1 raw nested subject\n' }), { mime: false, decode: true, bodyLimit: 51200 }, ctx(fakeLog()));
  assert.equal(o.reject?.lines[0], 'raw nested subject');
});

test('body_checks_size_limit: lines past the limit of a part are not inspected', async () => {
  const body = `${'filler line\n'.repeat(100)}needle\n`;
  const t = tables({ body: '/^needle/ REJECT found\n' });
  assert.equal((await inspectContent(msg(`Subject: s\n\n${body}`), t, { ...DECODE, bodyLimit: 51200 }, ctx(fakeLog()))).reject?.lines[0], 'found');
  assert.equal((await inspectContent(msg(`Subject: s\n\n${body}`), t, { ...DECODE, bodyLimit: 500 }, ctx(fakeLog()))).reject, undefined);
});

test('an edit aimed at a line of a decoded part is refused with a warning; the message is unchanged', async () => {
  const fx = await japaneseFixtures();
  const log = fakeLog();
  const o = await inspectContent(fx['iso2022jp-base64'], tables({ body: `/${SPAM_PHRASE}/ REPLACE censored\n` }), DECODE, ctx(log));
  assert.ok(o.data.equals(fx['iso2022jp-base64']));
  assert.match(log.lines[0]!, /^warning: Q1: body_checks: REPLACE cannot edit a line of a decoded/);
});

test('a header rule written for the raw encoded form still matches with decoding on', async () => {
  const fx = await japaneseFixtures();
  const o = await inspectContent(fx['subject-iso2022jp'], tables({ header: '/^Subject: =\\?ISO-2022-JP\\?B\\?/ REJECT raw form\n' }), DECODE, ctx(fakeLog()));
  assert.equal(o.reject?.lines[0], 'raw form');
});

test('no edits: the very same buffer comes back', async () => {
  const m = msg('Subject: s\n\nbody\n');
  const o = await inspectContent(m, tables({ header: '/^Subject:/ WARN w\n', body: '/^body/ INFO i\n' }), DECODE, ctx(fakeLog()));
  assert.equal(o.data, m);
  assert.deepEqual(o.decisions, ['header_checks: Subject: s → WARN', 'body_checks: body → INFO']);
});
