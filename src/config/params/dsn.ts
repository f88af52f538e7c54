/**
 * Delivery status notification parameters (bounce(8), postconf(5)): who gets bounces,
 * delay warnings and postmaster copies, how much of the original a bounce carries, and the
 * hop limit that stops mail loops. Read by dsn/settings.ts (see config/declare.ts).
 */
import { declare } from '../declare.js';

export const dsnParams = declare([
  { name: 'notify_classes', type: 'list', default: 'resource, software', doc: 'Error classes reported to the postmaster: bounce (implies 2bounce), 2bounce, delay, resource, software (policy, protocol, data: accepted, nothing to report yet).' },
  { name: 'bounce_notice_recipient', type: 'string', default: 'postmaster', doc: 'Recipient of postmaster copies (headers only) of bounces, with notify_classes = bounce.' },
  { name: '2bounce_notice_recipient', type: 'string', default: 'postmaster', doc: 'Recipient of undeliverable bounces (double bounces), with notify_classes = 2bounce or bounce.' },
  { name: 'delay_notice_recipient', type: 'string', default: 'postmaster', doc: 'Recipient of postmaster copies of delay warnings, with notify_classes = delay.' },
  { name: 'error_notice_recipient', type: 'string', default: 'postmaster', doc: 'Recipient of postmaster notices about resource and software problems, with notify_classes = resource or software.' },
  { name: 'bounce_size_limit', type: 'int', default: '50000', min: 0, doc: 'Largest original returned whole in a bounce (bytes); a larger one is returned as headers only (0: no limit).' },
  { name: 'double_bounce_sender', type: 'string', default: 'double-bounce', doc: 'Sender of postmaster notices (qualified with @$myhostname); notices to it are discarded, ending bounce loops.' },
  { name: 'hopcount_limit', type: 'int', default: '50', min: 1, doc: 'Most Received: headers a message may carry; at the limit it is bounced (too many hops), to stop mail loops.' },
]);
