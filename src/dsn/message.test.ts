/**
 * Structure tests of generated notices, checked by an independent parser: Python's
 * `email` package (python3, Debian) parses each notice from its bytes and reports what it
 * sees — multipart/report with report-type delivery-status, the message/delivery-status
 * fields block by block, the original as message/rfc822 or text/rfc822-headers, an 8-bit
 * original byte for byte, and any MIME defects. Also: CRLF only, no line over 998 octets,
 * masked peer text, a boundary that cannot occur in the content, and Postern's own header
 * readers.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../test/support/server.js';
import { buildDsnMessage, type DsnMessageOptions } from './message.js';
import { planNotices } from './plan.js';
import { dsnSettings } from './settings.js';
import { countReceived } from './hops.js';
import type { AttemptResult, OriginalMessage } from './types.js';
import { paramsFrom } from '../config/test-params.js';
import { rfc5322Date } from '../cleanup/received.js';
import { findMessageId } from '../cleanup/cleanup.js';
import { hasDeliveredTo } from '../delivery/maildir/agent.js';

const PARSE = `
import sys, json, base64, email, email.policy, email.utils
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.compat32)
norm = lambda v: ' '.join(str(v).split())
def defects(x):
    out = [type(d).__name__ for d in x.defects]
    if x.is_multipart():
        for p in x.get_payload():
            out += defects(p)
    return out
out = {'ctype': m.get_content_type(), 'report_type': m.get_param('report-type'), 'boundary': m.get_boundary(),
       'headers': {k: norm(v) for k, v in m.items()}, 'defects': defects(m), 'parts': []}
for p in m.get_payload():
    d = {'ctype': p.get_content_type(), 'description': p.get('Content-Description'),
         'cte': p.get('Content-Transfer-Encoding'), 'charset': p.get_content_charset()}
    if p.get_content_type() == 'message/delivery-status':
        d['blocks'] = [[[k, norm(v)] for k, v in b.items()] for b in p.get_payload()]
        d['epochs'] = [{k: email.utils.parsedate_to_datetime(v).timestamp() for k, v in b.items() if k.endswith('-Date') or k == 'Will-Retry-Until'} for b in p.get_payload()]
    elif p.get_content_type() == 'message/rfc822':
        inner = p.get_payload()[0]
        d['inner_headers'] = [[k, norm(v)] for k, v in inner.items()]
        d['inner_body_b64'] = base64.b64encode(inner.get_payload(decode=True)).decode()
    elif not p.is_multipart():
        d['text_b64'] = base64.b64encode(p.get_payload(decode=True) or b'').decode()
    out['parts'].append(d)
print(json.dumps(out))
`;

interface Parsed {
  ctype: string;
  report_type: string | null;
  boundary: string;
  headers: Record<string, string>;
  defects: string[];
  parts: { ctype: string; description: string | null; cte: string | null; charset: string | null; blocks?: [string, string][][]; epochs?: Record<string, number>[]; inner_headers?: [string, string][]; inner_body_b64?: string; text_b64?: string }[];
}

const dir = mkdtempSync(join(tmpdir(), 'postern-dsn-msg-'));
let fileNo = 0;
async function pyParse(data: Buffer): Promise<Parsed> {
  const file = join(dir, `n${++fileNo}.eml`);
  writeFileSync(file, data);
  const r = await run('python3', ['-c', PARSE, file]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Parsed;
}

const NOW = Date.UTC(2025, 5, 2, 12, 0, 0);
const ARRIVAL = NOW - 5 * 3_600_000;
const S = dsnSettings(paramsFrom({ myhostname: 'mx.example.net', delay_warning_time: '4h', maximal_queue_lifetime: '5d' }));
const ORIGINAL = 'Received: from client.example (client.example [192.0.2.7])\r\n\tby mx.example.net (Postern) with ESMTP id A1B2C3D4E5F\r\n\tfor <bob@remote.example>; Mon, 2 Jun 2025 07:00:00 +0000 (UTC)\r\nFrom: Alice <alice@example.org>\r\nTo: bob@remote.example\r\nSubject: quarterly numbers\r\nMessage-ID: <orig-1@example.org>\r\n\r\nHello Bob,\r\nthe numbers.\r\n';

function original(over: Partial<OriginalMessage> = {}): OriginalMessage {
  return { id: 'A1B2C3D4E5F', arrival: ARRIVAL, sender: 'alice@example.org', data: Buffer.from(ORIGINAL), ...over };
}

const BOB: AttemptResult = {
  recipient: 'bob@remote.example', orcpt: 'rfc822;Bob@Remote.example', status: 'bounced', dsn: '5.1.1',
  text: 'host mx.remote.example[192.0.2.25] said: 550 5.1.1 <bob@remote.example>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)',
  diagnostic: 'smtp; 550 5.1.1 <bob@remote.example>: Recipient address rejected: User unknown in virtual mailbox table',
  remoteMta: 'dns; mx.remote.example', at: NOW - 1000,
};
const CAROL: AttemptResult = { recipient: 'carol@example.net', originalRecipient: 'team@example.org', status: 'bounced', dsn: '5.2.0', text: 'maildir delivery failed: mailbox is not writable' };

function build(over: Partial<DsnMessageOptions> = {}): Buffer {
  return buildDsnMessage({ report: 'failure', postmasterCopy: false, to: 'alice@example.org', id: 'F00DF00DF00', original: original(), recipients: [BOB, CAROL], ret: 'FULL', settings: S, now: NOW, ...over });
}

/** RFC 5322 line discipline: CRLF only, no bare CR or LF, no NUL, no line over 998 octets. */
function assertWellFormedLines(data: Buffer): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x0a) assert.equal(data[i - 1], 0x0d, `bare LF at ${i}`);
    if (data[i] === 0x0d) assert.equal(data[i + 1], 0x0a, `bare CR at ${i}`);
    assert.notEqual(data[i], 0, `NUL at ${i}`);
  }
  assert.ok(data.subarray(-2).equals(Buffer.from('\r\n')), 'ends with CRLF');
  const long = data.toString('latin1').split('\r\n').filter((l) => l.length > 998);
  assert.deepEqual(long.map((l) => l.slice(0, 40)), [], 'lines over 998 octets');
}

