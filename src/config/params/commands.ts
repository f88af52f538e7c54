/**
 * Delivery to external commands and files: pipe(8) services and local(8) alias entries
 * "|command" and "/path/mbox" (see config/declare.ts). Per-transport overrides such as
 * dovecot_time_limit are read with Params.byTransport().
 */
import { declare } from '../declare.js';

export const commandParams = declare([
  { name: 'allow_mail_to_commands', type: 'list', default: 'alias, forward', doc: 'Where local(8) may deliver to "|command" entries: alias, forward, include (a class not listed bounces with 5.7.1).' },
  { name: 'allow_mail_to_files', type: 'list', default: 'alias, forward', doc: 'Where local(8) may deliver to "/file" entries: alias, forward, include (a class not listed bounces with 5.7.1).' },
  { name: 'default_privs', type: 'string', default: 'nobody', doc: 'The account whose rights alias deliveries to commands and files run with (never root).' },
  { name: 'command_time_limit', type: 'time', default: '1000s', timeUnit: 's', min: 1, doc: 'Time limit for a delivery to a command (pipe: <transport>_time_limit overrides it).' },
  { name: 'command_expansion_filter', type: 'string', default: '1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', doc: 'Characters allowed in the environment values given to alias commands; others become "_".' },
  { name: 'export_environment', type: 'list', default: 'TZ MAIL_CONFIG LANG', doc: 'Environment variables passed on to external commands (PATH is always /usr/bin:/bin).' },
  { name: 'mailbox_size_limit', type: 'int', default: '51200000', min: 0, doc: 'Largest mbox file an alias "/file" delivery may grow, in bytes (0: no limit).' },
]);
