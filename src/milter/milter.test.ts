/**
 * Unit tests for the milter client's pure parts: packet framing and reply decoding,
 * option negotiation with a macro list, milter specs with per-milter settings, macros,
 * and the header/body edits with libmilter's index semantics.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketReader, connectPacket, decodeReply, macroPacket, optneg, packet, parseOptneg, strings, z } from './protocol.js';
import { milterSpecs, parseEndpoint } from './spec.js';
import { macroValues } from './macros.js';
import { paramsFrom } from '../config/test-params.js';
import { addHeader, changeHeader, headerForMilter, insertHeader, joinMessage, normaliseBody, splitMessage } from './edits.js';

test('packets: length counts the command byte; the reader reassembles split input', () => {
  const p = packet('H', z('client.example'));
  assert.deepEqual([...p.subarray(0, 5)], [0, 0, 0, 16, 'H'.charCodeAt(0)]);
  const r = new PacketReader();
  r.push(p.subarray(0, 3));
  assert.equal(r.next(), undefined);
  r.push(Buffer.concat([p.subarray(3), packet('c')]));
  assert.deepEqual(strings(r.next()!.data), ['client.example']);
  assert.equal(r.next()!.cmd, 'c');
  assert.equal(r.next(), undefined);
  r.push(Buffer.from([0x7f, 0, 0, 0, 1]));
  assert.throws(() => r.next(), /bad packet length/);
});

test('OPTNEG: version, actions, protocol; a reply may carry per-stage macro lists', () => {
  const o = optneg(6, 0x1ff, 0x1f);
  assert.deepEqual([o.readUInt32BE(5), o.readUInt32BE(9), o.readUInt32BE(13)], [6, 0x1ff, 0x1f]);
  const stage = (n: number, list: string): Buffer => Buffer.concat([Buffer.from([0, 0, 0, n]), z(list)]);
  const data = Buffer.concat([o.subarray(5), stage(0, 'j {client_addr}'), stage(5, 'i')]);
  const n = parseOptneg({ cmd: 'O', data });
  assert.deepEqual(n.macros, { connect: ['j', '{client_addr}'], eom: ['i'] });
  assert.throws(() => parseOptneg({ cmd: 'c', data }), /unexpected reply/);
});

test('CONNECT, MACRO and replies decode as libmilter writes them', () => {
  const c = connectPacket('mail.example', '192.0.2.1', 25);
  assert.equal(c.subarray(5).toString('latin1'), 'mail.example\x004\x00\x19192.0.2.1\x00');
  assert.equal(connectPacket('x', '2001:db8::1', 1).subarray(5 + 2, 5 + 3).toString(), '6');
  assert.equal(macroPacket('R', [['{rcpt_addr}', 'b@x']]).subarray(5).toString('latin1'), 'R{rcpt_addr}\x00b@x\x00');
  const idx = Buffer.concat([Buffer.from([0, 0, 0, 2]), z('Subject'), z('new')]);
  assert.deepEqual(decodeReply({ cmd: 'm', data: idx }), { kind: 'chgheader', index: 2, name: 'Subject', value: 'new' });
  assert.deepEqual(decodeReply({ cmd: 'y', data: z('550 5.7.1 no') }), { kind: 'replycode', text: '550 5.7.1 no' });
  assert.deepEqual(decodeReply({ cmd: '2', data: Buffer.concat([z('<a@b>'), z('NOTIFY=NEVER')]) }), { kind: 'addrcpt', address: '<a@b>', args: 'NOTIFY=NEVER' });
  assert.throws(() => decodeReply({ cmd: 'Z', data: Buffer.alloc(0) }), /unexpected reply code "Z"/);
});

test('milter endpoints: inet host:port (IPv6 in brackets), unix paths; anything else is an error text', () => {
  assert.deepEqual(parseEndpoint('inet:127.0.0.1:8891'), { host: '127.0.0.1', port: 8891 });
  assert.deepEqual(parseEndpoint('inet:[::1]:11332'), { host: '::1', port: 11332 });
  assert.deepEqual(parseEndpoint('unix:/run/opendkim/opendkim.sock'), { path: '/run/opendkim/opendkim.sock' });
  assert.match(parseEndpoint('inet:8891@localhost') as string, /expected inet:host:port/);
  assert.match(parseEndpoint('tcp:1.2.3.4:5') as string, /unsupported milter endpoint/);
});

test('edits: add appends, insert counts all fields from 0, change/delete count that name from 1', () => {
  const m = splitMessage(Buffer.from('Received: from a\r\n\tby b\r\nSubject: one\r\nX-A: 1\r\nX-A: 2\r\n\r\nbody\r\n'));
  assert.deepEqual(m.headers.map((h) => h.name), ['Received', 'Subject', 'X-A', 'X-A']);
  assert.deepEqual(headerForMilter(m.headers[0]!), ['Received', 'from a\r\n\tby b']);
  addHeader(m, 'X-Added', 'v\n\tfolded');
  insertHeader(m, 1, 'X-Ins', 'i');
  changeHeader(m, 2, 'x-a', '');
  changeHeader(m, 1, 'Subject', 'two');
  changeHeader(m, 3, 'X-None', 'appended');
  assert.equal(joinMessage(m).toString(), 'Received: from a\r\n\tby b\r\nX-Ins: i\r\nSubject: two\r\nX-A: 1\r\nX-Added: v\r\n\tfolded\r\nX-None: appended\r\n\r\nbody\r\n');
  assert.equal(normaliseBody([Buffer.from('a\nb\r'), Buffer.from('\nc\n')]).toString(), 'a\r\nb\r\nc\r\n');
});

test('milter lists: global settings, the { … } form per milter, and errors that make a milter count as down', () => {
  const p = paramsFrom({
    smtpd_milters: 'inet:127.0.0.1:8891, { unix:/run/r.sock, command_timeout = 5s, default_action=accept }, { inet:h:1, colour=blue }',
    milter_default_action: 'reject', milter_command_timeout: '20s',
  });
  const { specs, errors } = milterSpecs(p, 'smtpd_milters');
  assert.deepEqual(specs.map((s) => [s.name, s.host ?? s.path, s.defaultAction, s.commandTimeout, s.protocol]), [
    ['inet:127.0.0.1:8891', '127.0.0.1', 'reject', 20_000, 6],
    ['unix:/run/r.sock', '/run/r.sock', 'accept', 5_000, 6],
    ['inet:h:1', undefined, 'reject', 20_000, 6],
  ]);
  assert.deepEqual(errors, ['milter inet:h:1: unknown setting "colour=blue"']);
});

test('macros: Postfix names and values from the session facts; unknown and not-yet-known ones left out', () => {
  const f = {
    client: { addr: '192.0.2.1', port: 4000, name: 'unknown', reverseName: 'dyn.example', nameStatus: 'unknown' as const },
    serviceName: 'smtp', params: paramsFrom({ myhostname: 'mx.test', milter_macro_daemon_name: 'MTA' }), protocol: 'ESMTP' as const,
    tls: false, recipientCount: 0, unauthPipelining: false, saslUsername: 'alice', saslMethod: 'PLAIN', server: { addr: '192.0.2.25', port: 25 },
  };
  assert.deepEqual(macroValues(['j', '{daemon_name}', '_', '{client_addr}', '{auth_authen}', '{auth_type}', 'i', '{tls_version}', '{rcpt_mailer}', '{rcpt_addr}'], f, { queueId: 'ABC', recipient: 'b@x.test' }), [
    ['j', 'mx.test'], ['{daemon_name}', 'MTA'], ['_', 'dyn.example [192.0.2.1] (may be forged)'], ['{client_addr}', '192.0.2.1'],
    ['{auth_authen}', 'alice'], ['{auth_type}', 'PLAIN'], ['i', 'ABC'], ['{rcpt_addr}', 'b@x.test'],
  ]);
});
