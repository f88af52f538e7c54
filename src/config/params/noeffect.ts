/** Known Postfix parameters Postern accepts without effect, each with the reason. */
import { declare } from '../declare.js';

const none = (name: string, def: string, reason: string) => ({ name, type: 'string' as const, default: def, doc: `Postfix parameter; no effect in Postern.`, noEffect: reason });

export const noeffectParams = declare([
  none('biff', 'yes', 'Postern has no comsat/biff notification'),
  none('readme_directory', 'no', 'documentation location of the Postfix package'),
  none('html_directory', 'no', 'documentation location of the Postfix package'),
  none('manpage_directory', '/usr/share/man', 'documentation location of the Postfix package'),
  none('sample_directory', '/etc/postfix', 'documentation location of the Postfix package'),
  none('tls_random_source', 'dev:/dev/urandom', "Node's TLS seeds itself from the operating system"),
  none('append_dot_mydomain', 'no', 'Postern never rewrites "user@host" into "user@host.$mydomain" (that is the client\'s job)'),
  none('command_directory', '/usr/sbin', 'Postfix program location'),
  none('daemon_directory', '/usr/lib/postfix/sbin', 'Postfix program location'),
  none('shlib_directory', 'no', 'Postfix program location'),
  none('meta_directory', '/etc/postfix', 'Postfix program location'),
  none('setgid_group', 'postdrop', 'Postern has no setgid postdrop program'),
  none('sendmail_path', '/usr/sbin/sendmail', 'Postfix program location'),
  none('newaliases_path', '/usr/bin/newaliases', 'Postern reads the aliases text file directly; there is no newaliases step'),
  none('mailq_path', '/usr/bin/mailq', 'use `postern queue`'),
  none('alias_database', 'hash:/etc/aliases', 'Postern reads alias_maps text files directly; there is no database to build'),
  none('disable_dns_lookups', 'no', 'obsolete in Postfix; use smtp_dns_support_level / smtpd_peername_lookup'),
  none('max_use', '100', 'Postern has no per-process reuse count: one long-running process serves all sessions'),
  none('max_idle', '100s', 'Postern has no idle worker processes to retire'),
  none('smtpd_tls_session_cache_timeout', '3600s', 'TLS session tickets are handled by Node; no external session cache'),
  none('enable_original_recipient', 'yes', 'Postern always keeps the original recipient (X-Original-To, orig_to=)'),
]);
