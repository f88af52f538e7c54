/** Milters (Sendmail milter protocol, MILTER_README): read by milter/ and cleanup/milter/ (see docs/content-checks.md). */
import { declare } from '../declare.js';

export const milterParams = declare([
  { name: 'smtpd_milters', type: 'list', default: '', doc: 'Milters every SMTP session of this listener talks to, in order: inet:host:port, unix:/path, or { inet:host:port, connect_timeout=…, command_timeout=…, content_timeout=…, default_action=…, protocol=… }.' },
  { name: 'milter_default_action', type: 'string', default: 'tempfail', doc: 'When a milter is down, slow or breaks the protocol: tempfail (451 4.7.1 to this and every later command of the session), reject (550 5.7.1), accept (go on without it), quarantine (go on, and hold the messages).' },
  { name: 'milter_protocol', type: 'string', default: '6', doc: 'Milter protocol version offered: 2, 3, 4 or 6.' },
  { name: 'milter_connect_timeout', type: 'time', default: '30s', timeUnit: 's', min: 1, doc: 'Time to connect to a milter and negotiate options.' },
  { name: 'milter_command_timeout', type: 'time', default: '30s', timeUnit: 's', min: 1, doc: 'Time a milter has to answer each SMTP-stage command (connect, HELO, MAIL, RCPT, DATA).' },
  { name: 'milter_content_timeout', type: 'time', default: '300s', timeUnit: 's', min: 1, doc: 'Time a milter has to answer each piece of message content and the end of message.' },
  { name: 'milter_connect_macros', type: 'list', default: 'j {daemon_name} {daemon_addr} v _', doc: 'Macros sent with the connect event (unless the milter asks for its own list).' },
  { name: 'milter_helo_macros', type: 'list', default: '{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}', doc: 'Macros sent with HELO/EHLO.' },
  { name: 'milter_mail_macros', type: 'list', default: 'i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}', doc: 'Macros sent with MAIL FROM.' },
  { name: 'milter_rcpt_macros', type: 'list', default: 'i {rcpt_addr} {rcpt_host} {rcpt_mailer}', doc: 'Macros sent with RCPT TO.' },
  { name: 'milter_data_macros', type: 'list', default: 'i', doc: 'Macros sent with DATA.' },
  { name: 'milter_end_of_header_macros', type: 'list', default: 'i', doc: 'Macros sent at the end of the message header.' },
  { name: 'milter_end_of_data_macros', type: 'list', default: 'i', doc: 'Macros sent at the end of the message.' },
  { name: 'milter_macro_daemon_name', type: 'string', default: '$myhostname', doc: 'The {daemon_name} macro; set it per listener (e.g. ORIGINATING on submission) so a milter such as opendkim can tell the listeners apart.' },
  { name: 'milter_macro_v', type: 'string', default: '$mail_name', doc: 'The v macro (Postfix: $mail_name $mail_version).' },
]);
