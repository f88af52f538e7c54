/**
 * The delivery-agent interface (maildir now; lmtp, smtp, pipe later): given a message and
 * the targets for one agent, return one outcome per target. Agents never throw for a
 * per-recipient failure; they return 'deferred' or 'bounced' with a DSN code and text.
 */

import type { QueuedMessage } from '../queue/types.js';
import type { DeliveryTarget } from '../resolve/types.js';

export interface DeliveryOutcome {
  readonly target: DeliveryTarget;
  readonly status: 'sent' | 'deferred' | 'bounced';
  /** RFC 3463 code, e.g. "2.0.0", "4.3.0", "5.1.1". */
  readonly dsn: string;
  /** Text in parentheses of the log line: "delivered to maildir". */
  readonly text: string;
  /** "local", "virtual", "mx.example.com[192.0.2.1]:25", … */
  readonly relay: string;
}

export interface DeliveryAgent {
  readonly name: string;
  deliver(msg: QueuedMessage, targets: readonly DeliveryTarget[]): Promise<DeliveryOutcome[]>;
}
