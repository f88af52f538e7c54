/** DNS parameters (see config/declare.ts). */
import { declare } from '../declare.js';

export const dnsParams = declare([
  { name: 'postern_dns_lookups', type: 'bool', default: 'yes', doc: 'Ask DNS at all. "no" answers every lookup with a temporary failure (mail to remote domains waits in the queue, DNS-based checks never match): for the demo, tests and hosts without a resolver.', posternOnly: true },
  { name: 'dns_servers', type: 'list', default: '', doc: 'DNS servers to ask ("127.0.0.1:5353"); empty: those of /etc/resolv.conf.', posternOnly: true },
  { name: 'dns_timeout', type: 'time', default: '1s', timeUnit: 's', min: 0, doc: 'Time to wait for one DNS answer.', posternOnly: true },
  { name: 'dns_tries', type: 'int', default: '2', min: 1, max: 10, doc: 'Tries per DNS query.', posternOnly: true },
  { name: 'smtpd_peername_lookup', type: 'bool', default: 'yes', doc: 'Look up the client host name (PTR, forward-confirmed); "no" logs "unknown".' },
]);
