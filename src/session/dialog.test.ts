/**
 * Session dialogs over real sockets (in-process listener, fake policy and cleanup): the
 * greeting, EHLO keywords, every verb's replies, ESMTP parameters, what reaches cleanup,
 * policy refusals and their log lines, and the session-end accounting.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, openTransaction, startTestServer } from './test-dialog.js';
import { reply } from '../protocol/reply.js';

test('greeting and EHLO keywords follow the parameters; HELO gets the bare hostname', async () => {
  const srv = await startTestServer({ params: { message_size_limit: '5000' } });
  try {
    const c = await Client.open(srv.port);
    assert.equal(await c.reply(), '220 mx.test ESMTP Postern');
    assert.equal(await c.cmd('EHLO client.example'),
      ['250-mx.test', '250-PIPELINING', '250-SIZE 5000', '250-VRFY', '250-ETRN', '250-ENHANCEDSTATUSCODES', '250-8BITMIME', '250-DSN', '250-SMTPUTF8', '250 CHUNKING'].join('\n'));
    assert.equal(await c.cmd('HELO client.example'), '250 mx.test');
    assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
    await c.closedByServer();
  } finally {
    await srv.close();
  }
  const other = await startTestServer({ params: { smtpd_banner: '$myhostname Hello there', disable_vrfy_command: 'yes', smtpd_discard_ehlo_keywords: 'chunking, dsn, etrn' } });
  try {
    const c = await Client.open(other.port);
    assert.equal(await c.reply(), '220 mx.test Hello there');
    assert.equal(await c.cmd('EHLO c.example'), ['250-mx.test', '250-PIPELINING', '250-SIZE 10240000', '250-ENHANCEDSTATUSCODES', '250-8BITMIME', '250 SMTPUTF8'].join('\n'));
    assert.equal(await c.cmd('VRFY alice'), '502 5.5.1 VRFY command is disabled');
    c.close();
  } finally {
    await other.close();
  }
});

test('each verb answers in Postfix wording', async () => {
  // Limits high enough that this many errors neither tarpit nor drop the session.
  const srv = await startTestServer({ params: { smtpd_soft_error_limit: '100', smtpd_hard_error_limit: '100' } });
  try {
    const c = await Client.open(srv.port);
    await c.reply();
    const dialog: [string, string][] = [
      ['EHLO', '501 5.5.4 Syntax: EHLO hostname'],
      ['HELO a b', '501 5.5.4 Syntax: HELO hostname'],
      ['FOO bar', '502 5.5.2 Error: command not recognized'],
      ['EHLO client.example', ''],
      ['RCPT TO:<a@x.example>', '503 5.5.1 Error: need MAIL command'],
      ['DATA', '503 5.5.1 Error: need RCPT command'],
      ['MAIL FROM:<a@x.example', '501 5.5.4 Syntax: MAIL FROM:<address>'],
      ['MAIL TO:<a@x.example>', '501 5.5.4 Syntax: MAIL FROM:<address>'],
      ['MAIL FROM:<a b@x.example>', '501 5.1.7 Bad sender address syntax'],
      ['MAIL FROM:<a@x.example> FOO=1', '555 5.5.4 Unsupported option: FOO'],
      ['MAIL FROM:<a@x.example> BODY=9BIT', '501 5.5.4 Unsupported option: BODY=9BIT'],
      ['MAIL FROM:<a@x.example> SIZE=abc', '501 5.5.4 Bad message size syntax'],
      ['MAIL FROM:<a@x.example> RET=ALL', '501 5.5.4 Bad RET parameter syntax'],
      ['MAIL FROM:<a@x.example> ENVID=a+b', '501 5.5.4 Bad ENVID parameter syntax'],
      ['MAIL FROM:<jörg@x.example>', '553 5.6.7 Must declare SMTPUTF8 to send unicode address'],
      ['MAIL FROM:<a@x.example> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=QQ314159 SMTPUTF8', '250 2.1.0 Ok'],
      ['MAIL FROM:<b@x.example>', '503 5.5.1 Error: nested MAIL command'],
      ['DATA', '554 5.5.1 Error: no valid recipients'],
      ['RCPT TO:<>', '501 5.1.3 Bad recipient address syntax'],
      ['RCPT TO:<r@y.example> NOTIFY=NEVER,SUCCESS', '501 5.5.4 Error: Bad NOTIFY parameter syntax'],
      ['RCPT TO:<r@y.example> ORCPT=nosemicolon', '501 5.5.4 Error: Bad ORCPT parameter syntax'],
      ['RCPT TO:<r@y.example> XYZ=1', '555 5.5.4 Unsupported option: XYZ'],
      ['RCPT TO:<r@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;r@y.example', '250 2.1.5 Ok'],
      ['ETRN y.example', '503 5.5.1 Error: MAIL transaction in progress'],
      ['RSET extra', '501 5.5.4 Syntax: RSET'],
      ['RSET', '250 2.0.0 Ok'],
      ['ETRN', '501 5.5.4 Syntax: ETRN domain'],
      ['ETRN bad..domain!', '501 5.5.4 Error: invalid parameter syntax'],
      ['ETRN y.example', '458 4.3.0 Unable to queue messages'],
      ['NOOP', '250 2.0.0 Ok'],
      ['VRFY', '501 5.5.4 Syntax: VRFY address'],
      ['VRFY alice', '252 2.0.0 alice'],
      ['HELP', '214 2.0.0 Commands: AUTH BDAT DATA EHLO ETRN HELO HELP MAIL NOOP QUIT RCPT RSET STARTTLS VRFY'],
      ['AUTH PLAIN AGZvbwBiYXI=', '503 5.5.1 Error: authentication not enabled'],
      ['STARTTLS', '502 5.5.1 Error: command not implemented'],
      ['DATA now', '501 5.5.4 Syntax: DATA'],
      ['mail from:<lower@x.example>', '250 2.1.0 Ok'],
      ['RSET', '250 2.0.0 Ok'],
    ];
    for (const [cmd, want] of dialog) {
      const got = await c.cmd(cmd);
      if (want) assert.equal(got, want, cmd);
    }
    c.send(Buffer.from('MAIL \xff\xfe\r\n', 'latin1'));
    assert.equal(await c.reply(), '500 5.5.2 Error: bad UTF-8 syntax');
    assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
    await c.closedByServer();
    const disconnect = await srv.log.waitFor(/disconnect from/);
    // Counters in Postfix's command-table order, ok/total where some failed.
    assert.equal(disconnect, 'postfix/smtpd: disconnect from unknown[127.0.0.1] helo=0/1 ehlo=1/2 starttls=0/1 auth=0/1 mail=2/12 rcpt=1/6 data=0/3 rset=2/3 noop=1 vrfy=1/2 etrn=0/4 quit=1 help=1 unknown=0/2 commands=10/40');
  } finally {
    await srv.close();
  }
});

test('a whole transaction: what cleanup receives, log lines, disconnect counters', async () => {
  const srv = await startTestServer({ clientName: 'client.example' });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    assert.equal(await c.cmd('MAIL FROM:<s@x.example> BODY=8BITMIME RET=FULL ENVID=id1'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<a@y.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;A@y.example'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('RCPT TO:<b@y.example>'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.send('Subject: t\r\n\r\n..leading dot\r\nline\r\n.\r\n');
    assert.equal(await c.reply(), '250 2.0.0 Ok: queued as 4A00000001');
    assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
    await c.closedByServer();
    const s = srv.submitted[0]!;
    assert.equal(s.queueId, '4A00000001');
    assert.equal(s.sender, 's@x.example');
    assert.deepEqual(s.recipients, [{ address: 'a@y.example', notify: ['FAILURE', 'DELAY'], orcpt: 'rfc822;A@y.example' }, { address: 'b@y.example' }]);
    assert.equal(s.data.toString(), 'Subject: t\r\n\r\n.leading dot\r\nline\r\n');
    assert.equal(s.bodyType, '8BITMIME');
    assert.equal(s.ret, 'FULL');
    assert.equal(s.envid, 'id1');
    assert.equal(s.clientLabel, 'client.example[127.0.0.1]');
    assert.equal(s.facts.helo, 'client.example');
    assert.equal(s.facts.protocol, 'ESMTP');
    await srv.log.waitFor(/disconnect/);
    assert.deepEqual(srv.log.lines.map((l) => l.replace(/^postfix\/smtpd: /, '')), [
      'connect from client.example[127.0.0.1]',
      '4A00000001: client=client.example[127.0.0.1]',
      'disconnect from client.example[127.0.0.1] ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6',
    ]);
    assert.deepEqual(srv.checks.map((x) => x.point), ['connect', 'helo', 'mail', 'rcpt', 'rcpt', 'data', 'end_of_data']);
    assert.equal(srv.checks[4]!.facts.recipient, 'b@y.example');
    assert.equal(srv.checks[4]!.facts.recipientCount, 1);
  } finally {
    await srv.close();
  }
});

test('policy refusals are sent as given and logged as Postfix does; notes and effects are kept', async () => {
  const srv = await startTestServer({
    policy: (point, facts) => {
      if (point === 'mail' && facts.sender === 'spam@bad.example') return { reply: reply(554, '5.7.1', '<spam@bad.example>: Sender address rejected: Access denied') };
      if (point === 'rcpt' && facts.recipient === 'victim@evil.example') return { reply: reply(554, '5.7.1', '<victim@evil.example>: Relay access denied') };
      if (point === 'rcpt') return { notes: [{ action: 'hold', text: `<${facts.recipient}>: Recipient address triggers HOLD action` }], effects: { hold: 'held', prepend: ['X-Tag: 1'] } };
      return undefined;
    },
  });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    assert.equal(await c.cmd('MAIL FROM:<spam@bad.example>'), '554 5.7.1 <spam@bad.example>: Sender address rejected: Access denied');
    assert.equal(await c.cmd('MAIL FROM:<ok@x.example>'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<victim@evil.example>'), '554 5.7.1 <victim@evil.example>: Relay access denied');
    assert.equal(await c.cmd('RCPT TO:<a@y.example>'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.send('Subject: x\r\n\r\nbody\r\n.\r\n');
    assert.match(await c.reply(), /^250 2\.0\.0 Ok: queued as /);
    c.close();
    await srv.log.waitFor(/disconnect/);
    const lines = srv.log.lines.join('\n');
    assert.match(lines, /NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <spam@bad\.example>: Sender address rejected: Access denied; from=<spam@bad\.example> proto=ESMTP helo=<client\.example>/);
    assert.match(lines, /NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <victim@evil\.example>: Relay access denied; from=<ok@x\.example> to=<victim@evil\.example> proto=ESMTP helo=<client\.example>/);
    assert.match(lines, /NOQUEUE: hold: RCPT from unknown\[127\.0\.0\.1\]: <a@y\.example>: Recipient address triggers HOLD action; from=<ok@x\.example> to=<a@y\.example> proto=ESMTP helo=<client\.example>/);
    assert.match(lines, /disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1\/2 rcpt=1\/2 data=1 commands=4\/6/);
    assert.deepEqual(srv.submitted[0]!.effects, { prepend: ['X-Tag: 1'], hold: 'held' });
  } finally {
    await srv.close();
  }
});

test('a client refused at connect gets the refusal instead of 220, then 503 for all but QUIT', async () => {
  const srv = await startTestServer({ policy: (point) => (point === 'connect' ? { reply: reply(554, '5.7.1', '<unknown[127.0.0.1]>: Client host rejected: Access denied') } : undefined) });
  try {
    const c = await Client.open(srv.port);
    assert.equal(await c.reply(), '554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied');
    assert.equal(await c.cmd('EHLO x.example'), '503 5.7.0 Error: access denied for unknown[127.0.0.1]');
    assert.equal(await c.cmd('MAIL FROM:<a@x.example>'), '503 5.7.0 Error: access denied for unknown[127.0.0.1]');
    assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
    await c.closedByServer();
    await srv.log.waitFor(/NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <unknown\[127\.0\.0\.1\]>: Client host rejected: Access denied; proto=SMTP$/);
    await srv.log.waitFor(/disconnect from unknown\[127\.0\.0\.1\] ehlo=0\/1 mail=0\/1 quit=1 commands=1\/3/);
  } finally {
    await srv.close();
  }
});

test('smtpd_helo_required: MAIL before HELO is refused', async () => {
  const srv = await startTestServer({ params: { smtpd_helo_required: 'yes' } });
  try {
    const c = await Client.ready(srv.port);
    assert.equal(await c.cmd('MAIL FROM:<a@x.example>'), '503 5.5.1 Error: send HELO/EHLO first');
    assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
    assert.equal(await c.cmd('HELO x.example'), '250 mx.test');
    assert.equal(await c.cmd('MAIL FROM:<a@x.example>'), '250 2.1.0 Ok');
    c.close();
  } finally {
    await srv.close();
  }
});

test('internal failures: a throwing policy answers 451 4.3.5, a throwing cleanup 451 4.3.0; the session goes on', async () => {
  let failSubmit = true;
  const srv = await startTestServer({
    policy: (point, facts) => {
      if (point === 'rcpt' && facts.recipient === 'boom@y.example') throw new Error('table exploded');
      return undefined;
    },
    submit: (s) => {
      if (failSubmit) {
        failSubmit = false;
        throw new Error('disk on fire');
      }
      return reply(250, '2.0.0', `Ok: queued as ${s.queueId}`);
    },
  });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    assert.equal(await c.cmd('RCPT TO:<boom@y.example>'), '451 4.3.5 Server configuration problem');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.send('Subject: x\r\n\r\nbody\r\n.\r\n');
    assert.equal(await c.reply(), '451 4.3.0 Error: internal error, try again later');
    assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok', 'the session survives');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.send('Subject: x\r\n\r\nbody\r\n.\r\n');
    assert.match(await c.reply(), /^250 2\.0\.0 Ok: queued as /);
    c.close();
    await srv.log.waitFor(/error: unknown\[127\.0\.0\.1\]: internal error during RCPT restrictions: table exploded/);
    await srv.log.waitFor(/error: unknown\[127\.0\.0\.1\]: internal error during END-OF-MESSAGE: Error: disk on fire/);
  } finally {
    await srv.close();
  }
});
