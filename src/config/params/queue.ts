/** Queue and scheduler parameters (see config/declare.ts). */
import { declare } from '../declare.js';

export const queueParams = declare([
  { name: 'queue_run_delay', type: 'time', default: '300s', timeUnit: 's', min: 1, doc: 'How often the deferred queue is scanned.' },
  { name: 'minimal_backoff_time', type: 'time', default: '300s', timeUnit: 's', min: 1, doc: 'Shortest wait before retrying a deferred message.' },
  { name: 'maximal_backoff_time', type: 'time', default: '4000s', timeUnit: 's', min: 1, doc: 'Longest wait between retries.' },
  { name: 'maximal_queue_lifetime', type: 'time', default: '5d', timeUnit: 'd', doc: 'How long a message may stay deferred before it is returned.' },
  { name: 'bounce_queue_lifetime', type: 'time', default: '5d', timeUnit: 'd', doc: 'Queue lifetime for bounce messages.' },
  { name: 'delay_warning_time', type: 'time', default: '0h', timeUnit: 'h', doc: 'Send the sender a delay warning (headers only) once mail has been queued this long (0: never).' },
  { name: 'local_destination_concurrency_limit', type: 'int', default: '2', min: 0, doc: 'Parallel deliveries per local recipient; accepted, not enforced yet (Postern limits the total: postern_delivery_concurrency_limit).' },
  { name: 'postern_delivery_concurrency_limit', type: 'int', default: '20', min: 1, max: 1000, doc: 'Most messages being delivered at once, all delivery agents together.', posternOnly: true },
  { name: 'postern_queue_group_commit_max', type: 'int', default: '64', min: 1, max: 10000, doc: 'Most messages committed to the queue in one fsync.', posternOnly: true },
]);
