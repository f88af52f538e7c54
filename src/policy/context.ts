/**
 * What a restriction gets besides the facts (the services it may call, the identity it
 * speaks for in reply texts) and the reply builders that word refusals the way Postfix's
 * smtpd_check.c does: "<name>: <Class> rejected: <text>", reply code checked to be 4xx/5xx,
 * enhanced code forced into the same class, and address DSNs fixed per class
 * (smtpd_dsn_fix.c). Input: our own texts plus table values written by the admin.
 */

import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { AddressResolver } from '../resolve/types.js';
import type { Dns } from '../dns/types.js';
import type { CheckPoint, SessionFacts, Stage, Verdict } from './types.js';
import { reply, type Reply } from '../protocol/reply.js';
import type { NetworkList } from './mynetworks.js';
import type { StateStore } from '../state/types.js';

/** The state store as restrictions see it (check_greylist): the configured store, and how to report it down. */
export interface PolicyState {
  readonly primary: StateStore;
  unavailable(err: unknown, effect: string): void;
}
import type { PolicyClient } from './delegation/client.js';

/** Who a reply speaks about: Postfix's reply_name ("x@y", "host[1.2.3.4]") and reply_class ("Sender address"). */
export interface Who {
  readonly name: string;
  readonly cls: string;
}

export const CLASS = {
  client: 'Client host', helo: 'Helo command', sender: 'Sender address', recipient: 'Recipient address',
  etrn: 'Etrn command', data: 'Data command', eod: 'End-of-data',
} as const;

/** One restriction invocation. */
export interface Call {
  readonly facts: SessionFacts;
  /** The SMTP command being answered (connect, helo, mail, rcpt, …). */
  readonly point: CheckPoint;
  /** The list being evaluated (client, helo, sender, relay, recipient, …). */
  readonly stage: Stage;
  /** Reply identity of the list (a nested class inherits it). */
  readonly who: Who;
  /** The check_*_access a bare "type:table" word stands for in this list (Postfix's def_acl). */
  readonly defAcl: string | undefined;
  /** The word following the restriction name, for those that take one. */
  readonly arg?: string | undefined;
  readonly ctx: PolicyContext;
}

export interface PolicyContext {
  readonly params: Params;
  readonly tables: TableRegistry;
  readonly resolver: AddressResolver;
  readonly dns: Dns;
  readonly mynetworks: NetworkList;
  /** Greylist triplets (state/); absent in unit tests that do not need it. */
  readonly state?: PolicyState | undefined;
  /** The shared client for a check_policy_service endpoint, or why the endpoint is unusable. */
  policyClient(spec: string): PolicyClient | string;
  /** Evaluate a restriction list (a class, or an access-table value) one level deeper. */
  evalNested(words: readonly string[], call: Call, who: Who): Promise<Verdict>;
  /** A line for the mail log ("NOQUEUE: warn: RCPT from …: text"). */
  note(action: 'warn' | 'info' | 'hold' | 'discard' | 'filter' | 'redirect' | 'warning', text: string): void;
  /** Whole-message effects for cleanup and the queue. */
  effect(e: { hold?: string; discard?: string; filter?: string; redirect?: string; prepend?: string }): void;
  /** DISCARD: stop evaluating (Postfix's state->discard). */
  markDiscard(): void;
  /**
   * reject_unlisted_recipient / _sender: true the first time the tables are to be consulted
   * for this request (the implicit check at the end is then skipped, like Postfix).
   */
  firstMapCheck(kind: 'recipient' | 'sender'): boolean;
}

export type RestrictionFn = (call: Call) => Promise<Verdict>;

export interface RestrictionDef {
  readonly fn: RestrictionFn;
  /** Consumes the next word as its argument (a table for check_*_access). */
  readonly takesArg?: boolean;
  /**
   * Start this restriction's DNS lookups without waiting (DNS lists). The engine calls it
   * for every later restriction of a list when it reaches the first one that has it, so a
   * list of five DNSBLs costs one round trip; the resolver shares the queries in flight.
   */
  readonly prefetch?: (call: Call) => void;
}

export const clientWho = (facts: SessionFacts): Who => ({ name: `${facts.client.name}[${facts.client.addr}]`, cls: CLASS.client });

/** Postfix's SMTPD_NAME_REV_CLIENT: replies about the unverified reverse client name. */
export const REV_CLIENT = 'Unverified Client host';

