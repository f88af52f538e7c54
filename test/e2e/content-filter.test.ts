/**
 * End to end, seed 004's amavis layout: content_filter = smtp-amavis:[127.0.0.1]:PORT hands
 * every accepted message to an SMTP content filter through the outbound SMTP client (a
 * master.cf "smtp-amavis unix … smtp" service with seed 004's -o options); the filter —
 * a small SMTP server written here — adds a header and re-injects the message on a second
 * listener with seed 004's overrides (content_filter=, receive_override_options=…,
 * smtpd_recipient_restrictions=permit_mynetworks,reject, mynetworks=127.0.0.0/8), which
 * delivers it once. A FILTER action in header_checks overrides the listener's filter per
 * message. With the filter down the message stays in the queue (deferred) and is delivered
 * after the filter is back and the queue is flushed: nothing is lost.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { startPostern, baseMainCf, maildirMessages, run, BIN, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { sendWithSmtplib } from '../support/smtplib.js';

interface Filter {
  readonly port: number;
  readonly seen: string[];
  close(): Promise<void>;
}

/** A content filter: receives by SMTP, adds "X-Test-Filter: NAME", re-injects on `reinject`, then answers 250. */
async function startFilter(port: number, name: string, reinject: number): Promise<Filter> {
  const seen: string[] = [];
  const conns = new Set<Socket>();
  const server: Server = createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    let inData = false;
    let from = '';
    const to: string[] = [];
    sock.write('220 filter.test ESMTP test filter\r\n');
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      void (async () => {
        for (;;) {
          if (inData) {
            const end = buf.indexOf('\r\n.\r\n');
            if (end < 0) return;
            const body = buf.slice(0, end + 2);
            buf = buf.slice(end + 5);
            inData = false;
            seen.push(body);
            const c = await SmtpDialog.connect(reinject);
            await c.reply();
            await c.cmd('EHLO filter.test');
            await c.cmd(`MAIL FROM:<${from}>`);
            for (const r of to) await c.cmd(`RCPT TO:<${r}>`);
            await c.cmd('DATA');
            c.sendRaw(`X-Test-Filter: ${name}\r\n${body}.\r\n`);
            const r = await c.reply();
            await c.cmd('QUIT');
            c.close();
            sock.write(r.code === 250 ? `250 2.0.0 Ok, id=${name}, ${r.raw.slice(4)}\r\n` : `451 4.5.0 re-injection failed: ${r.raw}\r\n`);
            from = '';
            to.length = 0;
            continue;
          }
          const nl = buf.indexOf('\r\n');
          if (nl < 0) return;
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          const verb = line.slice(0, 4).toUpperCase();
          if (verb === 'EHLO' || verb === 'HELO') sock.write('250-filter.test\r\n250 PIPELINING\r\n');
          else if (verb === 'MAIL') {
            from = /<([^>]*)>/.exec(line)?.[1] ?? '';
            sock.write('250 2.1.0 Ok\r\n');
          } else if (verb === 'RCPT') {
            to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
            sock.write('250 2.1.5 Ok\r\n');
          } else if (verb === 'DATA') {
            inData = true;
            sock.write('354 go ahead\r\n');
          } else if (verb === 'QUIT') {
            sock.end('221 2.0.0 Bye\r\n');
            return;
          } else sock.write('250 2.0.0 Ok\r\n');
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    port, seen,
    close: () => new Promise<void>((r) => {
      for (const c of conns) c.destroy();
      server.close(() => r());
    }),
  };
}

let srv: Postern;
let mail: string;
let filterA: Filter | undefined;
let filterB: Filter | undefined;
const ports = { mx: 0, reinject: 0, filterA: 0, filterB: 0 };

before(async () => {
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-filter-'));
  mail = join(dir, 'mail');
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      mynetworks: '192.0.2.0/24',
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'texthash:$config_directory/vmailbox', virtual_mailbox_base: mail,
      content_filter: `smtp-amavis:[127.0.0.1]:${ports.filterA}`,
      header_checks: 'regexp:$config_directory/header_checks',
      minimal_backoff_time: '300s',
    }),
    // seed 004's master.cf entries, ports changed to the test's own.
    masterCf: [
      `127.0.0.1:${ports.mx} inet n - n - - smtpd`,
      'smtp-amavis unix - - n - 2 smtp',
      '  -o smtp_data_done_timeout=1200',
      '  -o smtp_send_xforward_command=yes',
      '  -o disable_dns_lookups=yes',
      `127.0.0.1:${ports.reinject} inet n - n - - smtpd`,
      '  -o content_filter=',
      '  -o local_recipient_maps=',
      '  -o relay_recipient_maps=',
      '  -o smtpd_restriction_classes=',
      '  -o smtpd_client_restrictions=',
      '  -o smtpd_helo_restrictions=',
      '  -o smtpd_sender_restrictions=',
      '  -o smtpd_recipient_restrictions=permit_mynetworks,reject',
      '  -o mynetworks=127.0.0.0/8',
      '  -o strict_rfc821_envelopes=yes',
      '  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks',
      '',
    ].join('\n'),
    files: {
      vmailbox: 'bob@example.test example.test/bob/\ncarol@example.test example.test/carol/\n',
      header_checks: `/^Subject: other filter/ FILTER smtp-amavis:[127.0.0.1]:${ports.filterB}\n`,
    },
  });
});

