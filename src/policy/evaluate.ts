/**
 * One evaluation of restriction lists, with the state Postfix keeps in SMTPD_STATE while
 * it runs generic_checks(): the recursion level, warn_if_reject (armed at a level, it
 * covers the next restriction — a whole class counts as one), the remembered
 * defer_if_permit / defer_if_reject replies (first reason wins), the DISCARD flag, and
 * whether the recipient/sender tables were already consulted. A refusal is "settled" where
 * it happens, as smtpd_check_reject() does: logged as reject_warning under warn_if_reject
 * (never for internal errors), or replaced by the defer_if_reject reply when it is a 5xx.
 */

import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { AddressResolver } from '../resolve/types.js';
import type { Dns } from '../dns/types.js';
import type { CheckPoint, PolicyNote, SessionFacts, Stage, TxnEffects, Verdict } from './types.js';
import type { Call, PolicyContext, PolicyState, Who } from './context.js';
import { DUNNO, isInternal, serverError } from './context.js';
import type { NetworkList } from './mynetworks.js';
import type { PolicyClient } from './delegation/client.js';
import { registry, notYet, WARN_IF_REJECT } from './registry.js';
import { replyForLog, type Reply } from '../protocol/reply.js';

export interface EngineParts {
  readonly params: Params;
  readonly tables: TableRegistry;
  readonly resolver: AddressResolver;
  readonly dns: Dns;
  readonly mynetworks: NetworkList;
  readonly classes: ReadonlyMap<string, readonly string[]>;
  readonly state?: PolicyState | undefined;
  readonly policyClient: (spec: string) => PolicyClient | string;
}

/**
 * One evaluation asks each DNS question once: a query prefetched in parallel and awaited
 * later by its restriction is the same promise, even when it failed (failures are not
 * cached by dns/, and a second try would cost a second timeout).
 */
function onceEach(dns: Dns): Dns {
  const memo = new Map<string, Promise<unknown>>();
  const once = <K extends keyof Dns>(kind: K) => (name: string): ReturnType<Dns[K]> => {
    const key = `${kind} ${name.toLowerCase()}`;
    let p = memo.get(key);
    if (!p) memo.set(key, (p = (dns[kind] as (n: string) => Promise<unknown>)(name)));
    return p as ReturnType<Dns[K]>;
  };
  return { a: once('a'), aaaa: once('aaaa'), ptr: once('ptr'), mx: once('mx'), txt: once('txt'), ns: once('ns') };
}

/** Access-table values may name classes that name tables that name classes…; Postfix stops at 100. */
const MAX_RECURSION = 100;

export class Evaluation {
  readonly notes: PolicyNote[] = [];
  readonly effects: TxnEffects = { prepend: [] };
  recursion = 0;
  warnIfReject = 0;
  deferIfPermit: Reply | undefined;
  deferIfReject: Reply | undefined;
  discard = false;
  private readonly mapChecked = { recipient: false, sender: false };
  readonly ctx: PolicyContext;

  constructor(private readonly parts: EngineParts) {
    const self = this;
    this.ctx = {
      params: parts.params, tables: parts.tables, resolver: parts.resolver, dns: onceEach(parts.dns), mynetworks: parts.mynetworks, state: parts.state,
      policyClient: parts.policyClient,
      evalNested: (words, call, who) => self.evalList(words, { ...call, who }),
      note: (action, text) => void self.notes.push({ action, text }),
      effect: (e) => {
        if (e.hold !== undefined) self.effects.hold = e.hold;
        if (e.discard !== undefined) self.effects.discard = e.discard;
        if (e.filter !== undefined) self.effects.filter = e.filter;
        if (e.redirect !== undefined) self.effects.redirect = e.redirect;
        if (e.prepend !== undefined) self.effects.prepend.push(e.prepend);
      },
      markDiscard: () => void (self.discard = true),
      firstMapCheck: (kind) => {
        if (self.mapChecked[kind]) return false;
        // Under warn_if_reject the lookup is only a warning, so the real check still runs later.
        if (!self.warnIfReject) self.mapChecked[kind] = true;
        return true;
      },
    };
  }

