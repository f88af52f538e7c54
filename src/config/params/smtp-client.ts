/**
 * Parameters of the outbound SMTP and LMTP clients (delivery/smtp/, Postfix's smtp(8) and
 * lmtp(8)); see config/declare.ts. Postfix has an lmtp_ twin for most smtp_ parameters:
 * both are declared here, and delivery/smtp/settings.ts reads the lmtp_ name when the
 * agent speaks LMTP, so `lmtp_data_done_timeout` in main.cf works as in Postfix.
 */
import { declare } from '../declare.js';
import type { ParamDecl } from '../declare.js';

type Spec = Omit<ParamDecl, 'name'>;

/** smtp_X and its lmtp_X twin (lmtpName when Postfix spells it differently, e.g. lmtp_lhlo_name). */
function both(smtpName: string, spec: Spec, lmtp?: { name?: string; default?: string }): ParamDecl[] {
  const lmtpName = lmtp?.name ?? smtpName.replace(/^smtp_/, 'lmtp_');
  return [
    { name: smtpName, ...spec },
    { ...spec, name: lmtpName, default: lmtp?.default ?? spec.default, doc: `LMTP client: as ${smtpName}.` },
  ];
}

const time = (def: string, doc: string): Spec => ({ type: 'time', default: def, timeUnit: 's', min: 0, doc });

export const smtpClientParams = declare([
  ...both('smtp_helo_name', { type: 'string', default: '$myhostname', doc: 'Host name sent in EHLO/HELO (LMTP: LHLO).' }, { name: 'lmtp_lhlo_name' }),
  { name: 'smtp_tcp_port', type: 'string', default: 'smtp', doc: 'Port for next hops without one (a number or a service name: smtp, submission, submissions).' },
  { name: 'lmtp_tcp_port', type: 'string', default: '24', doc: 'LMTP client: port for inet next hops without one.' },
  ...both('smtp_connect_timeout', time('30s', 'Time limit for a TCP connection to be established (0 = the system limit).'), { default: '0s' }),
  ...both('smtp_helo_timeout', time('300s', 'Time limit for the server greeting and the EHLO/HELO reply.'), { name: 'lmtp_lhlo_timeout' }),
  ...both('smtp_starttls_timeout', time('300s', 'Time limit for the STARTTLS reply and the TLS handshake.')),
  ...both('smtp_mail_timeout', time('300s', 'Time limit for the MAIL FROM reply.')),
  ...both('smtp_rcpt_timeout', time('300s', 'Time limit for each RCPT TO reply.')),
  ...both('smtp_data_init_timeout', time('120s', 'Time limit for the DATA reply.')),
  ...both('smtp_data_xfer_timeout', time('180s', 'Time limit for each write of the message body to make progress.')),
  ...both('smtp_data_done_timeout', time('600s', 'Time limit for the reply to the final "." (LMTP: each recipient\'s reply).')),
  ...both('smtp_rset_timeout', time('20s', 'Time limit for the RSET reply when a cached connection is reused.')),
  ...both('smtp_quit_timeout', time('300s', 'Time limit for the QUIT reply (Postern, like Postfix with smtp_skip_quit_response = yes, does not wait for it).')),
  ...both('smtp_bind_address', { type: 'string', default: '', doc: 'Local IPv4 address for outgoing connections (empty: the system chooses).' }),
  ...both('smtp_bind_address6', { type: 'string', default: '', doc: 'Local IPv6 address for outgoing connections (empty: the system chooses).' }),
  { name: 'smtp_mx_address_limit', type: 'int', default: '5', min: 0, doc: 'Most MX host addresses tried per next hop (0 = no limit).' },
  { name: 'smtp_mx_session_limit', type: 'int', default: '2', min: 0, doc: 'Most SMTP sessions (past the greeting and EHLO) per next hop and delivery (0 = no limit).' },
  { name: 'smtp_fallback_relay', type: 'list', default: '', doc: 'Next hops tried when the destination is not found or every server failed temporarily (SMTP only).' },
  { name: 'smtp_skip_5xx_greeting', type: 'bool', default: 'yes', doc: 'A 5xx greeting means "try the next MX host", not "bounce".' },
  { name: 'smtp_randomize_addresses', type: 'bool', default: 'yes', doc: 'Shuffle MX hosts of equal preference and the addresses of one host.' },
  { name: 'smtp_address_preference', type: 'string', default: 'any', doc: 'ipv4, ipv6 or any: which address family to try first among equal-preference addresses.' },
  { name: 'smtp_send_xforward_command', type: 'bool', default: 'no', doc: 'Send the original client name and address with XFORWARD when the server offers it (content filters such as amavis).' },
  ...both('smtp_connection_cache_on_demand', { type: 'bool', default: 'yes', doc: 'Keep an idle connection after a delivery for the next message to the same next hop.' }),
  ...both('smtp_connection_cache_time_limit', time('2s', 'How long an idle connection is kept for reuse.')),
  ...both('smtp_connection_reuse_time_limit', time('300s', 'A connection older than this is not reused again.')),
  ...both('smtp_tls_security_level', { type: 'string', default: '', doc: 'none, may (STARTTLS when offered), encrypt (required), verify or secure (required, certificate checked); empty = none.' }),
  ...both('smtp_use_tls', { type: 'bool', default: 'no', doc: 'Obsolete: "yes" means smtp_tls_security_level = may.' }),
  ...both('smtp_enforce_tls', { type: 'bool', default: 'no', doc: 'Obsolete: "yes" means smtp_tls_security_level = encrypt.' }),
  ...both('smtp_tls_wrappermode', { type: 'bool', default: 'no', doc: 'Implicit TLS from the first byte (a relay on port 465); needs level encrypt or higher.' }),
  ...both('smtp_tls_CAfile', { type: 'string', default: '', doc: 'PEM file of trusted CAs for server certificates. Empty: Node\'s bundled Mozilla roots (Postfix trusts nothing by default).' }),
  ...both('smtp_tls_policy_maps', { type: 'list', default: '', doc: 'Tables: next-hop destination → TLS level and attributes ("encrypt", "verify match=hostname:.example.com", "none").' }),
  ...both('smtp_tls_loglevel', { type: 'int', default: '0', min: 0, max: 4, doc: '1 or more logs the "TLS connection established" line.' }),
  ...both('smtp_tls_note_starttls_offer', { type: 'bool', default: 'no', doc: 'With TLS off, log "Host offered STARTTLS: [host]".' }),
  ...both('smtp_tls_verify_cert_match', { type: 'list', default: 'hostname', doc: 'Names a certificate must match at level verify (hostname, nexthop, dot-nexthop, or names).' }),
  ...both('smtp_tls_secure_cert_match', { type: 'list', default: 'nexthop, dot-nexthop', doc: 'Names a certificate must match at level secure.' }),
  ...both('smtp_tls_fingerprint_digest', { type: 'string', default: 'sha256', doc: 'Digest for level fingerprint match= values (sha256, sha1, md5).' }),
  ...both('smtp_tls_protocols', { type: 'list', default: '>=TLSv1.2', doc: 'TLS protocols for opportunistic TLS. Postern default excludes TLSv1 and TLSv1.1.' }),
  ...both('smtp_tls_mandatory_protocols', { type: 'list', default: '>=TLSv1.2', doc: 'TLS protocols when TLS is required (encrypt and above).' }),
]);
