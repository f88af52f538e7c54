/**
 * The built-in greylisting against the real postgrey (Debian's, the one seed 004 runs): the
 * same greylist cycle gives the same outcomes — new triplet, early retry, retry after the
 * delay from another address of the same /24 with a VERP-numbered sender, another network,
 * auto-whitelisting after one pass. Postern is driven over SMTP (check_greylist); postgrey
 * is asked with the Postfix policy delegation protocol, exactly what Postfix sends it.
 * Postern driving postgrey itself through check_policy_service is test/e2e/policy-service.test.ts.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { startPostern, baseMainCf, smtpService, type Postern } from '../support/server.js';
import { freePort } from '../support/ports.js';
import { SmtpDialog } from '../support/smtp-client.js';
import { program } from '../support/packages.js';

let srv: Postern;
let port: number;
let pgPort: number;
let pg: ChildProcess;
let pgDir: string;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-pgcmp-'));
  port = await freePort();
  pgPort = await freePort();
  pgDir = mkdtempSync(join(tmpdir(), 'postgrey-'));
  chmodSync(pgDir, 0o777); // postgrey drops to its own user when started as root
  writeFileSync(join(pgDir, 'empty'), '');
  pg = spawn(program('postgrey'), [`--inet=127.0.0.1:${pgPort}`, `--dbdir=${pgDir}`, '--delay=2', '--auto-whitelist-clients=1',
    `--whitelist-clients=${join(pgDir, 'empty')}`, `--whitelist-recipients=${join(pgDir, 'empty')}`], { stdio: 'ignore' });
  srv = await startPostern({
    dir,
    mainCf: baseMainCf(dir, {
      mynetworks: '127.0.0.1/32',
      virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: 'inline:{ alice@example.test=example.test/alice/, bob@example.test=example.test/bob/ }',
      virtual_mailbox_base: join(dir, 'mail'),
      smtpd_recipient_restrictions: 'permit_mynetworks, reject_unauth_destination, check_greylist',
      postern_greylist_delay: '2s', postern_greylist_auto_whitelist_clients: '1',
    }),
    masterCf: smtpService(port),
  });
  const deadline = Date.now() + 10_000;
  while (!(await new Promise<boolean>((r) => connect(pgPort, '127.0.0.1').once('connect', function (this: import('node:net').Socket) { this.destroy(); r(true); }).once('error', () => r(false))))) {
    if (Date.now() > deadline) throw new Error('postgrey did not start');
    await sleep(100);
  }
});

after(async () => {
  await srv?.stop();
  srv?.cleanup();
  if (pg && pg.exitCode === null) {
    await new Promise<void>((r) => {
      pg.once('exit', () => r());
      pg.kill('SIGTERM');
    });
  }
  rmSync(pgDir, { recursive: true, force: true });
});

/** One policy request as Postfix's check_policy_service sends it; 'defer' or 'pass'. */
function askPostgrey(client: string, sender: string, recipient: string): Promise<'defer' | 'pass'> {
  return new Promise((resolve, reject) => {
    const s = connect(pgPort, '127.0.0.1');
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.endsWith('\n\n')) {
        s.destroy();
        resolve(/^action=DEFER_IF_PERMIT /.test(buf) ? 'defer' : 'pass');
      }
    });
    s.on('error', reject);
    s.write([`request=smtpd_access_policy`, 'protocol_state=RCPT', 'protocol_name=ESMTP', `client_address=${client}`, 'client_name=unknown',
      'reverse_client_name=unknown', 'helo_name=sender.test', `sender=${sender}`, `recipient=${recipient}`, 'recipient_count=0', 'etrn_domain=', ''].join('\n') + '\n');
  });
}

async function askPostern(client: string, sender: string, recipient: string): Promise<'defer' | 'pass'> {
  const c = await SmtpDialog.connect(port, '127.0.0.1', client);
  await c.reply();
  await c.cmd('EHLO sender.test');
  await c.cmd(`MAIL FROM:<${sender}>`);
  const r = await c.cmd(`RCPT TO:<${recipient}>`);
  c.close();
  if (r.code === 250) return 'pass';
  assert.match(r.raw, /^450 4\.2\.0 <[^>]+>: Recipient address rejected: Greylisted, try again in \d+ seconds$/);
  return 'defer';
}

test('the same greylist cycle gives the same outcomes in Postern and in postgrey', async () => {
  const steps: [string, string, string, string, number][] = [
    // [what, client, sender, recipient, wait before (ms)]
    ['new triplet', '127.0.60.1', 'news-1001@lists.example', 'alice@example.test', 0],
    ['early retry', '127.0.60.1', 'news-1001@lists.example', 'alice@example.test', 300],
    ['retry after the delay, pool neighbour, next VERP number', '127.0.60.2', 'news-1002@lists.example', 'alice@example.test', 2200],
    ['another network', '127.0.61.1', 'news-1003@lists.example', 'alice@example.test', 0],
    ['auto-whitelisted after one pass', '127.0.60.2', 'someone@else.example', 'bob@example.test', 0],
    ['its neighbour is not', '127.0.60.1', 'someone@else.example', 'bob@example.test', 0],
  ];
  const expected = ['defer', 'defer', 'pass', 'defer', 'pass', 'defer'];
  const ours: string[] = [];
  const theirs: string[] = [];
  for (const [, client, sender, rcpt, wait] of steps) {
    if (wait) await sleep(wait);
    ours.push(await askPostern(client, sender, rcpt));
    theirs.push(await askPostgrey(client, sender, rcpt));
  }
  const show = (xs: string[]): string => steps.map((s, i) => `${s[0]}: ${xs[i]}`).join('\n');
  assert.deepEqual(theirs, expected, `postgrey:\n${show(theirs)}`);
  assert.deepEqual(ours, theirs, `Postern:\n${show(ours)}`);
});
