import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicyEngine } from './engine.js';
import { paramsFrom } from '../config/test-params.js';
import { TableRegistry } from '../tables/open.js';
import { createResolver } from '../resolve/resolver.js';
import { ConfigError } from '../config/types.js';
import type { SessionFacts } from './types.js';
import type { Dns } from '../dns/types.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-policy-'));
writeFileSync(join(dir, 'sender_access'), 'friend.example OK\nspammer@bad.example REJECT no thanks\nwarn.example WARN watch this\nhold.example HOLD\nclassy.example my_class\nnnn.example 421 4.7.0 come back later\n');
writeFileSync(join(dir, 'vmailbox'), 'alice@example.test example.test/alice/\n');
const noDns: Dns = { ptr: async () => ({ kind: 'nxdomain' }), a: async () => ({ kind: 'nxdomain' }), aaaa: async () => ({ kind: 'nxdomain' }), mx: async () => ({ kind: 'nxdomain' }), txt: async () => ({ kind: 'nxdomain' }) };

function engine(values: Record<string, string>) {
  const params = paramsFrom({
    myhostname: 'mx.test', mydomain: 'test', mydestination: 'mx.test', mynetworks: '192.0.2.0/24', alias_maps: '', local_recipient_maps: '',
    virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`, config_directory: dir, ...values,
  });
  const tables = new TableRegistry({ baseDir: dir });
  return createPolicyEngine(params, { tables, resolver: createResolver(params, { tables }), dns: noDns });
}

function facts(f: Partial<SessionFacts> & { addr?: string }): SessionFacts {
  return {
    client: { addr: f.addr ?? '198.51.100.7', port: 1, name: 'unknown', reverseName: 'unknown', nameStatus: 'unknown' },
    serviceName: 'smtp', params: paramsFrom({}), protocol: 'ESMTP', tls: false, recipientCount: 0, unauthPipelining: false, helo: 'client.example', sender: 's@x.example', ...f,
  };
}

test('relay control: outside clients may only reach our domains; mynetworks may relay', async () => {
  const e = engine({ smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination' });
  assert.equal((await e.check('rcpt', facts({ recipient: 'x@elsewhere.example' }))).reply?.lines[0], '<x@elsewhere.example>: Relay access denied');
  assert.equal((await e.check('rcpt', facts({ recipient: 'x@elsewhere.example' }))).reply?.code, 554);
  assert.equal((await e.check('rcpt', facts({ recipient: 'alice@example.test' }))).reply, undefined);
  assert.equal((await e.check('rcpt', facts({ addr: '192.0.2.9', recipient: 'x@elsewhere.example' }))).reply, undefined);
  // Unknown users are refused even for mynetworks (smtpd_reject_unlisted_recipient).
  assert.equal((await e.check('rcpt', facts({ addr: '192.0.2.9', recipient: 'bob@example.test' }))).reply?.code, 550);
});

test('default relay restrictions defer instead of accepting', async () => {
  const r = await engine({}).check('rcpt', facts({ recipient: 'x@elsewhere.example' }));
  assert.equal(r.reply?.code, 450);
  assert.equal(r.reply?.enhanced, '4.7.1');
});

test('smtpd_delay_reject: client/helo/sender restrictions run at RCPT, or at their own command when "no"', async () => {
  const delayed = engine({ smtpd_helo_restrictions: 'reject_non_fqdn_helo_hostname' });
  assert.equal((await delayed.check('helo', facts({ helo: 'bare' }))).reply, undefined);
  const atRcpt = await delayed.check('rcpt', facts({ helo: 'bare', recipient: 'alice@example.test' }));
  assert.equal(atRcpt.reply?.code, 504);
  assert.equal(atRcpt.reply?.lines[0], '<bare>: Helo command rejected: need fully-qualified hostname');
  const immediate = engine({ smtpd_delay_reject: 'no', smtpd_helo_restrictions: 'reject_invalid_hostname' });
  assert.equal((await immediate.check('helo', facts({ helo: 'bad_host!' }))).reply?.lines[0], '<bad_host!>: Helo command rejected: Invalid name');
});

test('access table actions: OK, REJECT text, NNN text, WARN, HOLD, restriction classes', async () => {
  const e = engine({
    smtpd_restriction_classes: 'my_class', my_class: 'reject',
    smtpd_sender_restrictions: `check_sender_access hash:${join(dir, 'sender_access')}, reject_non_fqdn_sender`,
  });
  const r1 = await e.check('rcpt', facts({ sender: 'spammer@bad.example', recipient: 'alice@example.test' }));
  assert.equal(r1.reply?.code, 554);
  assert.equal(r1.reply?.lines[0], '<spammer@bad.example>: Sender address rejected: no thanks');
  assert.equal((await e.check('rcpt', facts({ sender: 'x@mail.friend.example', recipient: 'alice@example.test' }))).reply, undefined);
  const r3 = await e.check('rcpt', facts({ sender: 'a@nnn.example', recipient: 'alice@example.test' }));
  assert.deepEqual([r3.reply?.code, r3.reply?.enhanced], [421, '4.7.0']);
  const r4 = await e.check('rcpt', facts({ sender: 'a@warn.example', recipient: 'alice@example.test' }));
  assert.equal(r4.reply, undefined);
  assert.deepEqual(r4.notes.map((n) => n.action), ['warn']);
  const r5 = await e.check('rcpt', facts({ sender: 'a@hold.example', recipient: 'alice@example.test' }));
  assert.ok(r5.effects.hold);
  assert.equal((await e.check('rcpt', facts({ sender: 'a@classy.example', recipient: 'alice@example.test' }))).reply?.code, 554);
});

test('warn_if_reject only logs; defer_if_permit and defer_if_reject change the outcome', async () => {
  const w2 = await engine({ smtpd_sender_restrictions: 'warn_if_reject reject_non_fqdn_sender' }).check('rcpt', facts({ recipient: 'alice@example.test', sender: 'nofqdn' }));
  assert.equal(w2.reply, undefined);
  assert.equal(w2.notes[0]?.action, 'reject_warning');
  assert.match(w2.notes[0]!.text, /^504 5\.5\.2 <nofqdn>: Sender address rejected: need fully-qualified address$/);
  const dip = await engine({ smtpd_recipient_restrictions: 'defer_if_permit, permit' }).check('rcpt', facts({ recipient: 'alice@example.test' }));
  assert.equal(dip.reply?.code, 450);
  const dir2 = await engine({ smtpd_recipient_restrictions: 'defer_if_reject, reject' }).check('rcpt', facts({ recipient: 'alice@example.test' }));
  assert.equal(dir2.reply?.code, 450);
});

test('unknown restrictions are configuration errors; not-yet-supported ones are skipped', () => {
  assert.throws(() => engine({ smtpd_recipient_restrictions: 'permit_mynetworks, reject_everything' }), (e: unknown) => e instanceof ConfigError && /unknown restriction "reject_everything"/.test(e.message));
  assert.doesNotThrow(() => engine({ smtpd_client_restrictions: 'reject_rbl_client zen.spamhaus.org' }));
  assert.throws(() => engine({ smtpd_client_restrictions: 'check_client_access' }), /needs an argument/);
});

test('routing tricks are never final for an outside client', async () => {
  const e = engine({ smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination' });
  for (const t of ['v%evil.example@mx.test', 'evil.example!v@example.test', '"v@evil.example"@mx.test', '@mx.test:v@evil.example', 'v@[127.0.0.1]', 'v@mx.test.evil.example', 'V@EVIL.EXAMPLE.']) {
    const r = await e.check('rcpt', facts({ recipient: t }));
    assert.ok(r.reply && r.reply.code >= 400, `${t} accepted`);
  }
});