  /** SMTPD_CHECK_RESET: a new group of lists (client; helo; sender; relay+recipient; …). */
  reset(deferIfPermit: Reply | undefined): void {
    this.recursion = 0;
    this.warnIfReject = 0;
    this.deferIfReject = undefined;
    this.deferIfPermit = deferIfPermit;
  }

  recipientChecked(): boolean {
    return this.mapChecked.recipient;
  }

  senderChecked(): boolean {
    return this.mapChecked.sender;
  }

  /** smtpd_check_reject(): what a refusal becomes under warn_if_reject / defer_if_reject. */
  settle(v: Verdict): Verdict {
    if (v.kind === 'defer_if_permit') {
      // With warn_if_reject armed, Postfix logs it like any other refusal instead.
      if (!this.warnIfReject) {
        this.deferIfPermit ??= v.reply;
        return DUNNO;
      }
      return this.settle({ kind: 'defer', reply: v.reply });
    }
    if (v.kind === 'defer_if_reject') {
      this.deferIfReject ??= v.reply;
      return DUNNO;
    }
    if (v.kind !== 'reject' && v.kind !== 'defer') return v;
    if (this.warnIfReject && !isInternal(v.reply)) {
      this.notes.push({ action: 'reject_warning', text: replyForLog(v.reply) });
      return DUNNO;
    }
    if (this.deferIfReject && v.reply.code >= 500) {
      const r = this.deferIfReject;
      this.deferIfReject = undefined;
      this.warnIfReject = 0;
      return { kind: 'defer', reply: r };
    }
    return v;
  }

  /** generic_checks(): the first permit, reject or defer decides; returns permit, reject, defer or dunno. */
  async evalList(words: readonly string[], base: Omit<Call, 'arg' | 'ctx'>): Promise<Verdict> {
    const saved = this.recursion++;
    let status: Verdict = DUNNO;
    let prefetched = false;
    try {
      if (this.recursion > MAX_RECURSION) return this.settle(serverError());
      for (let i = 0; i < words.length; i++) {
        if (this.discard) break;
        const w = words[i]!;
        const name = w.toLowerCase();
        if (name === WARN_IF_REJECT) {
          if (!this.warnIfReject) this.warnIfReject = this.recursion;
          continue;
        }
        let v: Verdict;
        const def = registry.get(name);
        const nested = this.parts.classes.get(w);
        if (def) {
          if (def.prefetch && !prefetched) {
            prefetched = true;
            this.prefetch(words, i, base);
          }
          const arg = def.takesArg ? words[++i] : undefined;
          v = await def.fn({ ...base, arg, ctx: this.ctx });
        } else if (nested) {
          v = await this.evalList(nested, base);
        } else if (notYet.has(name)) {
          // Reported by `postern check` as not supported yet; skipped here.
          if (notYet.get(name)!.takesArg) i++;
          v = DUNNO;
        } else if (w.includes(':') && base.defAcl) {
          v = await registry.get(base.defAcl)!.fn({ ...base, arg: w, ctx: this.ctx });
        } else {
          // Unknown names in configured lists are refused at startup; this is a table value.
          v = serverError();
        }
        v = this.settle(v);
        if (this.warnIfReject >= this.recursion) this.warnIfReject = 0;
        if (v.kind !== 'dunno') {
          status = v;
          break;
        }
        if (this.deferIfPermit && this.deferIfReject) break;
      }
      return status;
    } finally {
      this.recursion = saved;
      if (this.warnIfReject >= this.recursion) this.warnIfReject = 0;
    }
  }

  /** Start the lookups of every prefetching restriction from position `from` to the end of the list. */
  private prefetch(words: readonly string[], from: number, base: Omit<Call, 'arg' | 'ctx'>): void {
    for (let i = from; i < words.length; i++) {
      const def = registry.get(words[i]!.toLowerCase());
      if (!def) continue;
      const arg = def.takesArg ? words[++i] : undefined;
      def.prefetch?.({ ...base, arg, ctx: this.ctx });
    }
  }

  /** Evaluate one configured list for a stage. */
  run(words: readonly string[], facts: SessionFacts, point: CheckPoint, stage: Stage, who: Who, defAcl: string | undefined): Promise<Verdict> {
    return this.evalList(words, { facts, point, stage, who, defAcl });
  }
}
