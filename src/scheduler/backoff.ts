/**
 * Retry timing, Postfix's qmgr rule (qmgr_active.c): a deferred message waits as long as
 * it has already been in the queue, but at least minimal_backoff_time and at most
 * maximal_backoff_time. Looking at time in queue rather than at the attempt count spreads
 * retries out (exponential backoff without per-message counters).
 */
export function nextRetryDelay(ageMs: number, minMs: number, maxMs: number): number {
  return Math.min(Math.max(ageMs, minMs), Math.max(minMs, maxMs));
}
