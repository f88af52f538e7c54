/**
 * Unit tests of planNotices: every NOTIFY word, RET, notify_classes class, the null and
 * double-bounce senders, expiry, success reports (delivered / relayed / passed on), error
 * classes, delay-warning timing, the queue record of a notice and the postfix/bounce log
 * lines (written by a real MailLog to a file).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planNotices, delayWarningDue, wantsNotice, isDoubleBounceSender, type PlanInput } from './plan.js';
import { dsnSettings } from './settings.js';
import { noticeToQueuedMessage, logNoticeQueued, logPlanNotes } from './queue.js';
import type { AttemptResult, Notice, OriginalMessage } from './types.js';
import { paramsFrom } from '../config/test-params.js';
import { MailLog } from '../log/maillog.js';
import { noticeLog } from '../log/queue-events.js';

const NOW = Date.UTC(2025, 5, 2, 12, 0, 0);
const settings = (over: Record<string, string> = {}) => dsnSettings(paramsFrom({ myhostname: 'mx.example.net', delay_warning_time: '4h', ...over }));

function msg(over: Partial<OriginalMessage> = {}): OriginalMessage {
  return {
    id: 'A1B2C3D4E5F', arrival: NOW - 5 * 3_600_000, sender: 'alice@example.org',
    data: Buffer.from('From: alice@example.org\r\nTo: bob@remote.example\r\nSubject: test\r\n\r\nbody line\r\n'),
    ...over,
  };
}

const bounced = (rcpt: string, notify?: string[], extra: Partial<AttemptResult> = {}): AttemptResult => ({ recipient: rcpt, status: 'bounced', dsn: '5.1.1', text: 'User unknown', ...(notify ? { notify } : {}), ...extra });
const deferred = (rcpt: string, notify?: string[], extra: Partial<AttemptResult> = {}): AttemptResult => ({ recipient: rcpt, status: 'deferred', dsn: '4.4.1', text: 'connect to mx.remote.example[192.0.2.1]:25: Connection refused', ...(notify ? { notify } : {}), ...extra });
const sent = (rcpt: string, notify?: string[], extra: Partial<AttemptResult> = {}): AttemptResult => ({ recipient: rcpt, status: 'sent', dsn: '2.0.0', text: 'delivered to maildir', ...(notify ? { notify } : {}), ...extra });

let counter = 0;
function plan(p: Partial<PlanInput> & { results: AttemptResult[] }) {
  return planNotices({ msg: msg(), delayWarning: false, settings: settings(), now: NOW, newId: () => `NEW${String(++counter).padStart(8, '0')}`, ...p });
}

/** Kind, sender and recipient of each notice, for compact comparisons. */
const brief = (ns: readonly Notice[]) => ns.map((n) => `${n.kind}:${n.report} <${n.sender}> -> ${n.recipients.join(',')}`);
/** Final-Recipient values in a notice's report. */
const finals = (n: Notice) => [...n.data.toString().matchAll(/^Final-Recipient: rfc822; (.*)\r$/gm)].map((m) => m[1]);
const part3Type = (n: Notice) => /Content-Description: [^\r]*\r\nContent-Type: ((?:message|text)\/rfc822(?:-headers)?)/.exec(n.data.toString())?.[1];

test('a failed recipient without NOTIFY: one bounce to the sender, from <>, the whole original', () => {
  const p = plan({ results: [bounced('bob@remote.example'), sent('carol@example.org')] });
  assert.deepEqual(brief(p.notices), ['bounce:failure <> -> alice@example.org']);
  const n = p.notices[0]!;
  assert.deepEqual(finals(n), ['bob@remote.example']);
  assert.equal(part3Type(n), 'message/rfc822');
  assert.equal(n.logAs, 'sender non-delivery notification');
  assert.match(n.data.toString(), /^Subject: Undelivered Mail Returned to Sender\r$/m);
});

