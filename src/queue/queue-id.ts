/**
 * Queue IDs: upper-case hex like Postfix's short IDs (what pflogsumm and people grep for),
 * 11 characters until 2054, then 12. Value = milliseconds since 2020-01-01 × 16 + a
 * slot, so IDs sort by time. Postfix gets uniqueness from the queue file's inode; we have
 * no file per message, so time it is, with the slot space split between writers:
 *
 * - the daemon (newQueueId) uses slots 0–14: 15 IDs per millisecond; beyond that the clock
 *   is borrowed from the future, and a restart takes far longer than anything borrowed;
 * - local submission (`postern sendmail`, newLocalQueueId) always uses slot 15, so it can
 *   never take an ID the daemon hands out, whenever either runs. Two `sendmail` processes in
 *   the same millisecond can still meet: the loser's INSERT fails on the primary key and it
 *   retries with a new ID (cleanup/pickup.ts), before anything is logged under the ID.
 */

const EPOCH_MS = Date.UTC(2020, 0, 1);
const PER_MS = 16;
/** Slots 0..DAEMON_SLOTS-1 belong to the daemon; the last one to local submission. */
const DAEMON_SLOTS = PER_MS - 1;
const LOCAL_SLOT = PER_MS - 1;

let lastMs = 0;
let counter = 0;
let lastLocalMs = 0;

export function newQueueId(now: number = Date.now()): string {
  const ms = Math.max(0, now - EPOCH_MS);
  if (ms > lastMs) {
    lastMs = ms;
    counter = 0;
  } else if (++counter >= DAEMON_SLOTS) {
    lastMs++;
    counter = 0;
  }
  return (lastMs * PER_MS + counter).toString(16).toUpperCase();
}

/** An ID for a message submitted by a separate process (sendmail): slot 15, one per millisecond. */
export function newLocalQueueId(now: number = Date.now()): string {
  const ms = Math.max(0, now - EPOCH_MS);
  lastLocalMs = ms > lastLocalMs ? ms : lastLocalMs + 1;
  return (lastLocalMs * PER_MS + LOCAL_SLOT).toString(16).toUpperCase();
}

/** True for an ID that only local submission hands out. */
export function isLocalQueueId(id: string): boolean {
  return /^[0-9A-F]+$/.test(id) && Number.parseInt(id.slice(-1), 16) === LOCAL_SLOT;
}
