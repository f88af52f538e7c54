/**
 * What a restriction gets besides the facts: the services it may call, and reply builders
 * that word refusals the way Postfix does for each stage ("<x@y>: Recipient address
 * rejected: Access denied").
 */

import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { AddressResolver } from '../resolve/types.js';
import type { Dns } from '../dns/types.js';
import type { SessionFacts, Stage, Verdict } from './types.js';
import { reply, type Reply } from '../protocol/reply.js';
import type { Cidr } from './networks.js';

export interface PolicyContext {
  readonly params: Params;
  readonly tables: TableRegistry;
  readonly resolver: AddressResolver;
  readonly dns: Dns;
  readonly mynetworks: readonly Cidr[];
  /** Evaluate a restriction list given as words (restriction classes, access-table results). */
  evalWords(words: string[], facts: SessionFacts, stage: Stage, depth: number): Promise<Verdict>;
  isClass(name: string): boolean;
}

export type RestrictionFn = (facts: SessionFacts, stage: Stage, ctx: PolicyContext, arg: string | undefined, depth: number) => Promise<Verdict>;

export interface RestrictionDef {
  readonly fn: RestrictionFn;
  /** Consumes the next word as its argument (a table for check_*_access). */
  readonly takesArg?: boolean;
}

/** The thing a stage is about, and Postfix's name for it in reject texts. */
export function subject(facts: SessionFacts, stage: Stage): { key: string; what: string } {
  switch (stage) {
    case 'client':
      return { key: `${facts.client.name}[${facts.client.addr}]`, what: 'Client host rejected' };
    case 'helo':
      return { key: facts.helo ?? '', what: 'Helo command rejected' };
    case 'sender':
      return { key: facts.sender ?? '', what: 'Sender address rejected' };
    case 'relay':
    case 'recipient':
      return { key: facts.recipient ?? '', what: 'Recipient address rejected' };
    case 'data':
      return { key: 'DATA', what: 'Data command rejected' };
    case 'end_of_data':
      return { key: 'END-OF-MESSAGE', what: 'End-of-data rejected' };
    case 'etrn':
      return { key: facts.etrnDomain ?? '', what: 'ETRN command rejected' };
  }
}

/** "<key>: What rejected: text" with the code and an enhanced code of the same class. */
export function refusal(code: number, enhanced: string, key: string, what: string, text: string): Reply {
  return reply(code, enhanced, `<${key}>: ${what}: ${text}`);
}

export const DUNNO: Verdict = { kind: 'dunno' };
export const PERMIT: Verdict = { kind: 'permit' };