test('several failed recipients: one notice listing all of them, in order', () => {
  const p = plan({ results: [bounced('a@r.example'), sent('x@r.example'), bounced('b@r.example'), { ...bounced('c@r.example'), status: 'expired', dsn: '4.4.1' }] });
  assert.equal(p.notices.length, 1);
  assert.deepEqual(finals(p.notices[0]!), ['a@r.example', 'b@r.example', 'c@r.example']);
});

test('NOTIFY=NEVER: no notice at all, for any outcome', () => {
  const p = plan({ results: [bounced('a@r.example', ['NEVER']), deferred('b@r.example', ['NEVER']), sent('c@r.example', ['NEVER'])], delayWarning: true });
  assert.deepEqual(p.notices, []);
});

test('NOTIFY=SUCCESS only: no bounce for a failure; a success report for a delivery', () => {
  const p = plan({ results: [bounced('a@r.example', ['SUCCESS']), sent('b@r.example', ['SUCCESS'])] });
  assert.deepEqual(brief(p.notices), ['success:success <> -> alice@example.org']);
  const n = p.notices[0]!;
  assert.deepEqual(finals(n), ['b@r.example']);
  assert.match(n.data.toString(), /^Action: delivered\r$/m);
  assert.match(n.data.toString(), /^Subject: Successful Mail Delivery Report\r$/m);
  assert.equal(part3Type(n), 'text/rfc822-headers', 'success reports carry headers only');
  assert.match(n.data.toString(), /^Content-Description: Message Headers\r$/m);
  assert.equal(n.logAs, 'sender delivery status notification');
});

test('NOTIFY=SUCCESS relayed to a peer without DSN: Action relayed; passed on to a DSN peer: no report', () => {
  const p = plan({ results: [sent('a@r.example', ['SUCCESS'], { relayed: true, remoteMta: 'dns; mx.r.example' }), sent('b@r.example', ['SUCCESS'], { dsnPassedOn: true })] });
  assert.equal(p.notices.length, 1);
  assert.deepEqual(finals(p.notices[0]!), ['a@r.example']);
  assert.match(p.notices[0]!.data.toString(), /^Action: relayed\r\nStatus: 2\.0\.0\r\nRemote-MTA: dns; mx\.r\.example\r$/m);
  assert.deepEqual(plan({ results: [sent('b@r.example', ['SUCCESS'], { dsnPassedOn: true })] }).notices, []);
});

test('no NOTIFY: no success report for a delivery', () => {
  assert.deepEqual(plan({ results: [sent('a@r.example'), sent('b@r.example', ['FAILURE', 'DELAY'])] }).notices, []);
});

test('NOTIFY=FAILURE: a bounce but no delay warning', () => {
  const p = plan({ results: [bounced('a@r.example', ['FAILURE']), deferred('b@r.example', ['FAILURE'])], delayWarning: true });
  assert.deepEqual(brief(p.notices), ['bounce:failure <> -> alice@example.org']);
  assert.deepEqual(finals(p.notices[0]!), ['a@r.example']);
});

test('NOTIFY=DELAY: a delay warning but no bounce; words are case-insensitive', () => {
  const p = plan({ results: [bounced('a@r.example', ['delay']), deferred('b@r.example', ['Delay'])], delayWarning: true });
  assert.deepEqual(brief(p.notices), ['delay:delay <> -> alice@example.org']);
  const n = p.notices[0]!;
  assert.deepEqual(finals(n), ['b@r.example']);
  assert.match(n.data.toString(), /^Action: delayed\r$/m);
  assert.match(n.data.toString(), /^Will-Retry-Until: /m);
  assert.equal(part3Type(n), 'text/rfc822-headers', 'delay warnings carry headers only');
  assert.equal(n.logAs, 'sender delay notification');
});

