/**
 * Loop protection by hop count (postconf(5) hopcount_limit): a message that has passed
 * through too many MTAs is looping, and is bounced instead of delivered once more.
 * Postfix counts Received: headers in cleanup (reaching the limit: "too many hops");
 * delivery agents here call checkHops before delivering, so mail that entered the queue by
 * any path is covered. Forwarding loops through one mailbox are caught by Delivered-To
 * in delivery/maildir/agent.ts. Input: the queued message bytes (untrusted content).
 */

import { headerEnd } from './original.js';

/** Received: headers in the primary header section (continuation lines not counted). */
export function countReceived(data: Buffer): number {
  const head = data.subarray(0, headerEnd(data)).toString('latin1');
  let n = 0;
  for (const line of head.split('\n')) if (/^received[ \t]*:/i.test(line)) n++;
  return n;
}

/**
 * The bounce for a message at or over hopcount_limit Received: headers (Postfix's cleanup
 * rejects when the count reaches the limit), else undefined. RFC 3463 5.4.6 "routing loop
 * detected".
 */
export function checkHops(data: Buffer, hopcountLimit: number): { status: 'bounced'; dsn: string; text: string } | undefined {
  const hops = countReceived(data);
  if (hops < hopcountLimit) return undefined;
  return { status: 'bounced', dsn: '5.4.6', text: `too many hops (${hops} Received: headers, hopcount_limit = ${hopcountLimit})` };
}

/** cleanup's SMTP reply for the same condition at DATA time, as Postfix words it. */
export const TOO_MANY_HOPS_REPLY = { code: 554, enhanced: '5.4.0', text: 'Error: too many hops' } as const;
