/**
 * The two trivial delivery agents, as Postfix's discard(8) and error(8): discard reports
 * every recipient delivered with the next hop as the reason; error bounces every recipient
 * with the next hop as the reason ("error:5.1.1 mailbox gone"), or defers them when the
 * service is named "retry" (Postfix's retry transport). The next-hop text is the admin's.
 */

import type { TransportAgent, TransportOutcome } from '../types.js';

/** "5.1.1 text" → { dsn: "5.1.1", text }; otherwise the default class code. */
function splitReason(nexthop: string, fallback: string): { dsn: string; text: string } {
  const m = /^([245]\.\d{1,3}\.\d{1,3})\s+(.*)$/s.exec(nexthop.trim());
  return m ? { dsn: m[1]!, text: m[2]! } : { dsn: fallback, text: nexthop.trim() };
}

export function createDiscardAgent(): TransportAgent {
  return {
    async deliver(req) {
      return req.recipients.map((r): TransportOutcome => ({ recipient: r, status: 'sent', dsn: '2.0.0', text: req.nexthop.trim() || 'discarded', relay: 'none' }));
    },
  };
}

export function createErrorAgent(): TransportAgent {
  return {
    async deliver(req) {
      const retry = req.transport === 'retry';
      const { dsn, text } = splitReason(req.nexthop, retry ? '4.0.0' : '5.0.0');
      const status = dsn.startsWith('4') || retry ? 'deferred' : 'bounced';
      return req.recipients.map((r): TransportOutcome => ({ recipient: r, status, dsn: retry && !dsn.startsWith('4') ? `4${dsn.slice(1)}` : dsn, text: text || (retry ? 'delivery temporarily suspended' : 'mail delivery failed'), relay: 'none' }));
    },
  };
}
