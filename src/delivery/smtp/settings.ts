/**
 * Every parameter the SMTP/LMTP client reads, read once per delivery request from the
 * request's params (main.cf merged with the master.cf service's -o overrides). The LMTP
 * agent reads the lmtp_ twins (lmtp_lhlo_name, lmtp_data_done_timeout, …), as Postfix's
 * lmtp(8) does; the declarations are in config/params/smtp-client.ts.
 */

import type { Params } from '../../config/types.js';
import { servicePort } from './nexthop.js';

export interface ClientSettings {
  readonly lmtp: boolean;
  /** "smtp" or "lmtp": the process part of the log program name. */
  readonly process: string;
  /** The parameter name actually read for `smtp_X` (lmtp_ twin when LMTP). */
  readonly nameOf: (smtpName: string) => string;
  readonly heloName: string;
  readonly myhostname: string;
  readonly defaultPort: number;
  readonly timeouts: {
    readonly connect: number;
    readonly helo: number;
    readonly starttls: number;
    readonly mail: number;
    readonly rcpt: number;
    readonly dataInit: number;
    readonly dataXfer: number;
    readonly dataDone: number;
    readonly rset: number;
  };
  readonly bindAddress: string;
  readonly bindAddress6: string;
  readonly ipv4: boolean;
  readonly ipv6: boolean;
  readonly mxAddressLimit: number;
  readonly mxSessionLimit: number;
  readonly fallbackRelay: readonly string[];
  readonly relayhost: string;
  readonly skip5xxGreeting: boolean;
  readonly randomize: boolean;
  readonly addressPreference: 'any' | 'ipv4' | 'ipv6';
  readonly xforward: boolean;
  readonly cacheOnDemand: boolean;
  readonly cacheTimeMs: number;
  readonly reuseTimeMs: number;
  readonly tls: {
    /** smtp_tls_security_level after the obsolete smtp_use_tls/smtp_enforce_tls. */
    readonly level: string;
    readonly wrapper: boolean;
    readonly caFile: string;
    readonly policyMaps: readonly string[];
    readonly logLevel: number;
    readonly noteStarttlsOffer: boolean;
    readonly verifyMatch: readonly string[];
    readonly secureMatch: readonly string[];
    readonly fingerprintDigest: string;
    readonly protocols: readonly string[];
    readonly mandatoryProtocols: readonly string[];
  };
  readonly syslogName: string;
}

const LMTP_NAMES: Record<string, string> = { smtp_helo_name: 'lmtp_lhlo_name', smtp_helo_timeout: 'lmtp_lhlo_timeout', smtp_tcp_port: 'lmtp_tcp_port' };

export function readSettings(p: Params, lmtp: boolean): ClientSettings {
  const nameOf = (n: string): string => (lmtp ? LMTP_NAMES[n] ?? n.replace(/^smtp_/, 'lmtp_') : n);
  const str = (n: string): string => p.str(nameOf(n));
  const t = (n: string): number => p.timeMs(nameOf(n));
  const b = (n: string): boolean => p.bool(nameOf(n));
  let level = str('smtp_tls_security_level').trim().toLowerCase();
  if (!level) level = b('smtp_enforce_tls') ? 'encrypt' : b('smtp_use_tls') ? 'may' : 'none';
  const protocols = p.list('inet_protocols').map((s) => s.toLowerCase());
  const all = protocols.includes('all') || protocols.length === 0;
  const pref = p.str('smtp_address_preference').toLowerCase();
  return {
    lmtp,
    process: lmtp ? 'lmtp' : 'smtp',
    nameOf,
    heloName: str('smtp_helo_name'),
    myhostname: p.str('myhostname'),
    defaultPort: servicePort(str('smtp_tcp_port')) ?? (lmtp ? 24 : 25),
    timeouts: {
      connect: t('smtp_connect_timeout'),
      helo: t('smtp_helo_timeout'),
      starttls: t('smtp_starttls_timeout'),
      mail: t('smtp_mail_timeout'),
      rcpt: t('smtp_rcpt_timeout'),
      dataInit: t('smtp_data_init_timeout'),
      dataXfer: t('smtp_data_xfer_timeout'),
      dataDone: t('smtp_data_done_timeout'),
      rset: t('smtp_rset_timeout'),
    },
    bindAddress: str('smtp_bind_address'),
    bindAddress6: str('smtp_bind_address6'),
    ipv4: all || protocols.includes('ipv4'),
    ipv6: all || protocols.includes('ipv6'),
    mxAddressLimit: p.int('smtp_mx_address_limit'),
    mxSessionLimit: p.int('smtp_mx_session_limit'),
    fallbackRelay: lmtp ? [] : p.list('smtp_fallback_relay'),
    relayhost: p.str('relayhost'),
    skip5xxGreeting: p.bool('smtp_skip_5xx_greeting'),
    randomize: p.bool('smtp_randomize_addresses'),
    addressPreference: pref === 'ipv4' || pref === 'ipv6' ? pref : 'any',
    xforward: p.bool('smtp_send_xforward_command'),
    cacheOnDemand: b('smtp_connection_cache_on_demand'),
    cacheTimeMs: t('smtp_connection_cache_time_limit'),
    reuseTimeMs: t('smtp_connection_reuse_time_limit'),
    tls: {
      level,
      wrapper: b('smtp_tls_wrappermode'),
      caFile: str('smtp_tls_CAfile'),
      policyMaps: p.list(nameOf('smtp_tls_policy_maps')),
      logLevel: p.int(nameOf('smtp_tls_loglevel')),
      noteStarttlsOffer: b('smtp_tls_note_starttls_offer'),
      verifyMatch: p.list(nameOf('smtp_tls_verify_cert_match')),
      secureMatch: p.list(nameOf('smtp_tls_secure_cert_match')),
      fingerprintDigest: str('smtp_tls_fingerprint_digest').toLowerCase(),
      protocols: p.list(nameOf('smtp_tls_protocols')),
      mandatoryProtocols: p.list(nameOf('smtp_tls_mandatory_protocols')),
    },
    syslogName: p.str('syslog_name'),
  };
}