/** The identity and default access check of each list (smtpd_check.c: the generic_checks callers). */
export function stageWho(facts: SessionFacts, stage: Stage): { who: Who; defAcl: string | undefined } {
  switch (stage) {
    case 'client':
      return { who: clientWho(facts), defAcl: 'check_client_access' };
    case 'helo':
      return { who: { name: facts.helo ?? '', cls: CLASS.helo }, defAcl: 'check_helo_access' };
    case 'sender':
      return { who: { name: facts.sender ?? '', cls: CLASS.sender }, defAcl: 'check_sender_access' };
    case 'relay':
    case 'recipient':
      return { who: { name: facts.recipient ?? '', cls: CLASS.recipient }, defAcl: 'check_recipient_access' };
    case 'etrn':
      return { who: { name: facts.etrnDomain ?? '', cls: CLASS.etrn }, defAcl: 'check_etrn_access' };
    case 'data':
      return { who: { name: 'DATA', cls: CLASS.data }, defAcl: undefined };
    case 'end_of_data':
      return { who: { name: 'END-OF-MESSAGE', cls: CLASS.eod }, defAcl: undefined };
  }
}

/** Replies that may not be turned into warnings or deferrals (Postfix's MAIL_ERROR_SOFTWARE/RESOURCE/DATA). */
const internalReplies = new WeakSet<Reply>();
export const isInternal = (r: Reply): boolean => internalReplies.has(r);

/** A refusal reply, validated like smtpd_check_reject(): bad codes become "450 4.7.1 Service unavailable". */
export function refusalReply(code: number, dsn: string, text: string): Reply {
  if (!Number.isInteger(code) || code < 400 || code > 599 || !/^[245]\.\d{1,3}\.\d{1,3}$/.test(dsn)) return reply(450, '4.7.1', 'Service unavailable');
  // A reply line is at most 512 octets (RFC 5321 §4.5.3.1.5); Postfix truncates and makes the text printable.
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 500);
  return reply(code, dsn, clean);
}

export function asVerdict(r: Reply): Verdict {
  return r.code >= 500 ? { kind: 'reject', reply: r } : { kind: 'defer', reply: r };
}

/** "<name>: Class rejected: text", as a reject (5xx) or defer (4xx) verdict. */
export function refuse(code: number, dsn: string, who: Who, text: string): Verdict {
  return asVerdict(refusalReply(code, dsn, `<${who.name}>: ${who.cls} rejected: ${text}`));
}

/** "451 4.3.5 Server configuration error" (reject_server_error): never a warning. */
export function serverError(): Verdict {
  const r = reply(451, '4.3.5', 'Server configuration error');
  internalReplies.add(r);
  return { kind: 'defer', reply: r };
}

/** "451 4.3.0 <name>: Temporary lookup failure" (reject_dict_retry): never a warning. */
export function lookupFailure(name: string): Verdict {
  const r = reply(451, '4.3.0', `<${name}>: Temporary lookup failure`);
  internalReplies.add(r);
  return { kind: 'defer', reply: r };
}

const SENDER_DSN: Record<string, string> = { '1': '4.1.7', '2': '4.1.8', '3': '4.1.7', '4': '4.1.7', '5': '4.1.0', '6': '4.1.7', '7': '4.1.7', '8': '4.1.8' };
const RCPT_DSN: Record<string, string> = { '1': '4.1.1', '2': '4.1.2', '3': '4.1.3', '4': '4.1.4', '5': '4.1.5', '6': '4.1.6', '7': '4.1.3', '8': '4.1.2' };

/**
 * smtpd_dsn_fix(): an X.1.Y (address) status names the wrong address when it is used for
 * another kind of request, so map it to the sender or recipient code, or X.0.0 otherwise.
 */
export function dsnFix(dsn: string, cls: string): string {
  const m = /^([245])\.1\.(\d{1,3})$/.exec(dsn);
  if (!m) return dsn;
  const table = cls === CLASS.sender ? SENDER_DSN : cls === CLASS.recipient ? RCPT_DSN : undefined;
  const fixed = table ? (table[m[2]!] ?? '4.1.0') : '4.0.0';
  return m[1] + fixed.slice(1);
}

export const DUNNO: Verdict = { kind: 'dunno' };
export const PERMIT: Verdict = { kind: 'permit' };
