/**
 * Session and listener limits over real sockets: over-long lines, recipient limit,
 * pre-greeting talk and improper pipelining, idle timeout, the error tarpit (without
 * delaying a parallel session), the hard error, junk and command limits, lost connections,
 * maxproc, bind failures and shutdown.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Client, openTransaction, startTestServer } from './test-dialog.js';
import { paramsFrom } from '../config/test-params.js';
import { bindAddresses, startSmtpListener } from '../listener/smtp-listener.js';
import type { Service } from '../config/types.js';
import { MemoryLog } from './test-dialog.js';

test('an over-long command line is refused, logged like Postfix, and the session stays in step', async () => {
  const srv = await startTestServer();
  try {
    const c = await Client.ready(srv.port, 'client.example');
    c.send(`MAIL FROM:<${'a'.repeat(3000)}@x.example>\r\nNOOP\r\n`);
    assert.deepEqual(await c.replies(2), ['500 5.5.0 Error: line too long', '250 2.0.0 Ok']);
    // No line end yet: answered as soon as it passes the limit, the rest discarded up to the line end.
    c.send(`X${'b'.repeat(5000)}`);
    assert.equal(await c.reply(), '500 5.5.0 Error: line too long');
    c.send(`${'c'.repeat(5000)}\r\nNOOP\r\n`);
    assert.equal(await c.reply(), '250 2.0.0 Ok');
    await c.silentFor(50);
    c.close();
    const line = await srv.log.waitFor(/request longer than/);
    assert.equal(line, 'postfix/smtpd: warning: unknown[127.0.0.1]: request longer than 2048: MAIL FROM:<aaaaaaaaaaaaaaaaaaa...');
  } finally {
    await srv.close();
  }
});

test('smtpd_recipient_limit: 452 4.5.3 after the limit, the accepted ones still get the message', async () => {
  const srv = await startTestServer({ params: { smtpd_recipient_limit: '2' } });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    await openTransaction(c, 's@x.example', ['a@y.example', 'b@y.example']);
    assert.equal(await c.cmd('RCPT TO:<c@y.example>'), '452 4.5.3 Error: too many recipients');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.send('Subject: x\r\n\r\n.\r\n');
    assert.match(await c.reply(), /^250 /);
    c.close();
    assert.deepEqual(srv.submitted[0]!.recipients.map((r) => r.address), ['a@y.example', 'b@y.example']);
  } finally {
    await srv.close();
  }
});

test('talk before the greeting and pipelining without PIPELINING are noted for the policy and logged', async () => {
  const srv = await startTestServer({ params: { postern_smtpd_greet_pause: '200ms' } });
  try {
    const early = await Client.open(srv.port);
    early.send('EHLO early.example\r\n');
    assert.equal(await early.reply(), '220 mx.test ESMTP Postern');
    assert.match(await early.reply(), /^250-mx\.test/);
    assert.equal(await early.cmd('MAIL FROM:<a@x.example>'), '250 2.1.0 Ok');
    early.close();
    await srv.log.waitFor(/improper command pipelining after CONNECT from unknown\[127\.0\.0\.1\]: EHLO early\.example\\r\\n$/);
    assert.equal(srv.checks.find((x) => x.point === 'mail')!.facts.unauthPipelining, true);

    const helo = await Client.ready(srv.port);
    helo.send('HELO old.example\r\nMAIL FROM:<b@x.example>\r\n');
    assert.deepEqual(await helo.replies(2), ['250 mx.test', '250 2.1.0 Ok']);
    helo.close();
    await srv.log.waitFor(/improper command pipelining after HELO from unknown\[127\.0\.0\.1\]: MAIL FROM:<b@x\.example>\\r\\n$/);

    // With EHLO, MAIL/RCPT may be pipelined, but nothing may follow DATA before the 354.
    const n = srv.checks.length;
    const esmtp = await Client.ready(srv.port, 'good.example');
    esmtp.send('MAIL FROM:<c@x.example>\r\nRCPT TO:<d@y.example>\r\nDATA\r\n');
    assert.deepEqual(await esmtp.replies(3), ['250 2.1.0 Ok', '250 2.1.5 Ok', '354 End data with <CR><LF>.<CR><LF>']);
    esmtp.send('Subject: ok\r\n\r\n.\r\nRSET\r\nMAIL FROM:<e@x.example>\r\nRCPT TO:<d@y.example>\r\nDATA\r\nSubject: early\r\n');
    assert.deepEqual(await esmtp.replies(5), ['250 2.0.0 Ok: queued as 4A00000001', '250 2.0.0 Ok', '250 2.1.0 Ok', '250 2.1.5 Ok', '354 End data with <CR><LF>.<CR><LF>']);
    esmtp.close();
    const checks = srv.checks.slice(n).filter((x) => x.point === 'data').map((x) => x.facts.unauthPipelining);
    assert.deepEqual(checks, [false, true]);
    await srv.log.waitFor(/improper command pipelining after DATA from unknown\[127\.0\.0\.1\]: Subject: early\\r\\n$/);
  } finally {
    await srv.close();
  }
});

test('idle timeout: 421 4.4.2 and "timeout after"; inside DATA the byte count is logged', async () => {
  const srv = await startTestServer({ params: { smtpd_timeout: '1s' } });
  try {
    const idle = await Client.ready(srv.port, 'client.example');
    const t0 = Date.now();
    assert.equal(await idle.reply(3000), '421 4.4.2 mx.test Error: timeout exceeded');
    assert.ok(Date.now() - t0 >= 900, 'not before smtpd_timeout');
    await idle.closedByServer();
    await srv.log.waitFor(/timeout after EHLO from unknown\[127\.0\.0\.1\]$/);

    const slow = await Client.ready(srv.port, 'client.example');
    await openTransaction(slow, 's@x.example', ['a@y.example']);
    assert.equal(await slow.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    slow.send('Subject: half\r\n');
    assert.equal(await slow.reply(3000), '421 4.4.2 mx.test Error: timeout exceeded');
    await srv.log.waitFor(/timeout after DATA \(15 bytes\) from unknown\[127\.0\.0\.1\]$/);
    await srv.log.waitFor(/disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 commands=4$/);
  } finally {
    await srv.close();
  }
});

test('lost connection is logged with the last command, with bytes inside DATA, and not after a finished message', async () => {
  const srv = await startTestServer();
  try {
    const a = await Client.ready(srv.port, 'client.example');
    await openTransaction(a, 's@x.example', ['a@y.example']);
    a.close();
    await srv.log.waitFor(/lost connection after RCPT from unknown\[127\.0\.0\.1\]$/);
    const b = await Client.ready(srv.port, 'client.example');
    await openTransaction(b, 's@x.example', ['a@y.example']);
    assert.equal(await b.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    b.send('0123456789');
    await new Promise((r) => setTimeout(r, 50));
    b.close();
    await srv.log.waitFor(/lost connection after DATA \(10 bytes\) from unknown\[127\.0\.0\.1\]$/);
    const c = await Client.ready(srv.port, 'client.example');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.send('Subject: x\r\n\r\n.\r\n');
    await c.reply();
    c.close();
    await srv.log.waitFor(/disconnect from .* data=1 commands=4$/);
    assert.equal(srv.log.lines.filter((l) => l.includes('lost connection')).length, 2);
  } finally {
    await srv.close();
  }
});

test('tarpit: replies slow down after the soft limit without delaying another session; 421 at the hard limit', async () => {
  const srv = await startTestServer({ params: { smtpd_soft_error_limit: '2', smtpd_hard_error_limit: '4', smtpd_error_sleep_time: '1s' } });
  try {
    const bad = await Client.ready(srv.port, 'bad.example');
    const t0 = Date.now();
    const times: number[] = [];
    const badRun = (async () => {
      const r: string[] = [];
      for (let i = 0; i < 4; i++) {
        r.push(await bad.cmd('BOGUS', 5000));
        times.push(Date.now() - t0);
      }
      r.push(await bad.reply(5000));
      return r;
    })();
    // A parallel client is served at full speed while the bad one sleeps.
    const good = await Client.ready(srv.port, 'good.example');
    const g0 = Date.now();
    await openTransaction(good, 's@x.example', ['a@y.example']);
    assert.equal(await good.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    good.send('Subject: x\r\n\r\n.\r\n');
    assert.match(await good.reply(), /^250 /);
    assert.ok(Date.now() - g0 < 500, `good client took ${Date.now() - g0} ms`);
    good.close();
    const replies = await badRun;
    assert.deepEqual(replies, [...Array(4).fill('502 5.5.2 Error: command not recognized'), '421 4.7.0 mx.test Error: too many errors']);
    // Errors 1 and 2 are free; the third and fourth replies each wait 1 s.
    assert.ok(times[1]! < 500, `second reply at ${times[1]} ms`);
    assert.ok(times[2]! >= 900 && times[3]! >= 1900, `tarpit times ${times.join(',')}`);
    await bad.closedByServer();
    await srv.log.waitFor(/too many errors after UNKNOWN from unknown\[127\.0\.0\.1\]$/);
    await srv.log.waitFor(/disconnect from unknown\[127\.0\.0\.1\] ehlo=1 unknown=0\/4 commands=1\/5$/);
  } finally {
    await srv.close();
  }
});

test('a received message forgives earlier errors; junk commands beyond the limit count as errors', async () => {
  const srv = await startTestServer({ params: { smtpd_hard_error_limit: '3', smtpd_junk_command_limit: '2', smtpd_error_sleep_time: '0' } });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    assert.equal(await c.cmd('BOGUS'), '502 5.5.2 Error: command not recognized');
    assert.equal(await c.cmd('BOGUS'), '502 5.5.2 Error: command not recognized');
    await openTransaction(c, 's@x.example', ['a@y.example']);
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.send('Subject: x\r\n\r\n.\r\n');
    assert.match(await c.reply(), /^250 /);
    assert.equal(await c.cmd('BOGUS'), '502 5.5.2 Error: command not recognized', 'count restarted: not the third error');
    assert.equal(await c.cmd('BOGUS'), '502 5.5.2 Error: command not recognized');
    // Junk: NOOP #1..#3 are free (Postfix compares before incrementing), #4 is the third error.
    for (let i = 0; i < 3; i++) assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
    c.send('NOOP\r\n');
    assert.deepEqual(await c.replies(2), ['250 2.0.0 Ok', '421 4.7.0 mx.test Error: too many errors']);
    await c.closedByServer();
  } finally {
    await srv.close();
  }
});

test('postern_smtpd_command_limit closes a session that never stops talking', async () => {
  const srv = await startTestServer({ params: { postern_smtpd_command_limit: '10', smtpd_junk_command_limit: '1000' } });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    c.send('NOOP\r\n'.repeat(12));
    const r = await c.replies(10);
    assert.deepEqual(r.slice(0, 9), Array(9).fill('250 2.0.0 Ok'));
    assert.equal(r[9], '421 4.7.0 mx.test Error: too many commands');
    await c.closedByServer();
    await srv.log.waitFor(/too many commands after NOOP from unknown\[127\.0\.0\.1\]$/);
  } finally {
    await srv.close();
  }
});

test('a flood of pipelined commands from a client that does not read yet gets every reply, in order, once it reads', async () => {
  const srv = await startTestServer({ params: { smtpd_junk_command_limit: '1000000', postern_smtpd_command_limit: '1000000' } });
  try {
    const c = await Client.ready(srv.port, 'client.example');
    c.socket.pause(); // read nothing while the server answers
    const n = 60_000;
    c.send('NOOP\r\n'.repeat(n - 1) + 'QUIT\r\n');
    await new Promise((r) => setTimeout(r, 300));
    c.socket.resume();
    const replies = await c.replies(n, 10_000);
    assert.equal(replies.filter((r) => r === '250 2.0.0 Ok').length, n - 1);
    assert.equal(replies[n - 1], '221 2.0.0 Bye');
    await c.closedByServer();
  } finally {
    await srv.close();
  }
});

test('maxproc: the extra client gets 421 4.3.2 and is closed; the others keep working', async () => {
  const srv = await startTestServer({ maxproc: 2 });
  try {
    const a = await Client.ready(srv.port, 'a.example');
    const b = await Client.ready(srv.port, 'b.example');
    const c = await Client.open(srv.port);
    assert.equal(await c.reply(), '421 4.3.2 Service currently unavailable');
    await c.closedByServer();
    assert.equal(srv.listener.sessionCount(), 2);
    assert.equal(await a.cmd('NOOP'), '250 2.0.0 Ok');
    await srv.log.waitFor(/warning: service "127\.0\.0\.1:0" has reached its session limit "2": refusing \[127\.0\.0\.1\]/);
    a.close();
    for (let i = 0; i < 100 && srv.listener.sessionCount() > 1; i++) await new Promise((r) => setTimeout(r, 10));
    const d = await Client.ready(srv.port, 'd.example');
    assert.equal(await d.cmd('QUIT'), '221 2.0.0 Bye');
    b.close();
  } finally {
    await srv.close();
  }
});

test('listener: bind addresses from the service name and inet_interfaces; a bind failure names the address', async () => {
  const svc = (name: string, p: Record<string, string> = {}): Service => ({
    name, type: 'inet', private: false, unprivileged: false, chroot: false, wakeup: '-', maxproc: 10, command: 'smtpd', args: [],
    params: paramsFrom({ myhostname: 'mx.test', ...p }), file: '<test>', line: 1,
  });
  assert.deepEqual(bindAddresses(svc('127.0.0.1:2525')), [{ host: '127.0.0.1', port: 2525 }]);
  assert.deepEqual(bindAddresses(svc('[::1]:2525')), [{ host: '::1', port: 2525 }]);
  assert.deepEqual(bindAddresses(svc('smtp', { inet_interfaces: 'loopback-only', inet_protocols: 'all' })), [{ host: '127.0.0.1', port: 25 }, { host: '::1', port: 25 }]);
  assert.deepEqual(bindAddresses(svc('submission', { inet_interfaces: 'all', inet_protocols: 'ipv4' })), [{ host: '0.0.0.0', port: 587 }]);
  assert.deepEqual(bindAddresses(svc('2526', { inet_interfaces: '192.0.2.1, [2001:db8::1]' })), [{ host: '192.0.2.1', port: 2526 }, { host: '2001:db8::1', port: 2526 }]);

  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    const deps = { log: new MemoryLog(), policy: { check: async () => ({ notes: [], effects: {} }) }, cleanup: { newQueueId: () => 'X', submit: async () => { throw new Error('unused'); } },
      clientInfo: async (addr: string, p: number) => ({ addr, port: p, name: 'unknown', reverseName: 'unknown', nameStatus: 'unknown' as const }) };
    await assert.rejects(startSmtpListener(svc(`127.0.0.1:${port}`), deps), { message: `cannot listen on 127.0.0.1:${port}: EADDRINUSE` });
  } finally {
    busy.close();
  }
});

test('close(): stops accepting; sessions still open after the grace period get 421 and are closed', async () => {
  const srv = await startTestServer();
  const c = await Client.ready(srv.port, 'client.example');
  const t0 = Date.now();
  await srv.listener.close(300);
  assert.ok(Date.now() - t0 >= 250);
  assert.equal(await c.reply(), '421 4.3.2 Service shutting down');
  await c.closedByServer();
  await assert.rejects(Client.open(srv.port));
});
