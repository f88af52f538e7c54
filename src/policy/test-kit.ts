/**
 * Helpers for the policy unit tests only (not used by the server): a config directory in
 * the system temp dir, an engine built from a plain parameter object with the real table
 * registry and resolver, and SessionFacts for an outside client.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicyEngine } from './engine.js';
import { paramsFrom } from '../config/test-params.js';
import { TableRegistry } from '../tables/open.js';
import { createResolver } from '../resolve/resolver.js';
import type { AddressResolver } from '../resolve/types.js';
import type { ClientInfo, PolicyEngine, SessionFacts } from './types.js';
import type { Dns } from '../dns/types.js';

export const dir = mkdtempSync(join(tmpdir(), 'postern-policy-'));

export function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

file('vmailbox', 'alice@example.test example.test/alice/\nbob@example.test example.test/bob/\n');
file('aliases', 'root: alice@example.test\n');

export const noDns: Dns = {
  ptr: async () => ({ kind: 'nxdomain' }), a: async () => ({ kind: 'nxdomain' }), aaaa: async () => ({ kind: 'nxdomain' }),
  mx: async () => ({ kind: 'nxdomain' }), txt: async () => ({ kind: 'nxdomain' }), ns: async () => ({ kind: 'nxdomain' }),
} as unknown as Dns;

/** A realistic base: mx.test local, example.test virtual mailboxes, relay.test relayed, 192.0.2.0/24 trusted. */
export const BASE: Record<string, string> = {
  myhostname: 'mx.test', mydomain: 'test', myorigin: 'mx.test', mydestination: 'mx.test, localhost', mynetworks: '192.0.2.0/24',
  relay_domains: 'relay.test', alias_maps: `hash:${join(dir, 'aliases')}`, alias_database: '', local_recipient_maps: '$alias_maps',
  virtual_mailbox_domains: 'example.test', virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`, config_directory: dir,
  recipient_delimiter: '+',
};

export function engineFor(values: Record<string, string>, resolver?: AddressResolver, dns: Dns = noDns): PolicyEngine {
  // A key given as undefined removes it from BASE (the parameter is then unset).
  const merged = Object.fromEntries(Object.entries({ ...BASE, ...values }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const params = paramsFrom(merged);
  const tables = new TableRegistry({ baseDir: dir });
  return createPolicyEngine(params, { tables, resolver: resolver ?? createResolver(params, { tables }), dns });
}

export const OUTSIDE = '198.51.100.7';
export const TRUSTED = '192.0.2.9';

export function client(addr = OUTSIDE, name = 'unknown'): ClientInfo {
  return { addr, port: 40000, name, reverseName: name, nameStatus: name === 'unknown' ? 'unknown' : 'ok' };
}

export function facts(f: Partial<SessionFacts> & { addr?: string; name?: string } = {}): SessionFacts {
  const { addr, name, ...rest } = f;
  return {
    client: client(addr, name), serviceName: 'smtp', params: paramsFrom({}), protocol: 'ESMTP', tls: false, recipientCount: 0,
    unauthPipelining: false, helo: 'client.example.org', sender: 'sender@example.org', ...rest,
  };
}

/** The reply line as Postfix logs it, or "accept". */
export async function answer(e: PolicyEngine, point: Parameters<PolicyEngine['check']>[0], f: SessionFacts): Promise<string> {
  const d = await e.check(point, f);
  return d.reply ? `${d.reply.code} ${d.reply.enhanced} ${d.reply.lines.join(' ')}` : 'accept';
}
