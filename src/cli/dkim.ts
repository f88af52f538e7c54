/**
 * `postern dkim keygen DOMAIN [--selector S] [--type rsa|ed25519] [--key-dir DIR]`: makes a
 * DKIM signing key (RSA-2048 or Ed25519), writes it as PKCS#8 PEM with mode 0600 (never over
 * an existing file), and prints the DNS TXT record to publish (RFC 6376 §3.6.1; Ed25519 as
 * the raw 32-byte key, RFC 8463) and the postern_dkim_keys line to add.
 */

import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface KeygenResult {
  readonly file: string;
  /** The TXT record's text: "v=DKIM1; k=rsa; p=…". */
  readonly txt: string;
  readonly name: string;
}

export function dkimKeygen(domain: string, opts: { selector: string; type: 'rsa' | 'ed25519'; keyDir: string }): KeygenResult {
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(d)) throw new Error(`"${domain}" is not a domain name`);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(opts.selector)) throw new Error(`"${opts.selector}" is not a selector (letters, digits, - and _)`);
  const file = resolve(opts.keyDir, `${d}.${opts.selector}.key`);
  if (existsSync(file)) throw new Error(`${file} exists; remove it first or choose another --selector`);
  let pem: string;
  let txt: string;
  if (opts.type === 'rsa') {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    pem = k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    txt = `v=DKIM1; k=rsa; p=${k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  } else {
    const k = generateKeyPairSync('ed25519');
    pem = k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // RFC 8463 §4: p= is the raw public key, the last 32 bytes of the SPKI encoding.
    txt = `v=DKIM1; k=ed25519; p=${k.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64')}`;
  }
  mkdirSync(opts.keyDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  return { file, txt, name: `${opts.selector}._domainkey.${d}` };
}

/** Zone-file form, in strings of at most 255 characters. */
export function zoneRecord(r: KeygenResult): string {
  const parts = r.txt.match(/.{1,255}/g) ?? [];
  return `${r.name}. IN TXT ( ${parts.map((p) => `"${p}"`).join('\n\t')} )`;
}

export async function runDkimCommand(configDir: string, args: string[], opts: { selector?: string; type?: string; keyDir?: string }): Promise<number> {
  const [sub, domain] = args;
  if (sub !== 'keygen' || !domain) {
    process.stderr.write('usage: postern dkim keygen DOMAIN [--selector S] [--type rsa|ed25519] [--key-dir DIR]\n');
    return 2;
  }
  const type = (opts.type ?? 'rsa').toLowerCase();
  if (type !== 'rsa' && type !== 'ed25519') {
    process.stderr.write(`postern: --type must be rsa or ed25519, not "${opts.type}"\n`);
    return 2;
  }
  try {
    const r = dkimKeygen(domain, { selector: opts.selector ?? 'mail', type, keyDir: opts.keyDir ?? join(configDir, 'dkim') });
    process.stdout.write(`wrote ${r.file} (mode 0600)\n\npublish this DNS record:\n${zoneRecord(r)}\n\nand add this line to the postern_dkim_keys table:\n${domain.toLowerCase()}  ${opts.selector ?? 'mail'}:${r.file}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`postern: dkim keygen: ${(err as Error).message}\n`);
    return 1;
  }
}