test('a bounce parses as multipart/report; report-type=delivery-status with the three parts in order, no MIME defects', async () => {
  const data = build();
  assertWellFormedLines(data);
  const p = await pyParse(data);
  assert.equal(p.ctype, 'multipart/report');
  assert.equal(p.report_type, 'delivery-status');
  assert.deepEqual(p.defects, []);
  assert.deepEqual(p.parts.map((x) => [x.ctype, x.description]), [
    ['text/plain', 'Notification'],
    ['message/delivery-status', 'Delivery report'],
    ['message/rfc822', 'Undelivered Message'],
  ]);
  assert.equal(p.parts[0]!.charset, 'us-ascii');
  assert.deepEqual(p.headers, {
    'Date': rfc5322Date(new Date(NOW)),
    'From': 'Mail Delivery System <MAILER-DAEMON@mx.example.net>',
    'Subject': 'Undelivered Mail Returned to Sender',
    'To': 'alice@example.org',
    'Auto-Submitted': 'auto-replied',
    'MIME-Version': '1.0',
    'Content-Type': `multipart/report; report-type=delivery-status; boundary="${p.boundary}"`,
    'Content-Transfer-Encoding': '7bit',
    'Message-Id': '<20250602120000.F00DF00DF00@mx.example.net>',
  });
  assert.match(p.boundary, /^A1B2C3D4E5F\.\d+\/mx\.example\.net$/, "Postfix's boundary: queue ID, time, host");
});

