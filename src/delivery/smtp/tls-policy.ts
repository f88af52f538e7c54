/**
 * The client's TLS policy (Postfix TLS_README "Client-side TLS security levels"): the level
 * for a next hop from smtp_tls_security_level or smtp_tls_policy_maps, the names or
 * fingerprints a server certificate must match, the handshake options, and the judgement
 * of a finished handshake ("Untrusted", "Trusted" or "Verified", as Postfix logs it).
 *
 *   none      no STARTTLS
 *   may       STARTTLS when offered; a failed handshake is retried in plain text
 *   encrypt   STARTTLS required, certificate not checked
 *   fingerprint  required, certificate or public-key digest must be listed in match=
 *   verify    required, certificate trusted and matching smtp_tls_verify_cert_match
 *   secure    required, certificate trusted and matching smtp_tls_secure_cert_match
 *
 * DANE needs a DNSSEC-validating resolver, which Postern does not have: "dane" is treated
 * as "may" (what Postfix does without usable TLSA records) and "dane-only" defers.
 * Table values are admin input; a bad level defers with "client TLS configuration problem".
 */

import { checkServerIdentity, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { TableRegistry } from '../../tables/open.js';
import { domainKeys } from '../../tables/lookup-order.js';
import { protocolBounds, tlsSummary } from '../../listener/tls.js';
import type { ClientSettings } from './settings.js';

export type ClientTlsLevel = 'none' | 'may' | 'encrypt' | 'fingerprint' | 'verify' | 'secure';

export interface TlsPolicy {
  readonly level: ClientTlsLevel;
  /** match= from the policy table, or the level's default list. */
  readonly match: readonly string[];
  /** protocols= from the policy table, else smtp_tls_(mandatory_)protocols. */
  readonly protocols: readonly string[];
}

export type PolicyResult = { readonly policy: TlsPolicy; readonly warning?: string } | { readonly error: { dsn: string; text: string }; readonly warning: string };

const LEVELS = new Set(['none', 'may', 'encrypt', 'fingerprint', 'verify', 'secure', 'dane', 'dane-only']);

export const tlsRequired = (l: ClientTlsLevel): boolean => l !== 'none' && l !== 'may';

/** Parse "verify match=hostname:.example.com protocols=>=TLSv1.3" (or the main.cf level alone). */
export function parsePolicy(value: string, s: ClientSettings, where: string): PolicyResult {
  const words = value.trim().split(/\s+/).filter(Boolean);
  let level = (words[0] ?? 'none').toLowerCase();
  let warning: string | undefined;
  if (!LEVELS.has(level)) {
    return { error: { dsn: '4.7.0', text: 'client TLS configuration problem' }, warning: `${where}: invalid TLS security level "${words[0] ?? ''}"` };
  }
  if (level === 'dane-only') {
    return { error: { dsn: '4.7.0', text: 'client TLS configuration problem' }, warning: `${where}: TLS security level "dane-only" needs DANE, which Postern does not support yet` };
  }
  if (level === 'dane') {
    warning = `${where}: TLS security level "dane" is treated as "may": Postern has no DNSSEC-validating resolver`;
    level = 'may';
  }
  const l = level as ClientTlsLevel;
  let match: string[] | undefined;
  let protocols: string[] | undefined;
  for (const w of words.slice(1)) {
    const eq = w.indexOf('=');
    if (eq < 0) continue;
    const key = w.slice(0, eq).toLowerCase();
    const v = w.slice(eq + 1);
    // Fingerprints contain ":", so Postfix separates several of them with "|".
    if (key === 'match') match = v.split(l === 'fingerprint' ? '|' : ':').filter(Boolean);
    else if (key === 'protocols') protocols = v.split(':').filter(Boolean);
  }
  const defaultMatch = l === 'verify' ? s.tls.verifyMatch : l === 'secure' ? s.tls.secureMatch : [];
  return {
    policy: { level: l, match: match ?? defaultMatch, protocols: protocols ?? (tlsRequired(l) ? s.tls.mandatoryProtocols : s.tls.protocols) },
    ...(warning ? { warning } : {}),
  };
}

/**
 * The policy for one next hop: smtp_tls_policy_maps keyed by the next hop as written
 * ("[mx.example]:587", "example.com"), then for domains their parents (".example.com"),
 * else smtp_tls_security_level. UNIX sockets never use opportunistic TLS (lmtp(8)).
 */
export async function policyFor(s: ClientSettings, tables: TableRegistry, nexthop: { written: string; host: string; bracketed: boolean; unix: boolean }): Promise<PolicyResult> {
  const mapsName = s.nameOf('smtp_tls_policy_maps');
  let value: string | undefined;
  let where = s.nameOf('smtp_tls_security_level');
  if (s.tls.policyMaps.length && !nexthop.unix) {
    const keys = [nexthop.written.toLowerCase()];
    if (!nexthop.bracketed && !isIP(nexthop.host)) for (const k of domainKeys(nexthop.host, false).slice(1)) keys.push(k);
    try {
      outer: for (const spec of s.tls.policyMaps) {
        const table = tables.open(spec);
        for (const key of table.kind === 'exact' ? keys : [keys[0]!]) {
          const v = await table.lookup(key);
          if (v !== undefined) {
            value = v;
            where = `${mapsName} entry for "${key}"`;
            break outer;
          }
        }
      }
    } catch (err) {
      return { error: { dsn: '4.3.0', text: 'TLS policy lookup problem' }, warning: `${mapsName}: ${(err as Error).message}` };
    }
  }
  const r = parsePolicy(value ?? s.tls.level, s, where);
  if ('policy' in r && nexthop.unix && r.policy.level === 'may') return { policy: { ...r.policy, level: 'none' } };
  return r;
}

const caCache = new Map<string, Buffer>();

/** Handshake options: protocol bounds, CAs (smtp_tls_CAfile, else Node's bundled roots), SNI for host names. */
export function handshakeOptions(s: ClientSettings, policy: TlsPolicy, serverName: string): ConnectionOptions {
  // Node folds its own host-name check into `authorized`; names are matched here by policy
  // (certMatches), so `authorized` must mean only "the chain leads to a trusted CA".
  const opts: ConnectionOptions = { ...protocolBounds([...policy.protocols]), checkServerIdentity: () => undefined };
  if (s.tls.caFile) {
    let ca = caCache.get(s.tls.caFile);
    if (!ca) {
      ca = readFileSync(s.tls.caFile);
      caCache.set(s.tls.caFile, ca);
    }
    opts.ca = ca;
  }
  if (serverName && !isIP(serverName)) opts.servername = serverName;
  return opts;
}

/** DNS names of a certificate: subjectAltName DNS entries, else the subject CN. */
function certNames(cert: PeerCertificate): string[] {
  const sans = (cert.subjectaltname ?? '').split(/,\s*/).filter((x) => x.startsWith('DNS:')).map((x) => x.slice(4).toLowerCase());
  if (sans.length) return sans;
  const cn = cert.subject?.CN;
  return cn ? [String(cn).toLowerCase()] : [];
}

/**
 * Does the certificate match one of the patterns? "hostname" = the MX host, "nexthop" =
 * the next-hop domain, "dot-nexthop" = its subdomains; ".example.com" = any subdomain;
 * other words are exact names (wildcards in the certificate honoured, RFC 6125).
 */
export function certMatches(cert: PeerCertificate, patterns: readonly string[], ctx: { hostname: string; nexthop: string }): boolean {
  for (const raw of patterns) {
    const p = raw.toLowerCase();
    const name = p === 'hostname' ? ctx.hostname : p === 'nexthop' ? ctx.nexthop : p === 'dot-nexthop' ? `.${ctx.nexthop}` : p;
    if (!name) continue;
    if (name.startsWith('.')) {
      if (certNames(cert).some((n) => n.endsWith(name))) return true;
    } else if (checkServerIdentity(name.toLowerCase(), cert) === undefined) return true;
  }
  return false;
}

function digestHex(data: Buffer, algo: string): string {
  return createHash(algo).update(data).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/** Level fingerprint: the certificate's or its public key's digest is listed. */
export function fingerprintMatches(cert: PeerCertificate, fingerprints: readonly string[], digest: string): boolean {
  const norm = (s: string): string => s.replace(/:/g, '').toUpperCase();
  const want = new Set(fingerprints.map(norm));
  const have = [digestHex(cert.raw, digest)];
  if (cert.pubkey) have.push(digestHex(cert.pubkey, digest));
  return have.some((h) => want.has(norm(h)));
}

export interface TlsVerdict {
  /** Postfix's word for the log line. */
  readonly trust: 'Untrusted' | 'Trusted' | 'Verified';
  /** Whether the policy is satisfied. */
  readonly ok: boolean;
}

/** Judge a finished handshake against the policy. */
export function judge(sock: TLSSocket, policy: TlsPolicy, ctx: { hostname: string; nexthop: string; digest: string }): TlsVerdict {
  const cert = sock.getPeerCertificate();
  const trusted = sock.authorized;
  const hasCert = cert && Object.keys(cert).length > 0;
  if (policy.level === 'fingerprint') {
    const ok = !!hasCert && fingerprintMatches(cert, policy.match, ctx.digest);
    return { trust: ok ? 'Verified' : trusted ? 'Trusted' : 'Untrusted', ok };
  }
  if (policy.level === 'verify' || policy.level === 'secure') {
    const ok = trusted && !!hasCert && certMatches(cert, policy.match, ctx);
    return { trust: ok ? 'Verified' : trusted ? 'Trusted' : 'Untrusted', ok };
  }
  return { trust: trusted ? 'Trusted' : 'Untrusted', ok: true };
}

/** "Trusted TLS connection established to mx.example[192.0.2.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)". */
export function tlsLogLine(trust: string, namaddrport: string, sock: TLSSocket): string {
  const t = tlsSummary(sock);
  return `${trust} TLS connection established to ${namaddrport}: ${t.protocol} with cipher ${t.cipher} (${t.bits}/${t.bits} bits)`;
}