test('no NOTIFY: delay warnings when one is due and delay_warning_time > 0, never otherwise', () => {
  assert.deepEqual(brief(plan({ results: [deferred('a@r.example')], delayWarning: true }).notices), ['delay:delay <> -> alice@example.org']);
  assert.deepEqual(plan({ results: [deferred('a@r.example')], delayWarning: false }).notices, []);
  assert.deepEqual(plan({ results: [deferred('a@r.example')], delayWarning: true, settings: settings({ delay_warning_time: '0h' }) }).notices, []);
});

test('NOTIFY=SUCCESS,FAILURE,DELAY: each outcome reported in its own notice', () => {
  const all = ['SUCCESS', 'FAILURE', 'DELAY'];
  const p = plan({ results: [bounced('a@r.example', all), deferred('b@r.example', all), sent('c@r.example', all)], delayWarning: true });
  assert.deepEqual(brief(p.notices), ['bounce:failure <> -> alice@example.org', 'delay:delay <> -> alice@example.org', 'success:success <> -> alice@example.org']);
  assert.deepEqual(p.notices.map(finals), [['a@r.example'], ['b@r.example'], ['c@r.example']]);
  assert.equal(new Set(p.notices.map((n) => n.id)).size, 3, 'each notice has its own queue ID');
});

test('RET=HDRS: headers only; RET=FULL or unset: the whole original', () => {
  assert.equal(part3Type(plan({ msg: msg({ ret: 'HDRS' }), results: [bounced('a@r.example')] }).notices[0]!), 'text/rfc822-headers');
  assert.equal(part3Type(plan({ msg: msg({ ret: 'FULL' }), results: [bounced('a@r.example')] }).notices[0]!), 'message/rfc822');
  assert.equal(part3Type(plan({ results: [bounced('a@r.example')] }).notices[0]!), 'message/rfc822');
});

test('bounce_size_limit: a larger original is returned as headers only, even with RET=FULL', () => {
  const big = msg({ ret: 'FULL', data: Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(60_000, 'x\r\n')]) });
  const n = plan({ msg: big, results: [bounced('a@r.example')] }).notices[0]!;
  assert.equal(part3Type(n), 'text/rfc822-headers');
  assert.ok(n.data.length < 5000, 'the body is left out');
  assert.equal(part3Type(plan({ msg: big, results: [bounced('a@r.example')], settings: settings({ bounce_size_limit: '100000' }) }).notices[0]!), 'message/rfc822');
  assert.equal(part3Type(plan({ msg: big, results: [bounced('a@r.example')], settings: settings({ bounce_size_limit: '0' }) }).notices[0]!), 'message/rfc822', '0: no limit');
});

test('notify_classes default (resource, software): no postmaster copies of bounces or delays', () => {
  const p = plan({ results: [bounced('a@r.example'), deferred('b@r.example')], delayWarning: true });
  assert.deepEqual(brief(p.notices), ['bounce:failure <> -> alice@example.org', 'delay:delay <> -> alice@example.org']);
});

test('notify_classes bounce: a headers-only postmaster copy of every failed recipient, even NOTIFY=NEVER', () => {
  const p = plan({ results: [bounced('a@r.example', ['NEVER']), bounced('b@r.example')], settings: settings({ notify_classes: 'bounce', bounce_notice_recipient: 'bounces' }) });
  assert.deepEqual(brief(p.notices), ['bounce:failure <> -> alice@example.org', 'postmaster-copy:failure <double-bounce@mx.example.net> -> bounces@mx.example.net']);
  const copy = p.notices[1]!;
  assert.deepEqual(finals(copy), ['a@r.example', 'b@r.example']);
  assert.equal(part3Type(copy), 'text/rfc822-headers');
  const text = copy.data.toString();
  assert.match(text, /^Subject: Postmaster Copy: Undelivered Mail\r$/m);
  assert.match(text, /^Auto-Submitted: auto-generated\r$/m);
  assert.doesNotMatch(text, /This is the mail system/, 'no boilerplate in postmaster copies');
  assert.equal(copy.logAs, 'postmaster non-delivery notification');
  // All NEVER: the sender gets nothing, the postmaster still gets the copy.
  assert.deepEqual(brief(plan({ results: [bounced('a@r.example', ['NEVER'])], settings: settings({ notify_classes: 'bounce' }) }).notices), ['postmaster-copy:failure <double-bounce@mx.example.net> -> postmaster@mx.example.net']);
});

