/** Content inspection in cleanup: header/body checks and MIME decoding (see config/declare.ts, docs/content-checks.md). */
import { declare } from '../declare.js';

export const contentParams = declare([
  { name: 'header_checks', type: 'list', default: '', doc: 'Tables (regexp:, pcre:, any type) matched against each logical primary message header; actions as header_checks(5). Headers are matched RFC 2047-decoded first, then raw, unless postern_mime_decode_checks = no.' },
  { name: 'mime_header_checks', type: 'list', default: '$header_checks', doc: 'Tables for MIME headers (Content-*, MIME-Version) at the top level and every header of a MIME part.' },
  { name: 'nested_header_checks', type: 'list', default: '$header_checks', doc: 'Tables for the non-MIME headers of attached messages (message/rfc822).' },
  { name: 'body_checks', type: 'list', default: '', doc: 'Tables matched against each body line. Text parts are matched after transfer decoding (base64, quoted-printable) and conversion to UTF-8 (ISO-2022-JP, Shift_JIS, EUC-JP, ISO-8859-x, …), HTML parts on their text, unless postern_mime_decode_checks = no.' },
  { name: 'body_checks_size_limit', type: 'int', default: '51200', min: 0, doc: 'Bytes of each body part (raw, before decoding) that body_checks inspect.' },
  { name: 'disable_mime_input_processing', type: 'bool', default: 'no', doc: 'Treat everything after the primary header as body lines: no MIME headers, no decoding.' },
  { name: 'receive_override_options', type: 'list', default: '', doc: 'Per-listener switches, usually on a content filter\'s re-injection listener: no_header_body_checks, no_milters (also skips Postern\'s authentication checks and spamd), no_unknown_recipient_checks, no_address_mappings (accepted; Postern maps addresses at delivery, once).' },
  { name: 'content_filter', type: 'string', default: '', doc: 'transport:nexthop every message accepted by this listener is handed to first (e.g. smtp-amavis:[127.0.0.1]:10024); the filter re-injects it on a listener with -o content_filter= . FILTER actions of access and header/body tables override it per message.' },
  { name: 'postern_mime_decode_checks', type: 'bool', default: 'yes', doc: 'Match headers and body lines decoded (RFC 2047 words, base64/quoted-printable, charsets to UTF-8, HTML to text). "no": raw lines, exactly as Postfix.', posternOnly: true },
  { name: 'postern_spamd_server', type: 'string', default: '', doc: 'SpamAssassin spamd to ask about each message: "127.0.0.1:783", "[::1]:783" or a UNIX socket path; empty: no spam check. Adds X-Spam-Flag, X-Spam-Score and X-Spam-Status.', posternOnly: true },
  { name: 'postern_spamd_max_size', type: 'int', default: '524288', min: 1, doc: 'Larger messages are not sent to spamd (logged as not checked).', posternOnly: true },
  { name: 'postern_spamd_reject_score', type: 'string', default: '', doc: 'Refuse messages whose spamd score reaches this number ("550 5.7.1 Message rejected as spam (score S)"); empty: never refuse, only tag.', posternOnly: true },
  { name: 'postern_spamd_default_action', type: 'string', default: 'accept', doc: 'When spamd is down, slow or answers nonsense: "accept" (logged warning, no X-Spam headers) or "tempfail" (451 4.7.1, the client retries).', posternOnly: true },
  { name: 'postern_spamd_timeout', type: 'time', default: '30s', timeUnit: 's', min: 1, doc: 'Time to wait for spamd\'s answer.', posternOnly: true },
  { name: 'postern_explain_header', type: 'bool', default: 'no', doc: 'Add an X-Postern-Decision: header to delivered mail naming each content decision (rule and line, spam score, SPF/DKIM/DMARC results).', posternOnly: true },
]);
