/**
 * The hand-off from session/ to cleanup/: one accepted transaction. The session never
 * touches the disk; cleanup adds headers (Received, prepends from policy), applies
 * whole-message effects and asks queue/ to store the message durably.
 */

import type { Reply } from '../protocol/reply.js';
import type { SessionFacts, TxnEffects } from '../policy/types.js';
import type { MilterSession } from '../milter/conversation.js';

export interface SubmittedRecipient {
  readonly address: string;
  readonly orcpt?: string;
  readonly notify?: readonly string[];
}

export interface Submission {
  /** Allocated by the session at the first accepted RCPT (Postfix logs "ID: client=…" then). */
  readonly queueId: string;
  readonly sender: string;
  readonly recipients: readonly SubmittedRecipient[];
  /** The message as received: CRLF line endings, dot-unstuffed, no Received added yet. */
  readonly data: Buffer;
  readonly facts: SessionFacts;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  readonly effects: TxnEffects;
  /** "name[addr]" for logs. */
  readonly clientLabel: string;
  /** The session's milter conversation: cleanup runs its end-of-message part. */
  readonly milters?: MilterSession;
}

export interface Cleanup {
  /** Make a queue ID for a new transaction (unique across restarts). */
  newQueueId(): string;
  /**
   * Store the message durably. Resolves to "250 2.0.0 Ok: queued as ID" only after the
   * message is fsync'd; to 451 4.3.0 / 452 4.3.1 when the write failed. Never rejects.
   */
  submit(s: Submission): Promise<Reply>;
}