test('notify_classes delay: a postmaster copy of delay warnings to delay_notice_recipient', () => {
  const p = plan({ results: [deferred('a@r.example')], delayWarning: true, settings: settings({ notify_classes: 'delay', delay_notice_recipient: 'ops@example.net' }) });
  assert.deepEqual(brief(p.notices), ['delay:delay <> -> alice@example.org', 'postmaster-copy:delay <double-bounce@mx.example.net> -> ops@example.net']);
  assert.match(p.notices[1]!.data.toString(), /^Subject: Postmaster Warning: Delayed Mail\r$/m);
  assert.equal(p.notices[1]!.logAs, 'postmaster delay notification');
});

test('a failed bounce (sender <>) never goes back to <>: with notify_classes 2bounce or bounce it is a double bounce to 2bounce_notice_recipient, the whole bounce attached', () => {
  const fromNull = msg({ sender: '' });
  for (const classes of ['2bounce', 'bounce', 'resource, software, 2bounce']) {
    const p = plan({ msg: fromNull, results: [bounced('alice@example.org')], settings: settings({ notify_classes: classes, '2bounce_notice_recipient': 'dbl-admin@example.net' }) });
    assert.deepEqual(brief(p.notices), ['double-bounce:failure <double-bounce@mx.example.net> -> dbl-admin@example.net'], classes);
    const n = p.notices[0]!;
    assert.equal(part3Type(n), 'message/rfc822');
    assert.match(n.data.toString(), /^Subject: Postmaster Copy: Undelivered Mail\r$/m);
    assert.match(n.data.toString(), /^X-Postfix-Sender: rfc822; MAILER-DAEMON@mx\.example\.net\r$/m);
    assert.match(n.data.toString(), /^Return-Path: <MAILER-DAEMON@mx\.example\.net>\r$/m);
    assert.equal(n.logAs, 'postmaster non-delivery notification');
  }
});

test('a failed bounce with the default notify_classes: discarded, as Postfix does (no notice to <>)', () => {
  const p = plan({ msg: msg({ sender: '' }), results: [bounced('alice@example.org')] });
  assert.deepEqual(p.notices, []);
});

test('a delayed bounce: only a postmaster delay notice, with notify_classes delay', () => {
  assert.deepEqual(plan({ msg: msg({ sender: '' }), results: [deferred('alice@example.org')], delayWarning: true }).notices, []);
  const p = plan({ msg: msg({ sender: '' }), results: [deferred('alice@example.org')], delayWarning: true, settings: settings({ notify_classes: 'delay' }) });
  assert.deepEqual(brief(p.notices), ['double-bounce:delay <double-bounce@mx.example.net> -> postmaster@mx.example.net']);
  assert.equal(p.notices[0]!.logAs, 'postmaster delay notification');
});

test('mail from the double-bounce sender: never a notice, a warning instead', () => {
  for (const sender of ['double-bounce@mx.example.net', 'Double-Bounce@MX.example.net', 'double-bounce']) {
    const p = plan({ msg: msg({ sender }), results: [bounced('postmaster@mx.example.net'), deferred('x@r.example')], delayWarning: true, settings: settings({ notify_classes: 'bounce, 2bounce, delay, resource, software' }) });
    assert.deepEqual(p.notices, [], sender);
    assert.deepEqual(p.warnings, ['A1B2C3D4E5F: undeliverable postmaster notification discarded', 'A1B2C3D4E5F: undeliverable postmaster notification discarded']);
  }
  assert.equal(isDoubleBounceSender('someone@mx.example.net', settings()), false);
  assert.equal(isDoubleBounceSender('', settings()), false);
});

