/** Retry timing, Postfix's qmgr rule: double the time spent in the queue, within [minimal, maximal] backoff. */
export function nextRetryDelay(attempts: number, minMs: number, maxMs: number): number {
  const d = minMs * 2 ** Math.max(0, attempts - 1);
  return Math.min(Math.max(d, minMs), maxMs);
}
