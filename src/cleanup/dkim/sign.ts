/**
 * DKIM signing (RFC 6376; Ed25519 per RFC 8463) of mail our own users send: from
 * SASL-authenticated clients and mynetworks, when the From: domain (or a parent domain) is
 * in postern_dkim_keys, a table of "domain  selector:/path/to/key.pem". The signature is
 * made by mailauth (relaxed/relaxed, rsa-sha256 or ed25519-sha256 from the key's type)
 * over the message as it will be queued, and put on top. A missing or unreadable key is a
 * logged warning and the message goes out unsigned: signing must not stop mail.
 * Logs as opendkim does: "ID: DKIM-Signature field added (s=SELECTOR, d=DOMAIN)".
 */

import { readFileSync, statSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { loadMailauth } from '../auth/mailauth.js';
import type { TableRegistry } from '../../tables/open.js';
import type { MailLog } from '../../log/maillog.js';
import type { Submission } from '../types.js';
import { splitMessage, fieldValue } from '../headers.js';

interface Key { pem: string; algorithm: 'rsa-sha256' | 'ed25519-sha256'; mtime: number }
const keyCache = new Map<string, Key>();

function loadKey(path: string): Key {
  const mtime = statSync(path).mtimeMs;
  const hit = keyCache.get(path);
  if (hit && hit.mtime === mtime) return hit;
  const pem = readFileSync(path, 'utf8');
  const type = createPrivateKey(pem).asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') throw new Error(`${path}: a ${type} key cannot sign DKIM (use RSA or Ed25519)`);
  const key: Key = { pem, algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256', mtime };
  keyCache.set(path, key);
  return key;
}

/** The domain of the (first) From: address, lower-cased; undefined without one. */
export function fromDomain(data: Buffer): string | undefined {
  const from = splitMessage(data).fields.find((f) => f.name.toLowerCase() === 'from');
  if (!from) return undefined;
  const v = fieldValue(from);
  const angle = /<[^<>@]*@([^<>\s]+)>/.exec(v);
  const bare = angle ?? /@([A-Za-z0-9.-]+)/.exec(v);
  return bare?.[1]?.toLowerCase().replace(/\.$/, '');
}

export async function dkimSignStep(deps: { tables: TableRegistry; log: MailLog; program: string; configDir?: string; trusted: (s: Submission) => Promise<boolean> }, s: Submission, data: Buffer): Promise<Buffer> {
  const spec = s.facts.params.str('postern_dkim_keys').trim();
  if (!spec) return data;
  const domain = fromDomain(data);
  if (!domain || !(await deps.trusted(s))) return data;
  try {
    const table = deps.tables.open(spec);
    let signing = domain;
    let value = await table.lookup(signing);
    for (let d = domain; value === undefined && d.includes('.');) {
      d = d.slice(d.indexOf('.') + 1);
      if (!d.includes('.')) break;
      value = await table.lookup(d);
      signing = d;
    }
    if (value === undefined) return data;
    const m = /^([A-Za-z0-9._-]+):(.+)$/.exec(value.trim());
    if (!m) throw new Error(`postern_dkim_keys: "${value}" for ${signing} is not selector:/path/to/key.pem`);
    const selector = m[1]!;
    const path = isAbsolute(m[2]!) ? m[2]! : resolve(deps.configDir ?? process.cwd(), m[2]!);
    const key = loadKey(path);
    // mailauth's signer reads signatureData (its 4.13 type declarations name top-level fields).
    const r = await (await loadMailauth()).dkimSign(data, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: signing, selector, privateKey: key.pem, algorithm: key.algorithm }] } as never);
    if (r.errors.length > 0) throw new Error(r.errors.map((e) => (e as { message?: string }).message ?? String(e)).join('; '));
    deps.log.line(deps.program, `${s.queueId}: DKIM-Signature field added (s=${selector}, d=${signing})`);
    return Buffer.concat([Buffer.from(r.signatures.replace(/(\r\n)+$/, '\r\n'), 'utf8'), data]);
  } catch (err) {
    deps.log.warning(deps.program, `${s.queueId}: DKIM signing for ${domain} failed: ${(err as Error).message}; message sent unsigned`);
    return data;
  }
}