test('success reports for <> mail go to 2bounce_notice_recipient only with 2bounce; none for double-bounce mail', () => {
  const r = [sent('x@example.org', ['SUCCESS'])];
  const off = plan({ msg: msg({ sender: '' }), results: r });
  assert.deepEqual(off.notices, []);
  assert.deepEqual(off.infos, ['A1B2C3D4E5F: not sending trace/success notification for single-bounce message']);
  const on = plan({ msg: msg({ sender: '' }), results: r, settings: settings({ notify_classes: '2bounce' }) });
  assert.deepEqual(brief(on.notices), ['double-bounce:success <double-bounce@mx.example.net> -> postmaster@mx.example.net']);
  const dbl = plan({ msg: msg({ sender: 'double-bounce@mx.example.net' }), results: r, settings: settings({ notify_classes: '2bounce' }) });
  assert.deepEqual(dbl.notices, []);
  assert.deepEqual(dbl.infos, ['A1B2C3D4E5F: not sending trace/success notification for double-bounce message']);
});

test('expired recipients: returned to the sender as failed, with the last deferral status and reason', () => {
  const p = plan({ results: [{ recipient: 'a@r.example', status: 'expired', dsn: '4.4.1', text: 'delivery temporarily suspended: connect to mx.r.example[192.0.2.9]:25: Connection refused' }] });
  assert.deepEqual(brief(p.notices), ['bounce:failure <> -> alice@example.org']);
  const text = p.notices[0]!.data.toString();
  assert.match(text, /^Action: failed\r\nStatus: 4\.4\.1\r$/m);
  assert.match(text, /^<a@r\.example>: delivery temporarily suspended: connect to\r\n {4}mx\.r\.example\[192\.0\.2\.9\]:25: Connection refused\r$/m);
  assert.match(text, /^Diagnostic-Code: X-Postfix; delivery temporarily suspended: connect to\r\n {4}mx/m);
});

test('notify_classes resource/software: a headers-only notice to error_notice_recipient for recipients with that error class', () => {
  const results = [deferred('a@r.example', undefined, { errorClass: 'resource' }), bounced('b@r.example', undefined, { errorClass: 'software' }), deferred('c@r.example')];
  const p = plan({ results, settings: settings({ error_notice_recipient: 'errors' }) });
  assert.deepEqual(brief(p.notices), [
    'bounce:failure <> -> alice@example.org',
    'postmaster-copy:failure <double-bounce@mx.example.net> -> errors@mx.example.net',
    'postmaster-copy:delay <double-bounce@mx.example.net> -> errors@mx.example.net',
  ]);
  assert.deepEqual(finals(p.notices[1]!), ['b@r.example']);
  assert.deepEqual(finals(p.notices[2]!), ['a@r.example']);
  assert.deepEqual(brief(plan({ results, settings: settings({ notify_classes: 'software' }) }).notices).length, 2, 'resource not asked for');
  assert.deepEqual(brief(plan({ results, settings: settings({ notify_classes: '' }) }).notices), ['bounce:failure <> -> alice@example.org']);
});

test('wantsNotice: RFC 3461 words', () => {
  const r = (notify?: string[]) => sent('a@b', notify);
  assert.deepEqual(['failure', 'delay', 'success'].map((k) => wantsNotice(r(), k as 'failure')), [true, true, false]);
  assert.deepEqual(['failure', 'delay', 'success'].map((k) => wantsNotice(r(['NEVER']), k as 'failure')), [false, false, false]);
  assert.deepEqual(['failure', 'delay', 'success'].map((k) => wantsNotice(r(['SUCCESS', 'DELAY']), k as 'failure')), [false, true, true]);
});

