/**
 * The queue's typed values. A QueuedMessage is what cleanup hands to the queue and what
 * the scheduler reads back: envelope, per-recipient state and the message bytes
 * (headers already added by cleanup, CRLF line endings, dot-unstuffed).
 */

export interface QueuedRecipient {
  readonly address: string;
  /** RFC 3461 ORCPT, as given ("rfc822;user@example.com"). */
  readonly orcpt?: string;
  /** RFC 3461 NOTIFY list, e.g. ["SUCCESS","FAILURE"] or ["NEVER"]. */
  readonly notify?: readonly string[];
  status: 'pending' | 'deferred' | 'done';
  /** A delay warning (delay_warning_time) was already sent for this recipient. */
  delayNotified?: boolean;
  /** Last deferral or bounce reason, shown by `postern queue`. */
  reason?: string;
}

export interface QueuedMessage {
  readonly id: string;
  /** Arrival time, ms since epoch. */
  readonly arrival: number;
  /** Envelope sender; "" for <>. */
  readonly sender: string;
  readonly recipients: QueuedRecipient[];
  /** Message bytes as stored (Received header included). */
  readonly data: Buffer;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  /** "name[addr]" of the client, for delivery logs and bounces. */
  readonly client: string;
  /** Whole-message actions from policy/cleanup. */
  readonly hold?: string;
  readonly filter?: string;
  /** When the scheduler should next try (ms since epoch). */
  nextAttempt: number;
  attempts: number;
}

/** Why a durable write failed, in SMTP terms ('exists': the queue ID is taken). */
export class QueueWriteError extends Error {
  constructor(message: string, readonly kind: 'io' | 'nospace' | 'exists') {
    super(message);
    this.name = 'QueueWriteError';
  }
}
