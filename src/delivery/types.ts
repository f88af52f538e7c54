/**
 * The delivery-agent interface (maildir now; lmtp, smtp, pipe later): given a message and
 * the targets for one agent, return one outcome per target. Agents never throw for a
 * per-recipient failure; they return 'deferred' or 'bounced' with a DSN code and text.
 */

import type { QueuedMessage } from '../queue/types.js';
import type { DeliveryTarget } from '../resolve/types.js';
import type { Params } from '../config/types.js';

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

/**
 * Transports (master.cf services of type smtp, lmtp, pipe, discard, error): the scheduler
 * groups routed recipients by (transport, nexthop) and hands each group to the agent for
 * the service's command, as Postfix's qmgr hands a delivery request to smtp(8)/pipe(8).
 */
export interface RoutedRecipient {
  /** The final address after alias expansion. */
  readonly recipient: string;
  /** The address as received (X-Original-To, orig_to=). */
  readonly originalRecipient: string;
  /** RFC 3461 ORCPT as received ("rfc822;user@example.com"), if any. */
  readonly orcpt?: string;
  /** RFC 3461 NOTIFY list, e.g. ["SUCCESS","FAILURE"] or ["NEVER"]. */
  readonly notify?: readonly string[];
}

export interface TransportRequest {
  readonly msg: QueuedMessage;
  /** The master.cf service name: "smtp", "relay", "lmtp", "dovecot", … */
  readonly transport: string;
  /** As routing produced it: "example.com", "[mx.example]:587", "unix:private/dovecot-lmtp", "inet:127.0.0.1:24", or "" (pipe: the recipient domain). */
  readonly nexthop: string;
  /** main.cf merged with the service's -o overrides. */
  readonly params: Params;
  /** The service's master.cf command arguments after the command (pipe: flags=… user=… argv=…). */
  readonly args: readonly string[];
  readonly recipients: readonly RoutedRecipient[];
}

export interface TransportOutcome {
  readonly recipient: RoutedRecipient;
  readonly status: 'sent' | 'deferred' | 'bounced';
  /** RFC 3463 code. */
  readonly dsn: string;
  /** Text in parentheses of the log line: "250 2.0.0 Ok: queued as 4Xyz", "connect to …: Connection refused". */
  readonly text: string;
  /** Log relay=: "mx.example[192.0.2.1]:25", "private/dovecot-lmtp", "dovecot", "none". */
  readonly relay: string;
  /** For the DSN report: "dns; mx.example" and "smtp; 550 5.1.1 <x>: User unknown". */
  readonly remoteMta?: string;
  readonly diagnostic?: string;
  /** Delivered to a peer without DSN support while NOTIFY=SUCCESS was asked (Action: relayed). */
  readonly relayed?: boolean;
  /** Delivered to a DSN-capable peer with NOTIFY passed on: that peer reports success, not we. */
  readonly dsnPassedOn?: boolean;
  /** Seconds spent on connection setup (delays=…/c/…); the rest is transmission. */
  readonly connectSeconds?: number;
}

export interface TransportAgent {
  deliver(req: TransportRequest): Promise<TransportOutcome[]>;
  close?(): Promise<void>;
}
