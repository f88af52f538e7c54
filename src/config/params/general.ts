/** General parameters: identity, directories, logging, process limits (see config/declare.ts). */
import { declare } from '../declare.js';

export const generalParams = declare([
  { name: 'myhostname', type: 'string', default: 'localhost.localdomain', doc: 'The fully-qualified name of this host (default: the system host name).' },
  { name: 'mydomain', type: 'string', default: 'localdomain', doc: 'The internet domain of this host (default: myhostname minus its first label).' },
  { name: 'myorigin', type: 'string', default: '$myhostname', doc: 'Domain appended to addresses without a domain.' },
  { name: 'mail_name', type: 'string', default: 'Postern', doc: 'The name shown in the SMTP greeting and Received headers.' },
  { name: 'config_directory', type: 'string', default: '/etc/postern', doc: 'The directory holding main.cf and master.cf (set from -c DIR).' },
  { name: 'queue_directory', type: 'string', default: '/var/spool/postern', doc: 'Where the durable queue database lives.' },
  { name: 'data_directory', type: 'string', default: '/var/lib/postern', doc: 'Where Postern keeps state that is not the queue (pid file, later caches).' },
  { name: 'mail_owner', type: 'string', default: 'postfix', doc: 'When set and Postern starts as root: the account it switches to after binding the listeners (queue and data directories are handed to it).' },
  { name: 'syslog_name', type: 'string', default: 'postfix', doc: 'Program name prefix in the mail log ("postfix/smtpd"); kept as Postfix so log readers match.' },
  { name: 'maillog_file', type: 'string', default: '', doc: 'The mail log file; empty means standard output.' },
  { name: 'default_process_limit', type: 'int', default: '100', min: 1, max: 1000000, doc: 'Default per-service session limit (master.cf maxproc "-").' },
  { name: 'inet_interfaces', type: 'list', default: 'all', doc: 'Addresses to listen on for services without an explicit host: all, loopback-only, or a list.' },
  { name: 'inet_protocols', type: 'list', default: 'all', doc: 'ipv4, ipv6 or all.' },
  { name: 'compatibility_level', type: 'string', default: '3.6', doc: 'Postfix compatibility level; Postern always uses the safe (level 3.6) defaults.' },
  { name: 'parent_domain_matches_subdomains', type: 'list', default: '', doc: 'Features where "example.com" also matches subdomains (Postfix 3.x default: none relevant here).' },
]);