test('delayWarningDue: once, on the first attempt at or after arrival + delay_warning_time', () => {
  const arrival = NOW;
  const h = 3_600_000;
  assert.equal(delayWarningDue({ arrival, now: arrival + 3 * h, delayWarningMs: 4 * h }), false);
  assert.equal(delayWarningDue({ arrival, now: arrival + 4 * h, previousAttempt: arrival + 3 * h, delayWarningMs: 4 * h }), true);
  assert.equal(delayWarningDue({ arrival, now: arrival + 5 * h, previousAttempt: arrival + 4 * h, delayWarningMs: 4 * h }), false, 'already warned');
  assert.equal(delayWarningDue({ arrival, now: arrival + 5 * h, delayWarningMs: 4 * h }), true, 'first attempt late (held mail)');
  assert.equal(delayWarningDue({ arrival, now: arrival + 500 * h, delayWarningMs: 0 }), false);
});

test('settings: unqualified notice recipients get @$myorigin, the double-bounce sender @$myhostname; bounce implies 2bounce', () => {
  const s = settings({ myorigin: 'example.net', notify_classes: 'bounce' });
  assert.equal(s.bounceNoticeRecipient, 'postmaster@example.net');
  assert.equal(s.twoBounceNoticeRecipient, 'postmaster@example.net');
  assert.equal(s.doubleBounceSender, 'double-bounce@mx.example.net');
  assert.equal(s.mailerDaemon, 'MAILER-DAEMON@example.net');
  assert.ok(s.notifyClasses.has('2bounce'));
  assert.equal(settings({ bounce_notice_recipient: 'admin@elsewhere.example' }).bounceNoticeRecipient, 'admin@elsewhere.example');
  assert.equal(s.bounceSizeLimit, 50000);
  assert.equal(s.hopcountLimit, 50);
});

test('noticeToQueuedMessage: a pending queue record from the notice, recipients without NOTIFY', () => {
  const n = plan({ results: [bounced('a@r.example')] }).notices[0]!;
  const q = noticeToQueuedMessage(n, NOW);
  assert.equal(q.id, n.id);
  assert.equal(q.sender, '');
  assert.deepEqual(q.recipients, [{ address: 'alice@example.org', status: 'pending' }]);
  assert.equal(q.data, n.data);
  assert.equal(q.nextAttempt, NOW);
  assert.equal(q.attempts, 0);
  assert.equal(q.bodyType, '7BIT');
});

test('log lines: postfix/bounce notification lines and qmgr\'s expiry line, as Postfix writes them', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'postern-dsn-')), 'maillog');
  const log = new MailLog({ file, hostname: 'mx.example.net' });
  const p = plan({ results: [bounced('a@r.example'), deferred('b@r.example'), sent('c@r.example', ['SUCCESS'])], delayWarning: true, settings: settings({ notify_classes: 'bounce, delay' }) });
  for (const n of p.notices) logNoticeQueued(log, 'postfix', 'A1B2C3D4E5F', n);
  logPlanNotes(log, 'postfix', plan({ msg: msg({ sender: 'double-bounce' }), results: [bounced('x@y')] }));
  noticeLog.expired(log, 'postfix/qmgr', 'A1B2C3D4E5F', 'alice@example.org');
  log.close();
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.replace(/^\w{3} [ \d]\d \d\d:\d\d:\d\d mx /, '').replace(/\[\d+\]/, '[PID]'));
  const ids = p.notices.map((n) => n.id);
  assert.deepEqual(lines, [
    `postfix/bounce[PID]: A1B2C3D4E5F: sender non-delivery notification: ${ids[0]}`,
    `postfix/bounce[PID]: A1B2C3D4E5F: postmaster non-delivery notification: ${ids[1]}`,
    `postfix/bounce[PID]: A1B2C3D4E5F: sender delay notification: ${ids[2]}`,
    `postfix/bounce[PID]: A1B2C3D4E5F: postmaster delay notification: ${ids[3]}`,
    `postfix/bounce[PID]: A1B2C3D4E5F: sender delivery status notification: ${ids[4]}`,
    'postfix/bounce[PID]: warning: A1B2C3D4E5F: undeliverable postmaster notification discarded',
    'postfix/qmgr[PID]: A1B2C3D4E5F: from=<alice@example.org>, status=expired, returned to sender',
  ]);
});