test('the delivery-status part: per-message fields, then one exact block per recipient', async () => {
  const p = await pyParse(build({ original: original({ envid: 'QQ-314159' }) }));
  assert.deepEqual(p.parts[1]!.blocks, [
    [
      ['Reporting-MTA', 'dns; mx.example.net'],
      ['Original-Envelope-Id', 'QQ-314159'],
      ['X-Postfix-Queue-ID', 'A1B2C3D4E5F'],
      ['X-Postfix-Sender', 'rfc822; alice@example.org'],
      ['Arrival-Date', rfc5322Date(new Date(ARRIVAL))],
    ],
    [
      ['Final-Recipient', 'rfc822; bob@remote.example'],
      ['Original-Recipient', 'rfc822;Bob@Remote.example'],
      ['Action', 'failed'],
      ['Status', '5.1.1'],
      ['Remote-MTA', 'dns; mx.remote.example'],
      ['Diagnostic-Code', 'smtp; 550 5.1.1 <bob@remote.example>: Recipient address rejected: User unknown in virtual mailbox table'],
      ['Last-Attempt-Date', rfc5322Date(new Date(NOW - 1000))],
    ],
    [
      ['Final-Recipient', 'rfc822; carol@example.net'],
      ['Original-Recipient', 'rfc822; team@example.org'],
      ['Action', 'failed'],
      ['Status', '5.2.0'],
      ['Diagnostic-Code', 'X-Postfix; maildir delivery failed: mailbox is not writable'],
      ['Last-Attempt-Date', rfc5322Date(new Date(NOW))],
    ],
  ]);
  // Without ENVID there is no Original-Envelope-Id.
  const plain = await pyParse(build());
  assert.ok(!plain.parts[1]!.blocks![0]!.some(([k]) => k === 'Original-Envelope-Id'));
});

test('the human part: Postfix\'s failure text, then "<rcpt>: reason" wrapped at 79 columns, "(expanded from <…>)" for aliases', async () => {
  const p = await pyParse(build());
  const text = Buffer.from(p.parts[0]!.text_b64!, 'base64').toString();
  assert.equal(text, [
    'This is the mail system at host mx.example.net.',
    '',
    "I'm sorry to have to inform you that your message could not",
    "be delivered to one or more recipients. It's attached below.",
    '',
    'For further assistance, please send mail to postmaster.',
    '',
    'If you do so, please include this problem report. You can',
    'delete your own text from the attached returned message.',
    '',
    '                   The mail system',
    '',
    '<bob@remote.example>: host mx.remote.example[192.0.2.25] said: 550 5.1.1',
    '    <bob@remote.example>: Recipient address rejected: User unknown in virtual',
    '    mailbox table (in reply to RCPT TO command)',
    '',
    '<carol@example.net> (expanded from <team@example.org>): maildir delivery',
    '    failed: mailbox is not writable',
    '',
  ].join('\n'));
});

test('RET=FULL (or unset) within bounce_size_limit: the whole original as message/rfc822, with Return-Path first', async () => {
  const p = await pyParse(build());
  const part = p.parts[2]!;
  assert.equal(part.ctype, 'message/rfc822');
  assert.deepEqual(part.inner_headers!.map(([k]) => k), ['Return-Path', 'Received', 'From', 'To', 'Subject', 'Message-ID']);
  assert.deepEqual(part.inner_headers![0], ['Return-Path', '<alice@example.org>']);
  assert.equal(Buffer.from(part.inner_body_b64!, 'base64').toString().replace(/\r?\n/g, '\r\n'), 'Hello Bob,\r\nthe numbers.\r\n');
});

test('RET=HDRS: the headers only, as text/rfc822-headers "Undelivered Message Headers"', async () => {
  const data = build({ ret: 'HDRS' });
  const p = await pyParse(data);
  const part = p.parts[2]!;
  assert.deepEqual([part.ctype, part.description], ['text/rfc822-headers', 'Undelivered Message Headers']);
  const text = Buffer.from(part.text_b64!, 'base64').toString();
  assert.equal(text.replace(/\r?\n/g, '\r\n'), `Return-Path: <alice@example.org>\r\n${ORIGINAL.slice(0, ORIGINAL.indexOf('\r\n\r\n') + 2)}`);
  assert.ok(!data.includes('the numbers.'), 'no body');
});