after(async () => {
  await srv?.stop();
  await filterA?.close();
  await filterB?.close();
  srv?.cleanup();
});

const message = (subject: string): Buffer => Buffer.from(`From: a@example.org\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\nbody of ${subject}\r\n`);

async function delivered(subject: string): Promise<{ text: string }[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = maildirMessages(join(mail, 'example.test', 'bob')).filter((x) => x.text.includes(`Subject: ${subject}\n`));
    if (m.length > 0) {
      await new Promise((r) => setTimeout(r, 300)); // a second copy would arrive now
      return maildirMessages(join(mail, 'example.test', 'bob')).filter((x) => x.text.includes(`Subject: ${subject}\n`));
    }
    if (Date.now() > deadline) throw new Error(`"${subject}" not delivered; log:\n${srv.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the message goes through the filter and is re-injected and delivered once', async () => {
  filterA = await startFilter(ports.filterA, 'A', ports.reinject);
  const [r] = await sendWithSmtplib(ports.mx, [{ from: 'a@example.org', to: 'bob@example.test', data: message('filtered once') }]);
  assert.equal(r!.code, 250);
  const copies = await delivered('filtered once');
  assert.equal(copies.length, 1);
  assert.match(copies[0]!.text, /^X-Test-Filter: A$/m);
  assert.equal(filterA.seen.filter((b) => b.includes('Subject: filtered once')).length, 1);
  const id = /queued as ([0-9A-F]+)/.exec(r!.text)![1]!;
  assert.match(srv.log(), new RegExp(`postfix/smtp\\[\\d+\\]: ${id}: to=<bob@example\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${ports.filterA}, .*status=sent \\(250 2\\.0\\.0 Ok, id=A`), srv.log());
});

test('FILTER in header_checks overrides content_filter for that message', async () => {
  filterB = await startFilter(ports.filterB, 'B', ports.reinject);
  const [r] = await sendWithSmtplib(ports.mx, [{ from: 'a@example.org', to: 'bob@example.test', data: message('other filter') }]);
  assert.equal(r!.code, 250);
  const [copy] = await delivered('other filter');
  assert.match(copy!.text, /^X-Test-Filter: B$/m);
  assert.doesNotMatch(copy!.text, /X-Test-Filter: A/);
  assert.match(srv.log(), /: filter: header Subject: other filter from .*: smtp-amavis:\[127\.0\.0\.1\]:\d+$/m);
});

test('the filter down: the message waits in the queue (deferred), then is delivered when the filter is back', async () => {
  await filterA!.close();
  filterA = undefined;
  const [r] = await sendWithSmtplib(ports.mx, [{ from: 'a@example.org', to: 'bob@example.test', data: message('filter was down') }]);
  assert.equal(r!.code, 250);
  const id = /queued as ([0-9A-F]+)/.exec(r!.text)![1]!;
  await srv.waitForLog(new RegExp(`${id}: to=<bob@example\\.test>, relay=none, .*status=deferred`));
  const q = await run(process.execPath, [BIN, '-c', srv.configDir, 'queue']);
  assert.ok(q.stdout.includes(id), q.stdout);
  filterA = await startFilter(ports.filterA, 'A', ports.reinject);
  const f = await run(process.execPath, [BIN, '-c', srv.configDir, 'queue', 'flush']);
  assert.equal(f.code, 0, f.stderr);
  const copies = await delivered('filter was down');
  assert.equal(copies.length, 1);
  assert.match(copies[0]!.text, /^X-Test-Filter: A$/m);
});
