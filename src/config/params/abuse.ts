/**
 * Abuse defences (see config/declare.ts and docs/abuse.md): anvil's per-client limits with
 * Postfix's names and defaults, the built-in greylisting (postgrey's semantics), the
 * built-in auto-ban (a fail2ban jail without fail2ban), the state store they share, and
 * sender ownership after AUTH.
 */
import { declare } from '../declare.js';

export const abuseParams = declare([
  // anvil(8) and smtpd(8) client limits (Postfix 2.2+, prefix lengths 3.10).
  { name: 'anvil_rate_time_unit', type: 'time', default: '60s', timeUnit: 's', min: 1, doc: 'The time unit of the smtpd_client_*_rate_limit counters (a window that opens with the client\'s first event).' },
  { name: 'anvil_status_update_time', type: 'time', default: '600s', timeUnit: 's', min: 1, doc: 'How often the anvil "statistics: max …" lines are logged (also at shutdown).' },
  { name: 'smtpd_client_connection_count_limit', type: 'int', default: '50', min: 0, doc: 'Simultaneous connections one client (network, see the prefix lengths) may have to this service (0: no limit); over it: 421 4.7.0.' },
  { name: 'smtpd_client_connection_rate_limit', type: 'int', default: '0', min: 0, doc: 'Connection attempts per anvil_rate_time_unit one client may make to this service (0: no limit); over it: 421 4.7.0.' },
  { name: 'smtpd_client_message_rate_limit', type: 'int', default: '0', min: 0, doc: 'MAIL FROM requests per anvil_rate_time_unit, accepted or not (0: no limit); over it: 450 4.7.1.' },
  { name: 'smtpd_client_recipient_rate_limit', type: 'int', default: '0', min: 0, doc: 'RCPT TO requests per anvil_rate_time_unit, accepted or not (0: no limit); over it: 450 4.7.1.' },
  { name: 'smtpd_client_new_tls_session_rate_limit', type: 'int', default: '0', min: 0, doc: 'New TLS sessions (STARTTLS or implicit TLS) per anvil_rate_time_unit (0: no limit); over it: 421 4.7.0.' },
  { name: 'smtpd_client_auth_rate_limit', type: 'int', default: '0', min: 0, doc: 'AUTH commands per anvil_rate_time_unit (0: no limit); over it: 450 4.7.1.' },
  { name: 'smtpd_client_event_limit_exceptions', type: 'list', default: '$mynetworks', doc: 'Clients (networks, names, tables) the client limits do not apply to.' },
  { name: 'smtpd_client_ipv4_prefix_length', type: 'int', default: '32', min: 0, max: 32, doc: 'Count IPv4 clients per network of this prefix length for the client limits.' },
  { name: 'smtpd_client_ipv6_prefix_length', type: 'int', default: '84', min: 0, max: 128, doc: 'Count IPv6 clients per network of this prefix length for the client limits.' },

  // Built-in greylisting: the check_greylist restriction.
  { name: 'postern_greylist_delay', type: 'time', default: '300s', timeUnit: 's', min: 0, doc: 'How long a new (client network, sender, recipient) triplet is answered 450 4.2.0 before a retry is accepted (postgrey --delay).', posternOnly: true },
  { name: 'postern_greylist_max_age', type: 'time', default: '35d', timeUnit: 'd', min: 1, doc: 'Triplets and auto-whitelisted clients not seen for this long are forgotten (postgrey --max-age).', posternOnly: true },
  { name: 'postern_greylist_retry_window', type: 'time', default: '2d', timeUnit: 'd', min: 1, doc: 'A first retry later than this after the first attempt starts the wait again (postgrey --retry-window).', posternOnly: true },
  { name: 'postern_greylist_network_prefix', type: 'int', default: '24', min: 0, max: 32, doc: 'IPv4 clients are greylisted per network of this prefix length (postgrey --ipv4cidr).', posternOnly: true },
  { name: 'postern_greylist_ipv6_network_prefix', type: 'int', default: '64', min: 0, max: 128, doc: 'IPv6 clients are greylisted per network of this prefix length (postgrey --ipv6cidr).', posternOnly: true },
  { name: 'postern_greylist_auto_whitelist_clients', type: 'int', default: '5', min: 0, doc: 'A client address that passed greylisting this many times is no longer greylisted (0: off; postgrey --auto-whitelist-clients).', posternOnly: true },
  { name: 'postern_greylist_auto_whitelist_interval', type: 'time', default: '1h', timeUnit: 's', min: 0, doc: 'Passes of one client closer together than this count once toward auto-whitelisting (postgrey: one hour).', posternOnly: true },
  { name: 'postern_greylist_client_whitelist', type: 'list', default: 'pcre:$postern_share_directory/greylist-whitelist-clients.pcre, cidr:$postern_share_directory/greylist-whitelist-clients.cidr', doc: 'Tables (any type) of clients never greylisted, looked up by forward-confirmed name (and parent domains) and by address; the default is the shipped list of big senders that retry from many addresses (written from postgrey\'s whitelist_clients).', posternOnly: true },
  { name: 'postern_greylist_recipient_whitelist', type: 'list', default: '', doc: 'Tables (any type) of recipients never greylisted (postmaster@, abuse@ …).', posternOnly: true },
  { name: 'postern_share_directory', type: 'string', default: '', doc: 'Where Postern\'s shipped data files are (set at start to the share/ directory of the installed package unless main.cf says otherwise).', posternOnly: true },

  // Built-in auto-ban.
  { name: 'postern_ban_maxretry', type: 'int', default: '5', min: 1, doc: 'Failures of one kind (see postern_ban_events) within postern_ban_findtime that ban the client.', posternOnly: true },
  { name: 'postern_ban_findtime', type: 'time', default: '10m', timeUnit: 's', min: 1, doc: 'The sliding window in which failures are counted (fail2ban findtime).', posternOnly: true },
  { name: 'postern_ban_bantime', type: 'time', default: '1h', timeUnit: 's', min: 1, doc: 'How long a first ban lasts (fail2ban bantime).', posternOnly: true },
  { name: 'postern_ban_bantime_increment', type: 'bool', default: 'yes', doc: 'Each repeat ban of the same client lasts twice as long as the one before, up to postern_ban_maxtime.', posternOnly: true },
  { name: 'postern_ban_maxtime', type: 'time', default: '1w', timeUnit: 's', min: 1, doc: 'The longest ban postern_ban_bantime_increment makes.', posternOnly: true },
  { name: 'postern_ban_events', type: 'list', default: 'auth, relay, unknown_recipient, protocol', doc: 'What counts as a failure, each kind counted separately: auth (failed AUTH), relay (Relay access denied), unknown_recipient (User unknown), protocol (pre-greeting talk, improper pipelining, too many errors).', posternOnly: true },
  { name: 'postern_ban_exceptions', type: 'list', default: '$mynetworks', doc: 'Clients (networks, names, tables) never counted and never banned.', posternOnly: true },
  { name: 'postern_ban_action', type: 'string', default: 'reject', doc: 'What a banned client gets: reject (554 5.7.1 … banned until …, then close) or drop (close without a word).', posternOnly: true },

  // The state store.
  { name: 'postern_state_backend', type: 'string', default: 'embedded', doc: 'Where greylist triplets, bans and rate windows live: embedded (SQLite file state.db in data_directory) or redis://host:port/db (shared by several MX hosts).', posternOnly: true },
  { name: 'postern_state_backend_password_file', type: 'string', default: '', doc: 'A file holding the Redis password (AUTH), kept out of main.cf.', posternOnly: true },

  // Sender ownership after AUTH.
  { name: 'postern_sender_login_default', type: 'bool', default: 'yes', doc: 'On listeners with SASL and no *_sender_login_mismatch restriction: an authenticated client may only use its own address, aliases that reach it, and smtpd_sender_login_maps owners as MAIL FROM (553 5.7.1 otherwise). no: any sender after AUTH, as Postfix.', posternOnly: true },
]);
