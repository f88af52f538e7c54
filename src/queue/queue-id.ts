/**
 * Queue IDs: upper-case hex like Postfix's short IDs (what pflogsumm and people grep for),
 * 11 characters until 2054, then 12. Value = milliseconds since 2020-01-01 × 16 + a
 * counter, so IDs sort by time and are unique within one process (16 per millisecond;
 * beyond that the clock is borrowed from the future) and across restarts (a restart takes
 * far longer than any borrowed time). Postfix gets uniqueness from the queue file's inode;
 * we have no file per message, so time it is.
 */

const EPOCH_MS = Date.UTC(2020, 0, 1);
const PER_MS = 16;

let lastMs = 0;
let counter = 0;

export function newQueueId(now: number = Date.now()): string {
  const ms = Math.max(0, now - EPOCH_MS);
  if (ms > lastMs) {
    lastMs = ms;
    counter = 0;
  } else if (++counter >= PER_MS) {
    lastMs++;
    counter = 0;
  }
  return (lastMs * PER_MS + counter).toString(16).toUpperCase();
}
