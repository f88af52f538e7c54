/**
 * Message content over real sockets: SMTP smuggling variants, dot-unstuffing, byte-by-byte
 * delivery, bare LF under each smtpd_forbid_bare_newline value, size and header limits,
 * BDAT (RFC 3030) chunking and its refusals.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, openTransaction, startTestServer } from './test-dialog.js';
import { reply } from '../protocol/reply.js';

const START = '354 End data with <CR><LF>.<CR><LF>';

test('smuggling: no bare-LF or bare-CR variant ends DATA; the smuggled MAIL stays body text', async () => {
  const srv = await startTestServer();
  try {
    const c = await Client.ready(srv.port, 'client.example');
    await openTransaction(c, 'outer@x.example', ['a@y.example']);
    assert.equal(await c.cmd('DATA'), START);
    const evil = 'MAIL FROM:<admin@y.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n';
    const variants = ['\n.\r\n', '\r\n.\n', '\n.\n', '\r.\r', '\r.\r\n', '\r\n.\r'];
    const body = `Subject: outer\r\n\r\nhello${variants.map((v) => `${v}${evil}`).join('')}\r\n.\r\n`;
    c.send(body);
    assert.equal(await c.reply(), '250 2.0.0 Ok: queued as 4A00000001');
    assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok', 'no stray replies after the message');
    c.close();
    assert.equal(srv.submitted.length, 1, 'exactly one message');
    const text = srv.submitted[0]!.data.toString('latin1');
    assert.equal(text.split('MAIL FROM:<admin@y.example>').length - 1, variants.length);
    assert.equal(srv.submitted[0]!.sender, 'outer@x.example');
  } finally {
    await srv.close();
  }
});

test('dot-unstuffing only after CRLF; every split of the input gives the same message (byte by byte)', async () => {
  const srv = await startTestServer();
  try {
    const c = await Client.ready(srv.port, 'client.example');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    const wire = 'MAIL FROM:<t@x.example>\r\n'; // stays body text
    const body = `Subject: dots\r\n\r\n..one\r\n.two\r\nthree.\r\n...\r\n ${wire}x.\r\n.\r\n`;
    assert.equal(await c.cmd('DATA'), START);
    await c.sendByteByByte(body);
    assert.equal(await c.reply(5000), '250 2.0.0 Ok: queued as 4A00000001');
    await c.sendByteByByte('RSET\r\nMAIL FROM:<u@x.example>\r\n');
    assert.deepEqual(await c.replies(2), ['250 2.0.0 Ok', '250 2.1.0 Ok']);
    c.close();
    assert.equal(srv.submitted[0]!.data.toString('latin1'), `Subject: dots\r\n\r\n.one\r\ntwo\r\nthree.\r\n..\r\n ${wire}x.\r\n`);
  } finally {
    await srv.close();
  }
});

test('bare LF: normalize (default) makes CRLF, no keeps the byte, reject answers 521 and hangs up', async () => {
  for (const [mode, expect] of [['normalize', 'a\r\nb\r\n.c\r\n'], ['no', 'a\nb\n..c\r\n']] as const) {
    const srv = await startTestServer({ params: { smtpd_forbid_bare_newline: mode } });
    try {
      const c = await Client.ready(srv.port, 'client.example');
      await openTransaction(c, 's@x.example', ['a@y.example']);
      assert.equal(await c.cmd('DATA'), START);
      c.send('a\nb\n..c\r\n.\r\n');
      assert.match(await c.reply(), /^250 /, mode);
      assert.equal(srv.submitted[0]!.data.toString('latin1'), expect, mode);
      c.close();
    } finally {
      await srv.close();
    }
  }
  const srv = await startTestServer({ params: { smtpd_forbid_bare_newline: 'reject' } });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    assert.equal(await c.cmd('DATA'), START);
    c.send('a\nb\r\n.\r\n');
    assert.equal(await c.reply(), '521 5.5.2 mx.test Error: bare <LF> received');
    await c.closedByServer();
    assert.equal(srv.submitted.length, 0);
    await srv.log.waitFor(/warning: unknown\[127\.0\.0\.1\]: bare <LF> received after DATA/);
    // In command mode too.
    const d = await Client.ready(srv.port);
    d.send('NOOP\n');
    assert.equal(await d.reply(), '521 5.5.2 mx.test Error: bare <LF> received');
    await d.closedByServer();
  } finally {
    await srv.close();
  }
});

test('message_size_limit: SIZE= over the limit, then an over-size body consumed to its end', async () => {
  const srv = await startTestServer({ params: { message_size_limit: '1000' } });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    assert.equal(await c.cmd('MAIL FROM:<s@x.example> SIZE=1001'), '552 5.3.4 Message size exceeds fixed limit');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    assert.equal(await c.cmd('DATA'), START);
    c.send(`Subject: big\r\n\r\n${'x'.repeat(60)}\r\n`.repeat(30) + 'MAIL FROM:<inside@x.example>\r\n.\r\n');
    assert.equal(await c.reply(), '552 5.3.4 Message size exceeds fixed limit');
    assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok', 'in step with the client after the oversize body');
    c.close();
    assert.equal(srv.submitted.length, 0);
    await srv.log.waitFor(/NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.1\]: 552 5\.3\.4 Message size exceeds fixed limit; from=<s@x\.example> proto=ESMTP helo=<client\.example>/);
    await srv.log.waitFor(/4A00000001: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 552 5\.3\.4 Message size exceeds fixed limit \(2\d{3} bytes\); from=<s@x\.example> to=<a@y\.example>/);
  } finally {
    await srv.close();
  }
});

test('header_size_limit: a header field larger than the limit is refused', async () => {
  const srv = await startTestServer({ params: { header_size_limit: '1024' } });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    assert.equal(await c.cmd('DATA'), START);
    c.send(`Subject: long\r\nX-Folded: a\r\n${` ${'y'.repeat(70)}\r\n`.repeat(20)}\r\nbody\r\n.\r\n`);
    assert.equal(await c.reply(), '552 5.3.4 Message header size exceeds fixed limit');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    assert.equal(await c.cmd('DATA'), START);
    c.send(`Subject: fine\r\n\r\n${'z'.repeat(70)}\r\n`.repeat(3) + '.\r\n');
    assert.match(await c.reply(), /^250 /, 'long bodies are not headers');
    c.close();
  } finally {
    await srv.close();
  }
});

test('BDAT: chunks with LAST make one message, exact bytes, no unstuffing; DATA after BDAT refused', async () => {
  const srv = await startTestServer();
  try {
    const c = await Client.ready(srv.port, 'client.example');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    const c1 = 'Subject: chunked\r\n\r\n';
    const c2 = '.not stuffed\r\n\r\n.\r\nQUIT\r\n';
    c.send(`BDAT ${c1.length}\r\n${c1}`);
    assert.equal(await c.reply(), `250 2.0.0 Ok: ${c1.length} bytes`);
    assert.equal(await c.cmd('DATA'), '503 5.5.1 Error: DATA after BDAT');
    c.send(`BDAT ${c2.length} LAST\r\n`);
    await c.sendByteByByte(c2);
    assert.equal(await c.reply(), '250 2.0.0 Ok: queued as 4A00000001');
    assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
    c.close();
    assert.equal(srv.submitted[0]!.data.toString('latin1'), c1 + c2);
    await srv.log.waitFor(/disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=0\/1 bdat=2 noop=1 commands=6\/7/);
  } finally {
    await srv.close();
  }
});

test('BDAT refusals consume the chunk: no MAIL, no recipients, data restrictions, later chunks, size; bad syntax hangs up', async () => {
  const srv = await startTestServer({
    params: { message_size_limit: '100' },
    policy: (point, facts) => (point === 'data' && facts.sender === 'blocked@x.example' ? { reply: reply(550, '5.7.1', 'Data command rejected') } : undefined),
  });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    c.send('BDAT 5\r\nRSET\r');
    assert.equal(await c.reply(), '503 5.5.1 Error: need MAIL command');
    c.send('\n');
    assert.equal(await c.reply(), '502 5.5.2 Error: command not recognized', 'the stray LF after the chunk is an empty command');
    assert.equal(await c.cmd('MAIL FROM:<s@x.example>'), '250 2.1.0 Ok');
    c.send('BDAT 4 LAST\r\nQUIT');
    assert.equal(await c.reply(), '554 5.5.1 Error: no valid recipients');
    await openTransaction(c, 'blocked@x.example', ['a@y.example']);
    c.send('BDAT 3\r\nabcBDAT 2 LAST\r\nde');
    assert.deepEqual(await c.replies(2), ['550 5.7.1 Data command rejected', '551 5.0.0 Discarded 2 bytes after earlier error']);
    await openTransaction(c, 's@x.example', ['a@y.example']);
    c.send(`BDAT 60\r\n${'x'.repeat(60)}BDAT 60 LAST\r\n${'y'.repeat(60)}`);
    assert.deepEqual(await c.replies(2), ['250 2.0.0 Ok: 60 bytes', '552 5.3.4 Message size exceeds fixed limit']);
    assert.equal(await c.cmd('MAIL FROM:<s@x.example>'), '250 2.1.0 Ok', 'LAST ended the failed transaction');
    assert.equal(await c.cmd('BDAT 0'), '551 5.7.1 Null BDAT request');
    assert.equal(await c.cmd('BDAT ten'), '521 5.5.4 Syntax: BDAT count [LAST]');
    await c.closedByServer();
    assert.equal(srv.submitted.length, 0);
    await srv.log.waitFor(/warning: NOQUEUE: malformed BDAT command syntax from unknown\[127\.0\.0\.1\]: BDAT ten/);
  } finally {
    await srv.close();
  }
});