test('larger than bounce_size_limit: headers only even with RET=FULL; at the limit: whole', async () => {
  const body = 'x'.repeat(76) + '\r\n';
  const big = Buffer.from(`Subject: big\r\n\r\n${body.repeat(700)}`);
  const p = await pyParse(build({ original: original({ data: big }) }));
  assert.deepEqual([p.parts[2]!.ctype, p.parts[2]!.description], ['text/rfc822-headers', 'Undelivered Message Headers']);
  const exact = dsnSettings(paramsFrom({ myhostname: 'mx.example.net', bounce_size_limit: String(big.length) }));
  const q = await pyParse(build({ original: original({ data: big }), settings: exact }));
  assert.equal(q.parts[2]!.ctype, 'message/rfc822');
  assert.equal(Buffer.from(q.parts[2]!.inner_body_b64!, 'base64').length, 78 * 700 - 700, 'every body line back (LF as Python reports it)');
});

test('an 8-bit original comes back intact: 8bit transfer encoding on the part and the message, bytes unchanged', async () => {
  const body = Buffer.from('Grüße aus Köln — 日本語のテキスト\r\nÇa va?\r\n', 'utf8');
  const head = Buffer.from('From: alice@example.org\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n');
  const data = build({ original: original({ data: Buffer.concat([head, body]), bodyType: '8BITMIME' }) });
  assertWellFormedLines(data);
  assert.ok(data.includes(Buffer.concat([head, body])), 'the original bytes appear verbatim');
  const p = await pyParse(data);
  assert.deepEqual(p.defects, []);
  assert.equal(p.headers['Content-Transfer-Encoding'], '8bit');
  assert.deepEqual([p.parts[0]!.charset, p.parts[0]!.cte], ['utf-8', '8bit']);
  assert.deepEqual([p.parts[2]!.ctype, p.parts[2]!.cte], ['message/rfc822', '8bit']);
  assert.deepEqual(Buffer.from(p.parts[2]!.inner_body_b64!, 'base64'), Buffer.from(body.toString('latin1').replace(/\r\n/g, '\n'), 'latin1'));
  // 8-bit bytes without BODY=8BITMIME are found too.
  const q = await pyParse(build({ original: original({ data: Buffer.concat([head, body]) }) }));
  assert.equal(q.parts[2]!.cte, '8bit');
});

