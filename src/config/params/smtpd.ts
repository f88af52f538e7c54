/** SMTP server parameters: protocol, limits, tarpit (see config/declare.ts). */
import { declare } from '../declare.js';

export const smtpdParams = declare([
  { name: 'smtpd_banner', type: 'string', default: '$myhostname ESMTP $mail_name', doc: 'Text after "220" in the greeting.' },
  { name: 'smtpd_helo_required', type: 'bool', default: 'no', doc: 'Require HELO/EHLO before MAIL.' },
  { name: 'smtpd_timeout', type: 'time', default: '300s', timeUnit: 's', min: 1, doc: 'Idle time allowed while waiting for a client command or data.' },
  { name: 'postern_smtpd_session_time_limit', type: 'time', default: '3600s', timeUnit: 's', min: 1, doc: 'Longest time one SMTP session may last.', posternOnly: true },
  { name: 'smtpd_error_sleep_time', type: 'time', default: '1s', timeUnit: 's', doc: 'Delay before each error reply once the soft error limit is reached.' },
  { name: 'smtpd_soft_error_limit', type: 'int', default: '10', min: 0, doc: 'Errors after which error replies are delayed.' },
  { name: 'smtpd_hard_error_limit', type: 'int', default: '20', min: 1, doc: 'Errors after which the session is closed with 421.' },
  { name: 'smtpd_junk_command_limit', type: 'int', default: '100', min: 1, doc: 'NOOP, VRFY, ETRN and RSET commands allowed before they count as errors.' },
  { name: 'postern_smtpd_command_limit', type: 'int', default: '10000', min: 10, doc: 'Commands allowed in one session before it is closed.', posternOnly: true },
  { name: 'smtpd_recipient_limit', type: 'int', default: '1000', min: 1, doc: 'Recipients accepted per message.' },
  { name: 'message_size_limit', type: 'int', default: '10240000', min: 0, doc: 'Largest message accepted, in bytes (0: no limit).' },
  { name: 'line_length_limit', type: 'int', default: '2048', min: 512, doc: 'Longest SMTP command line, in bytes.' },
  { name: 'header_size_limit', type: 'int', default: '102400', min: 1024, doc: 'Largest message header, in bytes; a larger header is refused.' },
  { name: 'disable_vrfy_command', type: 'bool', default: 'no', doc: 'Refuse VRFY (502).' },
  { name: 'smtpd_discard_ehlo_keywords', type: 'list', default: '', doc: 'EHLO keywords not to announce.' },
  { name: 'smtpd_forbid_bare_newline', type: 'string', default: 'normalize', doc: 'Bare LF in SMTP input: normalize (accept as line end), reject (521 and disconnect), or no.' },
  { name: 'smtpd_forbid_bare_newline_exclusions', type: 'list', default: '$mynetworks', doc: 'Clients exempt from smtpd_forbid_bare_newline = reject.' },
  { name: 'smtpd_client_port_logging', type: 'bool', default: 'no', doc: 'Log the client port after the address.' },
  { name: 'postern_smtpd_greet_pause', type: 'time', default: '0s', timeUnit: 's', doc: 'Wait this long before the 220 greeting, so clients that talk first are caught (like postscreen_greet_wait; 0 = off).', posternOnly: true },
  { name: 'smtpd_pipelining_grace', type: 'time', default: '0s', timeUnit: 's', doc: 'Unused placeholder kept for Postfix compatibility.', noEffect: 'Postern detects pre-greeting talk without a wait' },
]);
