/**
 * Queue IDs: upper-case hex like Postfix's short IDs (what pflogsumm and people grep for),
 * unique across restarts: milliseconds since the epoch × 4096 plus a counter; when more
 * than 4096 IDs are made in one millisecond the clock is borrowed from the future.
 */

let lastMs = 0;
let counter = 0;

export function newQueueId(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter >= 4096) {
    lastMs++;
    counter = 0;
  }
  return (lastMs * 4096 + counter).toString(16).toUpperCase();
}