test('a delay warning: Action delayed, Will-Retry-Until arrival + maximal_queue_lifetime, the delay text, headers only', async () => {
  const late: AttemptResult = { recipient: 'bob@remote.example', status: 'deferred', dsn: '4.4.1', text: 'connect to mx.remote.example[192.0.2.25]:25: Connection refused', at: NOW };
  const p = await pyParse(build({ report: 'delay', recipients: [late], ret: 'HDRS' }));
  assert.deepEqual(p.defects, []);
  assert.equal(p.headers['Subject'], 'Delayed Mail (still being retried)');
  assert.deepEqual(p.parts[1]!.blocks![1], [
    ['Final-Recipient', 'rfc822; bob@remote.example'],
    ['Action', 'delayed'],
    ['Status', '4.4.1'],
    ['Diagnostic-Code', 'X-Postfix; connect to mx.remote.example[192.0.2.25]:25: Connection refused'],
    ['Last-Attempt-Date', rfc5322Date(new Date(NOW))],
    ['Will-Retry-Until', rfc5322Date(new Date(ARRIVAL + 5 * 86_400_000))],
  ]);
  assert.deepEqual(p.parts[1]!.epochs, [{ 'Arrival-Date': ARRIVAL / 1000 }, { 'Last-Attempt-Date': NOW / 1000, 'Will-Retry-Until': (ARRIVAL + 5 * 86_400_000) / 1000 }], 'dates as Python reads them');
  const text = Buffer.from(p.parts[0]!.text_b64!, 'base64').toString();
  assert.match(text, /# THIS IS A WARNING ONLY\. {2}YOU DO NOT NEED TO RESEND YOUR MESSAGE\. #/);
  assert.match(text, /^Your message could not be delivered for more than 4 hour\(s\)\.\nIt will be retried until it is 5 day\(s\) old\.$/m);
  assert.deepEqual([p.parts[2]!.ctype, p.parts[2]!.description], ['text/rfc822-headers', 'Undelivered Message Headers']);
});

test('a success report: Action delivered / relayed, "Message Headers", Postfix\'s success text', async () => {
  const ok: AttemptResult = { recipient: 'bob@remote.example', notify: ['SUCCESS'], status: 'sent', dsn: '2.0.0', text: 'delivered to maildir' };
  const relayed: AttemptResult = { recipient: 'dan@far.example', notify: ['SUCCESS'], status: 'sent', dsn: '2.0.0', text: '250 2.0.0 Ok: queued as 4XyZ', relayed: true, remoteMta: 'dns; mx.far.example', diagnostic: 'smtp; 250 2.0.0 Ok: queued as 4XyZ' };
  const p = await pyParse(build({ report: 'success', recipients: [ok, relayed], ret: 'HDRS' }));
  assert.equal(p.headers['Subject'], 'Successful Mail Delivery Report');
  assert.deepEqual(p.parts[1]!.blocks!.slice(1).map((b) => b.filter(([k]) => k === 'Final-Recipient' || k === 'Action')), [
    [['Final-Recipient', 'rfc822; bob@remote.example'], ['Action', 'delivered']],
    [['Final-Recipient', 'rfc822; dan@far.example'], ['Action', 'relayed']],
  ]);
  assert.deepEqual([p.parts[2]!.ctype, p.parts[2]!.description], ['text/rfc822-headers', 'Message Headers']);
  assert.match(Buffer.from(p.parts[0]!.text_b64!, 'base64').toString(), /^Your message was successfully delivered to the destination\(s\)$/m);
});

test('a postmaster copy: postmaster subject, auto-generated, no boilerplate, the recipient lines only', async () => {
  const p = await pyParse(build({ postmasterCopy: true, to: 'postmaster@mx.example.net', ret: 'HDRS' }));
  assert.equal(p.headers['Subject'], 'Postmaster Copy: Undelivered Mail');
  assert.equal(p.headers['Auto-Submitted'], 'auto-generated');
  assert.equal(p.headers['To'], 'postmaster@mx.example.net');
  const text = Buffer.from(p.parts[0]!.text_b64!, 'base64').toString();
  assert.match(text, /^\n<bob@remote\.example>: host/);
});

test('peer text cannot forge lines or fields: CR/LF and controls are masked, a 2000-octet word is cut under 998', async () => {
  const evil: AttemptResult = {
    recipient: 'bob@remote.example', status: 'bounced', dsn: '5.0.0',
    text: 'no\r\nAction: delivered\r\n\r\n--fake\x00\x1b[31m ' + 'A'.repeat(2000),
    diagnostic: 'smtp; 550 nope\nStatus: 2.0.0',
  };
  const data = build({ recipients: [evil] });
  assertWellFormedLines(data);
  const p = await pyParse(data);
  assert.deepEqual(p.defects, []);
  assert.equal(p.parts.length, 3);
  const block = p.parts[1]!.blocks![1]!;
  assert.deepEqual(block.filter(([k]) => k === 'Action' || k === 'Status'), [['Action', 'failed'], ['Status', '5.0.0']]);
  assert.equal(block.find(([k]) => k === 'Diagnostic-Code')![1], 'smtp; 550 nope?Status: 2.0.0');
  const text = Buffer.from(p.parts[0]!.text_b64!, 'base64').toString();
  assert.match(text, /<bob@remote\.example>: no\?\?Action: delivered\?\?\?\?--fake\?\?\[31m/);
});

test('an original with bare LF or CR line ends is returned with CRLF lines, content kept', async () => {
  const data = build({ original: original({ data: Buffer.from('Subject: bare\nX-A: 1\r\n\nline one\nline two\rline three\r\n') }) });
  assertWellFormedLines(data);
  const p = await pyParse(data);
  assert.deepEqual(p.parts[2]!.inner_headers, [['Return-Path', '<alice@example.org>'], ['Subject', 'bare'], ['X-A', '1']]);
  assert.equal(Buffer.from(p.parts[2]!.inner_body_b64!, 'base64').toString(), 'line one\nline two\nline three\n');
});

test('the boundary never occurs in the content, even when the original quotes it', async () => {
  const first = await pyParse(build());
  const trap = Buffer.from(`Subject: trap\r\n\r\n--${first.boundary}\r\n--${first.boundary}--\r\nend\r\n`);
  const data = build({ original: original({ data: trap }) });
  const p = await pyParse(data);
  assert.notEqual(p.boundary, first.boundary);
  assert.ok(!trap.includes(Buffer.from(`--${p.boundary}`)));
  assert.equal(p.parts.length, 3);
  assert.equal(Buffer.from(p.parts[2]!.inner_body_b64!, 'base64').toString(), `--${first.boundary}\n--${first.boundary}--\nend\n`);
});

test('an SMTPUTF8 original: message/global-delivery-status and message/global, utf-8 address types', async () => {
  const data = build({
    original: original({ sender: 'álvaro@exämple.org', smtputf8: true, data: Buffer.from('From: álvaro@exämple.org\r\nSubject: héllo\r\n\r\nbody\r\n', 'utf8') }),
    recipients: [{ recipient: 'josé@exämple.net', status: 'bounced', dsn: '5.1.1', text: 'User unknown\r\nAction: delivered' }],
    to: 'álvaro@exämple.org',
  });
  assertWellFormedLines(data);
  const p = await pyParse(data);
  assert.deepEqual(p.parts.map((x) => x.ctype), ['text/plain', 'message/global-delivery-status', 'message/global']);
  const text = data.toString('utf8');
  assert.match(text, /^X-Postfix-Sender: utf-8; álvaro@exämple\.org\r$/m);
  assert.match(text, /^Final-Recipient: utf-8; josé@exämple\.net\r$/m);
  assert.match(text, /^<josé@exämple\.net>: User unknown\?\?Action: delivered\r$/m, 'controls masked in UTF-8 text too');
});

test('every planned notice passes the line checks, Python\'s parser and Postern\'s own header readers', async () => {
  const settings = dsnSettings(paramsFrom({ myhostname: 'mx.example.net', delay_warning_time: '1h', notify_classes: 'bounce, delay, 2bounce, resource, software' }));
  const all = ['SUCCESS', 'FAILURE', 'DELAY'];
  const results: AttemptResult[] = [
    { ...BOB, notify: all, errorClass: 'software' },
    { recipient: 'late@remote.example', notify: all, status: 'deferred', dsn: '4.4.1', text: 'connect to x: Connection timed out', errorClass: 'resource' },
    { recipient: 'ok@remote.example', notify: all, status: 'sent', dsn: '2.0.0', text: 'delivered to maildir' },
  ];
  const plan = planNotices({ msg: original(), results, delayWarning: true, settings, now: NOW });
  assert.equal(plan.notices.length, 7);
  for (const n of plan.notices) {
    assertWellFormedLines(n.data);
    const p = await pyParse(n.data);
    assert.equal(p.ctype, 'multipart/report', n.kind);
    assert.equal(p.report_type, 'delivery-status');
    assert.deepEqual(p.defects, []);
    assert.equal(p.parts.length, 3);
    assert.equal(findMessageId(n.data), `<20250602120000.${n.id}@mx.example.net>`);
    assert.equal(hasDeliveredTo(n.data, n.recipients[0]!), false);
    assert.equal(countReceived(n.data), 0, "the returned original's Received: headers are not the notice's");
  }
});
