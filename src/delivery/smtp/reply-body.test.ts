import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyParser, replyDsn, replyText, ehloKeywords } from './reply.js';
import { encodeBody, xtext, hasNonAscii, headerSection } from './body.js';

function parse(lines: string[]) {
  const p = new ReplyParser();
  const out = [];
  for (const l of lines) {
    const r = p.push(l);
    if (r) out.push(r);
  }
  return out;
}

test('multi-line replies are joined; the enhanced code is taken when its class agrees', () => {
  const [r] = parse(['550-5.7.1 [192.0.2.1] The IP you are using', '550-5.7.1 is not allowed to send', '550 5.7.1 mail here']);
  assert.equal(r!.code, 550);
  assert.equal(replyDsn(r!), '5.7.1');
  assert.equal(replyText(r!), '550-5.7.1 [192.0.2.1] The IP you are using 550-5.7.1 is not allowed to send 550 5.7.1 mail here');
  const [a, b, c] = parse(['250 Ok', '451 5.1.1 mismatched class', '220']);
  assert.equal(replyDsn(a!), '2.0.0');
  assert.equal(replyDsn(b!), '4.0.0', 'a 4xx reply never carries a 5.x.x DSN');
  assert.equal(c!.code, 220);
  // Garbage is a temporary failure, not an exception.
  const [g] = parse(['HTTP/1.1 400 Bad Request']);
  assert.equal(g!.code, 0);
  assert.equal(replyDsn(g!), '4.0.0');
});

test('EHLO keywords', () => {
  const [r] = parse(['250-mx.example Hello', '250-PIPELINING', '250-SIZE 10240000', '250-AUTH=PLAIN LOGIN', '250 8BITMIME']);
  const k = ehloKeywords(r!);
  assert.equal(k.get('SIZE'), '10240000');
  assert.ok(k.has('PIPELINING') && k.has('8BITMIME') && k.has('AUTH'));
  assert.ok(!k.has('MX.EXAMPLE'), 'the greeting line is not a keyword');
});

test('dot-stuffing, CRLF normalisation and the end-of-data line', () => {
  assert.equal(encodeBody(Buffer.from('a\r\n.b\r\n..c\r\n.\r\n')).toString(), 'a\r\n..b\r\n...c\r\n..\r\n.\r\n');
  assert.equal(encodeBody(Buffer.from('.first\nbare lf\r\nno end')).toString(), '..first\r\nbare lf\r\nno end\r\n.\r\n');
  assert.equal(encodeBody(Buffer.alloc(0)).toString(), '.\r\n');
});

test('xtext, non-ASCII detection, header section', () => {
  assert.equal(xtext('a+b=c@example.com'), 'a+2Bb+3Dc@example.com');
  assert.equal(xtext('ü'), '+C3+BC');
  assert.ok(hasNonAscii('José@example.com'));
  assert.ok(!hasNonAscii(Buffer.from('plain')));
  assert.equal(headerSection(Buffer.from('A: 1\r\nB: ü\r\n\r\nbody')).toString(), 'A: 1\r\nB: ü');
});
