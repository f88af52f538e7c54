/**
 * The restriction engine's vocabulary: what a restriction sees (SessionFacts), what one
 * restriction returns (Verdict), and what the engine hands back to the session (Decision).
 *
 * Restrictions never write to the socket or the log; the session turns a Decision into a
 * reply and the log lines ("NOQUEUE: reject: RCPT from …"), since only it knows the queue ID.
 */

import type { Reply } from '../protocol/reply.js';
import type { Params } from '../config/types.js';

export interface ClientInfo {
  readonly addr: string;
  readonly port: number;
  /** Verified reverse name (PTR whose A/AAAA matches), or "unknown". */
  readonly name: string;
  /** Unverified PTR name, or "unknown" (Postfix's reverse_client_name). */
  readonly reverseName: string;
  /** 'tempfail' when the PTR or forward lookup failed temporarily (reject_unknown_client → 450). */
  readonly nameStatus: 'ok' | 'unknown' | 'tempfail';
  /**
   * The PTR lookup alone (reject_unknown_reverse_client_hostname). When absent: 'ok' if
   * reverseName is known, else 'tempfail' or 'unknown' as nameStatus says.
   */
  readonly reverseStatus?: 'ok' | 'unknown' | 'tempfail';
}

/** Everything a restriction may look at, for one check point of one session. */
export interface SessionFacts {
  readonly client: ClientInfo;
  /** Postfix's service name, e.g. "smtp", "submission", "127.0.0.1:2525". */
  readonly serviceName: string;
  /** The listener's effective parameters (main.cf + -o overrides). */
  readonly params: Params;
  readonly helo?: string;
  readonly protocol: 'SMTP' | 'ESMTP';
  readonly tls: boolean;
  readonly tlsProtocol?: string;
  readonly tlsCipher?: string;
  readonly tlsBits?: number;
  readonly saslUsername?: string;
  readonly saslMethod?: string;
  /** undefined before MAIL FROM; "" for the null sender <>. */
  readonly sender?: string;
  /** The recipient being checked (RCPT stage), as given by the client, without <>. */
  readonly recipient?: string;
  /** Recipients accepted so far in this transaction. */
  readonly recipientCount: number;
  /** Client sent commands before the greeting, or pipelined without PIPELINING. */
  readonly unauthPipelining: boolean;
  /** Client used ETRN argument (ETRN stage). */
  readonly etrnDomain?: string;
  /** The queue ID once one is assigned (after the first accepted recipient). */
  readonly queueId?: string;
  /** MAIL FROM SIZE= (the declared message size), when given. */
  readonly size?: number;
  /** An identifier stable for one MAIL transaction (policy delegation's "instance"). */
  readonly instance?: string;
  /** Our end of the connection (policy delegation's server_address / server_port). */
  readonly server?: { readonly addr: string; readonly port: number };
  /** Recipients accepted so far, for the DATA and end-of-data stages. */
  readonly recipients?: readonly string[];
}

export type Stage = 'client' | 'helo' | 'sender' | 'relay' | 'recipient' | 'data' | 'end_of_data' | 'etrn';

/** The SMTP command at which the engine is asked. */
export type CheckPoint = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'end_of_data' | 'etrn';

/** What one restriction says. */
export type Verdict =
  | { readonly kind: 'dunno' }
  | { readonly kind: 'permit' }
  | { readonly kind: 'reject'; readonly reply: Reply }
  | { readonly kind: 'defer'; readonly reply: Reply }
  | { readonly kind: 'defer_if_permit'; readonly reply: Reply }
  | { readonly kind: 'defer_if_reject'; readonly reply: Reply }
  /** Log a warning and go on (access table WARN). */
  | { readonly kind: 'warn'; readonly text: string }
  /** Whole-message actions from access tables; evaluation goes on as for DUNNO. */
  | { readonly kind: 'hold'; readonly text: string }
  | { readonly kind: 'discard'; readonly text: string }
  | { readonly kind: 'prepend'; readonly header: string }
  | { readonly kind: 'filter'; readonly nexthop: string }
  | { readonly kind: 'redirect'; readonly address: string };

/** Side effects a transaction carries to cleanup and the queue. */
export interface TxnEffects {
  hold?: string;
  discard?: string;
  filter?: string;
  redirect?: string;
  prepend: string[];
}

/**
 * A line the session must log, e.g. action "reject_warning" with text
 * "554 5.7.1 <x@y>: Relay access denied" → "NOQUEUE: reject_warning: RCPT from …: <text>; from=<…> …".
 */
export interface PolicyNote {
  /** 'warning' is a plain "warning: <text>" line (a DNS list that failed, a policy server that is down). */
  readonly action: 'reject_warning' | 'warn' | 'info' | 'hold' | 'discard' | 'filter' | 'redirect' | 'prepend' | 'warning';
  readonly text: string;
}

export interface Decision {
  /** undefined: go ahead. Otherwise the 4xx/5xx reply to send. */
  readonly reply?: Reply;
  readonly notes: readonly PolicyNote[];
  /** Effects to merge into the transaction (only meaningful when there is no reply). */
  readonly effects: Partial<TxnEffects>;
}

/** One restriction, by its Postfix name, for the stages it may appear in. */
export interface Restriction {
  (facts: SessionFacts, stage: Stage, args: RestrictionArgs): Promise<Verdict>;
}

export interface RestrictionArgs {
  /** Words following the restriction name that it consumed (e.g. the table for check_*_access). */
  readonly arg?: string;
}

export interface PolicyEngine {
  /** Run what Postfix runs at this point (honouring smtpd_delay_reject) and decide. */
  check(point: CheckPoint, facts: SessionFacts): Promise<Decision>;
}
