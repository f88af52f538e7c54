/**
 * TLS settings of one listener (RFC 3207 STARTTLS, RFC 8314 implicit TLS): the effective
 * security level, the certificates (re-read on every reload, so renewed Let's Encrypt
 * files are picked up), protocol bounds, and Postfix's TLS log line.
 */

import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { readFileSync, existsSync, mkdirSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import type { Params } from '../config/types.js';

export type TlsLevel = 'none' | 'may' | 'encrypt';

export interface TlsSettings {
  readonly level: TlsLevel;
  readonly wrapper: boolean;
  readonly context: SecureContext;
  readonly logLevel: number;
  readonly receivedHeader: boolean;
}

export function tlsLevel(p: Params): TlsLevel {
  const l = p.str('smtpd_tls_security_level').toLowerCase();
  if (l === 'may' || l === 'encrypt' || l === 'none') return l;
  if (p.bool('smtpd_enforce_tls')) return 'encrypt';
  if (p.bool('smtpd_use_tls')) return 'may';
  return 'none';
}

const ORDER = ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type NodeVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** Postfix protocol lists ("!SSLv2, !SSLv3, !TLSv1", ">=TLSv1.2") → Node's min/max versions. */
export function protocolBounds(list: string[]): { minVersion: NodeVersion; maxVersion: NodeVersion } {
  const allowed = new Set<string>(ORDER);
  let min = 0;
  for (const raw of list) {
    const item = raw.trim();
    if (item.startsWith('>=')) min = Math.max(min, ORDER.indexOf(item.slice(2) as (typeof ORDER)[number]));
    else if (item.startsWith('!')) allowed.delete(item.slice(1));
    else if (item) {
      // A positive list: only those protocols.
      for (const v of ORDER) if (!list.includes(v)) allowed.delete(v);
    }
  }
  const usable = ORDER.filter((v, i) => i >= Math.max(min, 2) && allowed.has(v)) as NodeVersion[];
  if (usable.length === 0) return { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };
  return { minVersion: usable[0]!, maxVersion: usable[usable.length - 1]! };
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Build the TLS settings, or undefined when the listener has no TLS. Throws with the file name on bad files. */
export function tlsSettings(p: Params): TlsSettings | undefined {
  const wrapper = p.bool('smtpd_tls_wrappermode');
  const level = wrapper ? 'encrypt' : tlsLevel(p);
  if (level === 'none') return undefined;
  const chains = p.list('smtpd_tls_chain_files');
  const bounds = protocolBounds(p.list(level === 'encrypt' ? 'smtpd_tls_mandatory_protocols' : 'smtpd_tls_protocols'));
  const opts: Parameters<typeof createSecureContext>[0] = { ...bounds };
  if (chains.length) {
    // Each file holds a private key followed by its certificate chain (RSA and EC may both be given).
    const pems = chains.map((f) => read(f, 'TLS chain file').toString());
    opts.key = pems.map((t) => ({ pem: t }));
    opts.cert = pems;
  } else {
    const cert = p.str('smtpd_tls_cert_file');
    if (!cert) throw new Error('TLS is enabled but smtpd_tls_cert_file (or smtpd_tls_chain_files) is not set');
    opts.cert = read(cert, 'TLS certificate');
    opts.key = read(p.str('smtpd_tls_key_file') || cert, 'TLS private key');
  }
  const ca = p.str('smtpd_tls_CAfile');
  if (ca) opts.ca = read(ca, 'TLS CA file');
  let context: SecureContext;
  try {
    context = createSecureContext(opts);
  } catch (err) {
    throw new Error(`TLS certificate or key unusable (${p.str('smtpd_tls_cert_file') || chains.join(', ')}): ${(err as Error).message}`);
  }
  return { level, wrapper, context, logLevel: p.int('smtpd_tls_loglevel'), receivedHeader: p.bool('smtpd_tls_received_header') };
}

/** Postfix's summary: "Anonymous TLS connection established from x[1.2.3.4]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)". */
export function tlsSummary(s: TLSSocket): { protocol: string; cipher: string; bits: number } {
  const c = s.getCipher();
  const bits = /256/.test(c.name) ? 256 : /128/.test(c.name) ? 128 : /CHACHA20/.test(c.name) ? 256 : 0;
  return { protocol: s.getProtocol() ?? 'unknown', cipher: c.standardName || c.name, bits };
}

/**
 * A self-signed certificate for the demo configuration (postern_tls_self_signed = yes),
 * made with the openssl command line at first start when the files are missing.
 */
export function ensureSelfSigned(p: Params): void {
  const cert = p.str('smtpd_tls_cert_file');
  const key = p.str('smtpd_tls_key_file') || cert;
  if (!cert || (existsSync(cert) && existsSync(key))) return;
  mkdirSync(dirname(cert), { recursive: true });
  mkdirSync(dirname(key), { recursive: true });
  const host = p.str('myhostname');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
    '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host},IP:127.0.0.1`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  chmodSync(key, 0o600);
}
