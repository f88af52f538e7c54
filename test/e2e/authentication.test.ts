/**
 * End to end: SPF, DKIM, DMARC and the Authentication-Results header, with every record
 * served by the local test DNS server and mail sent by Python's smtplib from 127.0.0.1
 * (outside mynetworks here). check_spf at RCPT: pass, fail (550 5.7.23), softfail (goes on),
 * temperror (451 4.7.24, from a SERVFAIL). DMARC at the end of DATA: p=reject (550 5.7.1),
 * p=quarantine (X-Postern-Quarantine, or hold), p=none (delivered, recorded), and a
 * DKIM-signed message from a p=reject domain whose SPF fails but whose aligned signature
 * passes. One Authentication-Results header for our name; forged ones removed, others
 * kept; none for mynetworks clients.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { startPostern, baseMainCf, maildirMessages, type Postern } from '../support/server.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/ports.js';
import { sendWithSmtplib, type Outgoing } from '../support/smtplib.js';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

let dns: DnsServer;
let srv: Postern;
let mail: string;
const ports = { spf: 0, plain: 0, hold: 0, trusted: 0 };

before(async () => {
  dns = await startDnsServer({
    'pass.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    'fail.example': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
    'soft.example': { TXT: ['v=spf1 ~all'] },
    'temp.example': { servfail: true },
    'reject.example': { TXT: ['v=spf1 -all'] },
    '_dmarc.reject.example': { TXT: ['v=DMARC1; p=reject'] },
    'quar.example': { TXT: ['v=spf1 -all'] },
    '_dmarc.quar.example': { TXT: ['v=DMARC1; p=quarantine'] },
    'none.example': { TXT: ['v=spf1 -all'] },
    '_dmarc.none.example': { TXT: ['v=DMARC1; p=none'] },
    'signed.example': { TXT: ['v=spf1 -all'] },
    '_dmarc.signed.example': { TXT: ['v=DMARC1; p=reject'] },
    'sel._domainkey.signed.example': { TXT: [`v=DKIM1; k=rsa; p=${publicKey}`] },
  });
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postern-auth-'));
  mail = join(dir, 'mail');
  const svc = (port: number, opts: string[] = []): string => `127.0.0.1:${port} inet n - n - - smtpd\n${opts.map((o) => `  -o ${o}\n`).join('')}`;
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      mynetworks: '192.0.2.0/24',
      smtpd_peername_lookup: 'no',
      // mailauth's lookups must not time out on a loaded test machine (a DKIM temperror fails DMARC).
      dns_timeout: '5s',
      virtual_mailbox_domains: 'example.test',
      virtual_mailbox_maps: 'texthash:$config_directory/vmailbox',
      virtual_mailbox_base: mail,
      smtpd_sender_restrictions: 'check_spf',
    }, dns.port),
    masterCf: svc(ports.spf) + svc(ports.plain, ['smtpd_sender_restrictions=']) +
      svc(ports.hold, ['smtpd_sender_restrictions=', 'postern_dmarc_quarantine_action=hold']) +
      svc(ports.trusted, ['mynetworks=127.0.0.0/8']),
    files: { vmailbox: 'bob@example.test example.test/bob/\n' },
  });
});

after(async () => {
  await srv?.stop();
  await dns?.close();
  srv?.cleanup();
});

function message(from: string, subject: string, extra = ''): Buffer {
  return Buffer.from(`${extra}From: ${from}\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@test>\r\n\r\nbody of ${subject}\r\n`);
}

const out = (from: string, subject: string, extra = ''): Outgoing => ({ from, to: 'bob@example.test', data: message(from, subject, extra) });

async function delivered(subject: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = maildirMessages(join(mail, 'example.test', 'bob')).find((x) => x.text.includes(`Subject: ${subject}\n`));
    if (m) return m.text;
    if (Date.now() > deadline) throw new Error(`"${subject}" not delivered; log:\n${srv.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('check_spf: pass and softfail go on, fail is 550 5.7.23, temperror is 451 4.7.24', async () => {
  const r = await sendWithSmtplib(ports.spf, [out('a@pass.example', 'spf pass'), out('a@soft.example', 'spf softfail'), out('a@fail.example', 'spf fail'), out('a@temp.example', 'spf temperror')]);
  assert.deepEqual(r.slice(0, 2).map((x) => [x.stage, x.code]), [['data', 250], ['data', 250]]);
  assert.equal(r[2]!.stage, 'rcpt');
  assert.equal(r[2]!.code, 550);
  assert.match(r[2]!.text, /^5\.7\.23 <a@fail\.example>: Sender address rejected: SPF check failed \(.*127\.0\.0\.1.*\)$/);
  assert.equal(r[3]!.code, 451);
  assert.match(r[3]!.text, /^4\.7\.24 <a@temp\.example>: Sender address rejected: SPF temporary error/);
  assert.match(srv.log(), /NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.7\.23 <a@fail\.example>: Sender address rejected: SPF check failed/);
  const pass = await delivered('spf pass');
  assert.match(pass, /^Authentication-Results: mx\.test;\n\tspf=pass .*smtp\.mailfrom=a@pass\.example smtp\.helo=client\.example\.org;\n\tdkim=none \(message not signed\);\n\tdmarc=none header\.from=pass\.example;\n\tarc=none\nReceived: /m);
  const soft = await delivered('spf softfail');
  assert.match(soft, /^\tspf=softfail /m);
});

test('DMARC p=reject: 550 5.7.1 at the end of DATA, logged with the results', async () => {
  const [r] = await sendWithSmtplib(ports.plain, [out('a@reject.example', 'dmarc reject')]);
  assert.deepEqual([r!.stage, r!.code, r!.text], ['data', 550, '5.7.1 Message rejected per DMARC policy of reject.example']);
  assert.match(srv.log(), /cleanup\[\d+\]: [0-9A-F]+: info: authentication spf=fail dkim=none dmarc=fail arc=none \(dmarc=fail p=reject header\.from=reject\.example\)/);
  assert.match(srv.log(), /: milter-reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 5\.7\.1 Message rejected per DMARC policy of reject\.example; from=<a@reject\.example> to=<bob@example\.test> proto=ESMTP helo=<client\.example\.org>/);
});

test('DMARC p=quarantine: delivered with X-Postern-Quarantine, or held with postern_dmarc_quarantine_action = hold', async () => {
  const [a] = await sendWithSmtplib(ports.plain, [out('a@quar.example', 'dmarc quarantine')]);
  assert.equal(a!.code, 250);
  const text = await delivered('dmarc quarantine');
  assert.match(text, /^X-Postern-Quarantine: DMARC quar\.example$/m);
  assert.match(text, /^\tdmarc=fail /m);
  const [b] = await sendWithSmtplib(ports.hold, [out('a@quar.example', 'dmarc quarantine held')]);
  assert.equal(b!.code, 250);
  await srv.waitForLog(/: hold: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: DMARC quarantine policy of quar\.example; from=<a@quar\.example>/);
});

test('DMARC p=none: delivered, the failure recorded in Authentication-Results only', async () => {
  const [r] = await sendWithSmtplib(ports.plain, [out('a@none.example', 'dmarc none')]);
  assert.equal(r!.code, 250);
  assert.match(await delivered('dmarc none'), /^\tdmarc=fail \(p=NONE arc=none\) header\.from=none\.example header\.d=none\.example;$/m);
});

test('DKIM: an aligned signature passes DMARC p=reject although SPF fails; a changed body does not', async () => {
  const raw = message('a@signed.example', 'dkim signed');
  const signed = await dkimSign(raw, // mailauth 4.13's types name top-level fields; the signer reads signatureData.
    { signatureData: [{ signingDomain: 'signed.example', selector: 'sel', privateKey, algorithm: 'rsa-sha256' }] } as never);
  assert.deepEqual(signed.errors, []);
  const good = Buffer.concat([Buffer.from(signed.signatures), raw]);
  const bad = Buffer.from(good.toString().replace('body of dkim signed', 'body of dkim signed, changed'));
  const [g, b] = await sendWithSmtplib(ports.plain, [
    { from: 'a@signed.example', to: 'bob@example.test', data: good },
    { from: 'a@signed.example', to: 'bob@example.test', data: bad },
  ]);
  assert.equal(g!.code, 250);
  assert.deepEqual([b!.code, b!.text], [550, '5.7.1 Message rejected per DMARC policy of signed.example']);
  const text = await delivered('dkim signed');
  assert.match(text, /^\tdkim=pass header\.i=@signed\.example header\.s=sel header\.a=rsa-sha256/m);
  assert.match(text, /^\tdmarc=pass \(p=REJECT arc=none\) header\.from=signed\.example header\.d=signed\.example;$/m);
});

test('one Authentication-Results for our name: a forged one is removed, another host\'s is kept; none for mynetworks clients', async () => {
  const forged = 'Authentication-Results: mx.test; spf=pass smtp.mailfrom=a@pass.example; dkim=pass\r\nAuthentication-Results: other.example; spf=none\r\n';
  const [a, b] = await sendWithSmtplib(ports.plain, [out('a@pass.example', 'forged ar', forged)]).then(async (x) => [...x, ...(await sendWithSmtplib(ports.trusted, [out('a@fail.example', 'trusted client')]))]);
  assert.equal(a!.code, 250);
  assert.equal(b!.code, 250);
  const text = await delivered('forged ar');
  assert.equal(text.match(/^Authentication-Results: mx\.test;/gm)?.length, 1);
  assert.doesNotMatch(text, /Authentication-Results: mx\.test; spf=pass smtp/);
  assert.match(text, /^Authentication-Results: other\.example; spf=none$/m);
  assert.doesNotMatch(await delivered('trusted client'), /Authentication-Results/);
});
