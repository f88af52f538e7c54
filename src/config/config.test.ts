import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMainCf } from './main-cf.js';
import { parseMasterCf } from './master-cf.js';
import { loadConfig } from './load.js';
import { paramsFrom } from './test-params.js';
import { parseTimeMs, splitList } from './params.js';

test('main.cf: continuation lines, comments, # inside values, overrides', () => {
  const r = parseMainCf('# comment\na = one,\n  two\n   # indented comment\nb = x # not a comment\na = three\n', 'main.cf');
  assert.equal(r.values.get('a')?.value, 'three');
  assert.equal(r.values.get('a')?.line, 6);
  assert.equal(r.values.get('b')?.value, 'x # not a comment');
  assert.deepEqual(r.diagnostics.map((d) => [d.severity, d.line]), [['warning', 6]]);
  const bad = parseMainCf('just words\n', 'm');
  assert.equal(bad.diagnostics[0]?.severity, 'error');
  assert.equal(bad.diagnostics[0]?.line, 1);
});

test('$name expansion: $a ${a} ${a?x} ${a:x}, recursion, undefined names', () => {
  const p = paramsFrom({ myhostname: 'mx.example.com', mydomain: 'example.com', smtpd_banner: '$myhostname ${mail_name}${mydomain?: set}${relay_domains:: empty}' });
  assert.equal(p.str('smtpd_banner'), 'mx.example.com Postern: set: empty');
  assert.deepEqual(paramsFrom({ mydomain: 'd.test', myhostname: 'h.d.test' }).list('mydestination'), ['h.d.test', 'localhost.d.test', 'localhost']);
});

test('time values and lists', () => {
  assert.equal(parseTimeMs('300s'), 300_000);
  assert.equal(parseTimeMs('5d', 's'), 5 * 86_400_000);
  assert.equal(parseTimeMs('7', 'm'), 420_000);
  assert.equal(parseTimeMs('250ms'), 250);
  assert.equal(parseTimeMs('soon'), undefined);
  assert.deepEqual(splitList('a, b c,,d inline:{ x=1, y=2 } e'), ['a', 'b', 'c', 'd', 'inline:{ x=1, y=2 }', 'e']);
});

test('master.cf: columns, -o forms, host:port services, unindented continuations', () => {
  const text = [
    'smtp      inet  n       -       y       -       -       smtpd',
    'submission inet n       -       y       -       20      smtpd',
    '  -o syslog_name=postfix/submission',
    '  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }',
    '  -o { smtpd_milters = { inet:127.0.0.1:8891, default_action=accept }, unix:/run/m.sock }',
    '127.0.0.1:10025 inet n - n - - smtpd',
    '-o content_filter=',
    'dovecot unix - n n - - pipe',
    'flags=DRhu user=vmail:mail argv=/usr/lib/dovecot/dovecot-lda -d $(recipient)',
  ].join('\n');
  const r = parseMasterCf(text, 'master.cf');
  assert.deepEqual(r.entries.map((e) => e.name), ['smtp', 'submission', '127.0.0.1:10025', 'dovecot']);
  assert.equal(r.entries[1]!.maxproc, '20');
  assert.equal(r.entries[1]!.overrides.get('syslog_name')?.value, 'postfix/submission');
  assert.equal(r.entries[1]!.overrides.get('smtpd_client_restrictions')?.value, 'permit_sasl_authenticated, reject');
  assert.equal(r.entries[1]!.overrides.get('smtpd_milters')?.value, '{ inet:127.0.0.1:8891, default_action=accept }, unix:/run/m.sock', 'braces nest');
  assert.deepEqual(r.diagnostics.map((d) => [d.line, d.message.slice(0, 60)]), [
    [7, 'this line looks like a continuation of the service on line 6'],
    [9, 'this line looks like a continuation of the service on line 8'],
  ]);
  assert.equal(r.entries[2]!.overrides.get('content_filter')?.value, '', 'the lost continuation is still applied as meant');
});

test('loadConfig: per-service overrides, computed defaults, unknown and no-effect parameters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-cfg-'));
  writeFileSync(join(dir, 'main.cf'), 'myhostname = mx.example.com\nbiff = no\nfrobnicate = yes\nmy_class = reject\nsmtpd_restriction_classes = my_class\n');
  writeFileSync(join(dir, 'master.cf'), 'smtp inet n - n - - smtpd\nsubmission inet n - n - 5 smtpd\n  -o smtpd_helo_required=yes\n');
  const cfg = loadConfig(dir);
  assert.equal(cfg.main.str('mydomain'), 'example.com');
  assert.equal(cfg.main.str('config_directory'), dir);
  assert.equal(cfg.services[0]!.maxproc, 100);
  assert.equal(cfg.services[1]!.maxproc, 5);
  assert.equal(cfg.services[0]!.params.bool('smtpd_helo_required'), false);
  assert.equal(cfg.services[1]!.params.bool('smtpd_helo_required'), true);
  const msgs = cfg.diagnostics.map((d) => `${d.line} ${d.severity} ${d.message}`);
  assert.ok(msgs.some((m) => m.startsWith('2 info biff: accepted, no effect in Postern')), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.startsWith('3 warning unknown parameter frobnicate')), msgs.join('\n'));
  assert.ok(!msgs.some((m) => m.includes('my_class')), 'restriction class names are not unknown parameters');
});

test('loadConfig: values written with $name are validated after expansion, in main.cf and -o', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-cfg-'));
  writeFileSync(join(dir, 'main.cf'), 'myhostname = mx.example.com\nlimit = 5\nbad = lots\nsmtpd_recipient_limit = $limit\nsmtpd_soft_error_limit = ${bad}\n');
  writeFileSync(join(dir, 'master.cf'), 'smtp inet n - n - - smtpd\n  -o smtpd_helo_required=$bad\n');
  const cfg = loadConfig(dir);
  assert.equal(cfg.main.int('smtpd_recipient_limit'), 5);
  const errors = cfg.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file.endsWith('master.cf') ? 'master' : 'main'}:${d.line} ${d.message}`);
  assert.deepEqual(errors, [
    'main:5 smtpd_soft_error_limit: bad number "lots" (expanded from "${bad}")',
    'master:1 smtpd_helo_required: bad boolean "lots" (use yes or no) (expanded from "$bad")',
  ]);
});
