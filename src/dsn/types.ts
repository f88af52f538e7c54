/**
 * The typed values of dsn/: what one delivery attempt reports per recipient (the input the
 * scheduler hands over), the settings read from main.cf, and the notices to enqueue.
 * RFC 3461 (NOTIFY, ORCPT, RET, ENVID), RFC 3464 (the report), Postfix bounce(8).
 */

import type { QueuedMessage } from '../queue/types.js';

/** One recipient's result of one delivery attempt, as the scheduler logged it. */
export interface AttemptResult {
  /** Final address (after alias expansion): Final-Recipient. */
  readonly recipient: string;
  /** The address as received, when alias expansion changed it: "(expanded from <…>)". */
  readonly originalRecipient?: string;
  /** RFC 3461 ORCPT as received ("rfc822;user@example.com"): Original-Recipient, verbatim. */
  readonly orcpt?: string;
  /** RFC 3461 NOTIFY list as received (["SUCCESS","DELAY"], ["NEVER"]); absent: FAILURE (and DELAY). */
  readonly notify?: readonly string[];
  /**
   * sent, deferred (temporary failure), bounced (permanent failure), or expired (still
   * deferred when the queue lifetime ran out: returned to the sender like a bounce).
   */
  readonly status: 'sent' | 'deferred' | 'bounced' | 'expired';
  /** RFC 3463 code: Status ("5.1.1"; for expired mail the last deferral's "4.4.1"). */
  readonly dsn: string;
  /** The reason as logged in "status=… (text)": the human part's "<rcpt>: text". */
  readonly text: string;
  /** Diagnostic-Code with its type: "smtp; 550 5.1.1 <x>: User unknown"; absent: "X-Postfix; text". */
  readonly diagnostic?: string;
  /** Remote-MTA with its type: "dns; mx.example.com". */
  readonly remoteMta?: string;
  /** Delivered to a peer without DSN support (Action: relayed rather than delivered). */
  readonly relayed?: boolean;
  /** Handed to a DSN-capable peer with NOTIFY passed on: that peer reports success, not we. */
  readonly dsnPassedOn?: boolean;
  /** A resource or software problem (notify_classes resource/software: tell the postmaster). */
  readonly errorClass?: 'resource' | 'software';
  /** When this attempt ended (ms since epoch): Last-Attempt-Date; default: the plan's `now`. */
  readonly at?: number;
}

/** What of the queued message a notice needs. */
export type OriginalMessage = Pick<QueuedMessage, 'id' | 'arrival' | 'sender' | 'data' | 'envid' | 'ret' | 'bodyType' | 'smtputf8'>;

/** main.cf values dsn/ uses, read once (dsn/settings.ts); addresses already qualified. */
export interface DsnSettings {
  /** notify_classes, lower-cased; "bounce" also adds "2bounce" (postconf(5)). */
  readonly notifyClasses: ReadonlySet<string>;
  readonly bounceNoticeRecipient: string;
  readonly twoBounceNoticeRecipient: string;
  readonly delayNoticeRecipient: string;
  readonly errorNoticeRecipient: string;
  readonly delayWarningMs: number;
  readonly maximalQueueLifetimeMs: number;
  /** 0: no limit. */
  readonly bounceSizeLimit: number;
  readonly hopcountLimit: number;
  readonly myhostname: string;
  readonly mydomain: string;
  readonly myorigin: string;
  /** double_bounce_sender@$myhostname: sender of postmaster notices. */
  readonly doubleBounceSender: string;
  /** MAILER-DAEMON@$myorigin: the From: of every notice. */
  readonly mailerDaemon: string;
}

export type ReportKind = 'failure' | 'delay' | 'success';

/**
 * bounce: non-delivery notice to the sender; delay: delay warning to the sender; success:
 * NOTIFY=SUCCESS report to the sender; postmaster-copy: headers-only copy of a bounce or
 * delay warning (notify_classes bounce/delay) or a resource/software notice; double-bounce:
 * a notice about mail from <> (a bounce), which goes to the postmaster, never to <>.
 */
export type NoticeKind = 'bounce' | 'delay' | 'success' | 'postmaster-copy' | 'double-bounce';

/** The words after "ORIGID: " in Postfix's postfix/bounce log line (then ": NEWID"). */
export type NoticeLogAs =
  | 'sender non-delivery notification'
  | 'sender delay notification'
  | 'sender delivery status notification'
  | 'postmaster non-delivery notification'
  | 'postmaster delay notification';

/** One message to enqueue. */
export interface Notice {
  readonly kind: NoticeKind;
  readonly report: ReportKind;
  /** The new message's queue ID (already in its Message-Id header). */
  readonly id: string;
  /** "" (the null sender), or double_bounce_sender@$myhostname for postmaster notices. */
  readonly sender: string;
  readonly recipients: readonly string[];
  /** The whole message, CRLF line endings. */
  readonly data: Buffer;
  /** Body type for the queue record: 8BITMIME when the returned original is 8-bit. */
  readonly bodyType: '7BIT' | '8BITMIME';
  readonly smtputf8: boolean;
  readonly logAs: NoticeLogAs;
}

/** planNotices' answer: notices to enqueue, and log lines Postfix writes when it sends none. */
export interface NoticePlan {
  readonly notices: Notice[];
  /** "undeliverable postmaster notification discarded" (log as warning, program bounce). */
  readonly warnings: string[];
  /** "not sending trace/success notification for …" (log as info, program bounce). */
  readonly infos: string[];
}
