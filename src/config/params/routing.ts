/** Routing (trivial-rewrite's transport:nexthop choice) and the scheduler's per-destination limits (see config/declare.ts). */
import { declare } from '../declare.js';

export const routingParams = declare([
  { name: 'transport_maps', type: 'list', default: '', doc: 'Tables: recipient address or domain → transport:nexthop, overriding the built-in choice (transport(5)).' },
  { name: 'local_transport', type: 'string', default: 'local:$myhostname', doc: 'Transport for domains in mydestination; "local" is the built-in local(8) delivery (aliases, home Maildir).' },
  { name: 'virtual_transport', type: 'string', default: 'virtual', doc: 'Transport for virtual_mailbox_domains; "virtual" is the built-in Maildir delivery under virtual_mailbox_base.' },
  { name: 'relay_transport', type: 'string', default: 'relay', doc: 'Transport for relay_domains.' },
  { name: 'default_transport', type: 'string', default: 'smtp', doc: 'Transport for every other destination.' },
  { name: 'mailbox_transport', type: 'string', default: '', doc: 'local(8): deliver local users\' mailboxes through this transport (e.g. lmtp:unix:private/dovecot-lmtp) instead of home_mailbox.' },
  { name: 'fallback_transport', type: 'string', default: '', doc: 'local(8): transport for local recipients that are not UNIX users (instead of a bounce).' },
  { name: 'relayhost', type: 'string', default: '', doc: 'Next hop for non-local mail ([host]:port, host or domain for an MX lookup); empty: the recipient domain.' },
  { name: 'sender_dependent_relayhost_maps', type: 'list', default: '', doc: 'Tables: sender address or @domain → relayhost for that sender\'s mail.' },
  { name: 'defer_transports', type: 'list', default: '', doc: 'Transports whose mail is kept deferred until `postern queue flush` (postqueue -f).' },
  { name: 'default_destination_concurrency_limit', type: 'int', default: '20', min: 1, doc: 'Parallel deliveries to one destination (per transport; <transport>_destination_concurrency_limit overrides).' },
  { name: 'initial_destination_concurrency', type: 'int', default: '5', min: 1, doc: 'Parallel deliveries to a destination before its first success (<transport>_initial_destination_concurrency overrides).' },
  { name: 'default_destination_recipient_limit', type: 'int', default: '50', min: 1, doc: 'Recipients per delivery request (<transport>_destination_recipient_limit overrides; 1 means one request per recipient).' },
  { name: 'postern_destination_failure_backoff', type: 'bool', default: 'yes', doc: 'A destination whose connection fails is suspended until its next retry, so queued mail for it is deferred at once instead of each message trying again (Postfix\'s "delivery temporarily suspended").', posternOnly: true },
]);
