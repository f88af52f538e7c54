/** TLS and SASL parameters of the SMTP server (see config/declare.ts). */
import { declare } from '../declare.js';

export const tlsParams = declare([
  { name: 'smtpd_tls_security_level', type: 'string', default: '', doc: 'none, may (offer STARTTLS) or encrypt (require it); empty = none.' },
  { name: 'smtpd_use_tls', type: 'bool', default: 'no', doc: 'Obsolete: "yes" means smtpd_tls_security_level = may.' },
  { name: 'smtpd_enforce_tls', type: 'bool', default: 'no', doc: 'Obsolete: "yes" means smtpd_tls_security_level = encrypt.' },
  { name: 'smtpd_tls_cert_file', type: 'string', default: '', doc: 'PEM certificate (with its chain) for the SMTP server.' },
  { name: 'smtpd_tls_key_file', type: 'string', default: '$smtpd_tls_cert_file', doc: 'PEM private key for smtpd_tls_cert_file.' },
  { name: 'smtpd_tls_chain_files', type: 'list', default: '', doc: 'PEM files each holding a key and its certificate chain (RSA and EC); overrides cert/key files.' },
  { name: 'smtpd_tls_CAfile', type: 'string', default: '', doc: 'CA certificates for client certificate verification (sent in the handshake).' },
  { name: 'smtpd_tls_wrappermode', type: 'bool', default: 'no', doc: 'Implicit TLS from the first byte (port 465, "smtps").' },
  { name: 'smtpd_tls_received_header', type: 'bool', default: 'no', doc: 'Put the TLS protocol and cipher into the Received header.' },
  { name: 'smtpd_tls_loglevel', type: 'int', default: '0', min: 0, max: 4, doc: '1 logs a summary line per TLS session, as Postfix.' },
  { name: 'smtpd_tls_protocols', type: 'list', default: '>=TLSv1.2', doc: 'TLS protocols for opportunistic TLS. Postern default excludes SSLv3, TLSv1 and TLSv1.1.' },
  { name: 'smtpd_tls_mandatory_protocols', type: 'list', default: '>=TLSv1.2', doc: 'TLS protocols when TLS is required (encrypt, wrapper mode).' },
  { name: 'smtpd_tls_auth_only', type: 'bool', default: 'no', doc: 'Offer and accept AUTH only over TLS.' },
  { name: 'smtpd_sasl_auth_enable', type: 'bool', default: 'no', doc: 'Offer SMTP AUTH on this listener.' },
  { name: 'smtpd_sasl_type', type: 'string', default: 'passwd-file', doc: 'dovecot (Dovecot auth socket) or passwd-file (built-in, Dovecot passwd-file format). Postfix default is cyrus.' },
  { name: 'smtpd_sasl_path', type: 'string', default: 'private/auth', doc: 'dovecot: socket path relative to queue_directory or inet:host:port; passwd-file: the users file.' },
  { name: 'smtpd_sasl_security_options', type: 'list', default: 'noanonymous', doc: 'noanonymous, noplaintext: mechanisms refused without TLS.' },
  { name: 'smtpd_sasl_tls_security_options', type: 'list', default: '$smtpd_sasl_security_options', doc: 'The same, for TLS sessions.' },
  { name: 'smtpd_sasl_authenticated_header', type: 'bool', default: 'no', doc: 'Show the SASL user name in the Received header.' },
  { name: 'smtpd_sasl_local_domain', type: 'string', default: '', doc: 'Domain appended to user names without one.' },
  { name: 'broken_sasl_auth_clients', type: 'bool', default: 'no', doc: 'Also announce "AUTH=PLAIN LOGIN" for old Outlook clients.' },
  { name: 'smtpd_sender_login_maps', type: 'list', default: '', doc: 'Tables: sender address → SASL login names that may use it.' },
  { name: 'postern_tls_self_signed', type: 'bool', default: 'no', doc: 'Create a self-signed certificate at smtpd_tls_cert_file/key_file at start when they are missing (demo use).', posternOnly: true },
  { name: 'postern_auth_failure_delay', type: 'time', default: '1s', timeUnit: 's', doc: 'Wait this long before answering a failed AUTH (slows password guessing).', posternOnly: true },
]);
