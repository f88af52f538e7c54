/**
 * The restriction engine, with Postfix's semantics (SMTPD_ACCESS_README, postconf(5)):
 * - each check point runs its lists in order; with smtpd_delay_reject = yes the client,
 *   HELO and sender lists run at RCPT time, before the relay and recipient lists;
 * - within a list the first PERMIT, REJECT or DEFER decides that list; PERMIT ends only
 *   that list, REJECT/DEFER end the whole check;
 * - warn_if_reject turns the next restriction's reject into a logged reject_warning;
 * - defer_if_permit / defer_if_reject remember a deferral that applies if the check ends
 *   in accept / reject;
 * - after the recipient lists, smtpd_reject_unlisted_recipient refuses unknown users in our
 *   own domains (Postfix applies it even to permitted clients, e.g. mynetworks).
 * Written here rather than taken from a library: no Node package implements Postfix's
 * restriction semantics.
 */

import { networkInterfaces } from 'node:os';
import type { Params, Diagnostic } from '../config/types.js';
import { ConfigError } from '../config/types.js';
import type { ParamStore } from '../config/params.js';
import { splitList } from '../config/params.js';
import type { TableRegistry } from '../tables/open.js';
import type { AddressResolver } from '../resolve/types.js';
import type { Dns } from '../dns/types.js';
import type { CheckPoint, Decision, PolicyEngine, PolicyNote, SessionFacts, Stage, TxnEffects, Verdict } from './types.js';
import type { PolicyContext } from './context.js';
import { DUNNO, PERMIT } from './context.js';
import { registry, notYet, WARN_IF_REJECT } from './registry.js';
import { implicitUnlistedRecipient } from './checks/destination.js';
import { parseCidr, type Cidr } from './networks.js';
import { replyForLog, reply, type Reply } from '../protocol/reply.js';

export interface PolicyDeps {
  tables: TableRegistry;
  resolver: AddressResolver;
  dns: Dns;
}

export const STAGE_PARAM: Record<Stage, string> = {
  client: 'smtpd_client_restrictions', helo: 'smtpd_helo_restrictions', sender: 'smtpd_sender_restrictions',
  relay: 'smtpd_relay_restrictions', recipient: 'smtpd_recipient_restrictions', data: 'smtpd_data_restrictions',
  end_of_data: 'smtpd_end_of_data_restrictions', etrn: 'smtpd_etrn_restrictions',
};

/** mynetworks, or its default from mynetworks_style (host: loopback and this host's own addresses). */
export function myNetworks(params: Params): Cidr[] {
  const items = params.list('mynetworks');
  if (!params.isSet('mynetworks') && items.length === 0) {
    const style = params.str('mynetworks_style');
    const out: Cidr[] = [parseCidr('127.0.0.0/8')!, parseCidr('::1/128')!];
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) {
        const prefix = style === 'host' ? (a.family === 'IPv4' ? 32 : 128) : Number(a.cidr?.split('/')[1] ?? 32);
        const c = parseCidr(`${a.address.split('%')[0]}/${prefix}`);
        if (c) out.push(c);
      }
    }
    return out;
  }
  return items.map((i) => parseCidr(i)).filter((c): c is Cidr => !!c);
}

interface EvalState {
  notes: PolicyNote[];
  effects: TxnEffects;
  deferIfPermit?: Reply;
  deferIfReject?: Reply;
}

/** A restriction-list problem found while compiling: unknown names, missing arguments. */
export function compileProblems(params: Params, classes: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const lists: [string, string[]][] = Object.values(STAGE_PARAM).map((p) => [p, params.list(p)]);
  for (const c of classes) lists.push([c, splitList((params as ParamStore).expand('$' + c))]);
  for (const [pname, words] of lists) {
    const at = params.origin(pname) ?? { file: '<default>', line: 0 };
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      const name = w.toLowerCase();
      const def = registry.get(name);
      const later = notYet.get(name);
      if (def?.takesArg || later?.takesArg) {
        if (i + 1 >= words.length) out.push({ severity: 'error', ...at, message: `${pname}: ${w} needs an argument (a table or domain)` });
        i++;
      }
      if (def || name === WARN_IF_REJECT || classes.has(w)) continue;
      if (later) {
        out.push({ severity: 'warning', ...at, message: `${pname}: restriction ${w} is not supported yet in Postern (planned: ${later.feature}); it is skipped` });
        continue;
      }
      out.push({ severity: 'error', ...at, message: `${pname}: unknown restriction "${w}"` });
    }
  }
  return out;
}

export function createPolicyEngine(params: Params, deps: PolicyDeps): PolicyEngine {
  const classes = new Set(params.list('smtpd_restriction_classes'));
  const problems = compileProblems(params, classes).filter((d) => d.severity === 'error');
  if (problems.length) throw new ConfigError(problems);
  const lists = new Map<Stage, string[]>((Object.keys(STAGE_PARAM) as Stage[]).map((s) => [s, params.list(STAGE_PARAM[s])]));
  const classLists = new Map([...classes].map((c) => [c, splitList((params as ParamStore).expand('$' + c))]));
  const mynetworks = myNetworks(params);
  const delayReject = params.bool('smtpd_delay_reject');
  const unlistedRecipient = params.bool('smtpd_reject_unlisted_recipient');

  function contextFor(state: EvalState): PolicyContext {
    const ctx: PolicyContext = {
      params, tables: deps.tables, resolver: deps.resolver, dns: deps.dns, mynetworks,
      isClass: (n) => classes.has(n),
      evalWords: (words, facts, stage, depth) => evalList(words, facts, stage, state, ctx, depth),
    };
    return ctx;
  }

  async function evalList(words: string[], facts: SessionFacts, stage: Stage, state: EvalState, ctx: PolicyContext, depth: number): Promise<Verdict> {
    if (depth > 20) return { kind: 'defer', reply: reply(451, '4.3.5', 'Server configuration error: restriction class loop') };
    let warnNext = false;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      const name = w.toLowerCase();
      if (name === WARN_IF_REJECT) {
        warnNext = true;
        continue;
      }
      let v: Verdict;
      const def = registry.get(name);
      if (def) {
        const arg = def.takesArg ? words[++i] : undefined;
        v = await def.fn(facts, stage, ctx, arg, depth);
      } else if (classLists.has(w)) {
        v = await evalList(classLists.get(w)!, facts, stage, state, ctx, depth + 1);
      } else {
        if (notYet.get(name)?.takesArg) i++;
        v = DUNNO; // not supported yet: reported by check, skipped here
      }
      const warn = warnNext;
      warnNext = false;
      switch (v.kind) {
        case 'permit':
          return PERMIT;
        case 'reject':
        case 'defer':
          if (warn) {
            state.notes.push({ action: 'reject_warning', text: replyForLog(v.reply) });
            continue;
          }
          return v;
        case 'defer_if_permit':
          state.deferIfPermit ??= v.reply;
          continue;
        case 'defer_if_reject':
          state.deferIfReject ??= v.reply;
          continue;
        case 'warn':
          state.notes.push({ action: 'warn', text: v.text });
          continue;
        case 'hold':
          state.effects.hold = v.text;
          state.notes.push({ action: 'hold', text: v.text });
          continue;
        case 'discard':
          state.effects.discard = v.text;
          state.notes.push({ action: 'discard', text: v.text });
          continue;
        case 'prepend':
          state.effects.prepend.push(v.header);
          continue;
        case 'filter':
          state.effects.filter = v.nexthop;
          state.notes.push({ action: 'filter', text: v.nexthop });
          continue;
        case 'redirect':
          state.effects.redirect = v.address;
          state.notes.push({ action: 'redirect', text: v.address });
          continue;
        case 'dunno':
          continue;
      }
    }
    return DUNNO;
  }

  function stagesFor(point: CheckPoint): Stage[] {
    switch (point) {
      case 'connect':
        return delayReject ? [] : ['client'];
      case 'helo':
        return delayReject ? [] : ['helo'];
      case 'mail':
        return delayReject ? [] : ['sender'];
      case 'rcpt':
        return delayReject ? ['client', 'helo', 'sender', 'relay', 'recipient'] : ['relay', 'recipient'];
      case 'data':
        return ['data'];
      case 'end_of_data':
        return ['end_of_data'];
      case 'etrn':
        return ['etrn'];
    }
  }

  return {
    async check(point, facts): Promise<Decision> {
      const state: EvalState = { notes: [], effects: { prepend: [] } };
      const ctx = contextFor(state);
      const done = (r?: Reply): Decision => (r ? { reply: r, notes: state.notes, effects: state.effects } : { notes: state.notes, effects: state.effects });
      const refuse = (v: Verdict & { reply: Reply }): Decision => {
        if (v.kind === 'reject' && state.deferIfReject) return done(state.deferIfReject);
        return done(v.reply);
      };
      for (const stage of stagesFor(point)) {
        const words = lists.get(stage)!;
        if (words.length === 0) continue;
        const v = await evalList(words, facts, stage, state, ctx, 0);
        if (v.kind === 'reject' || v.kind === 'defer') return refuse(v);
      }
      if (point === 'rcpt' && unlistedRecipient) {
        const v = await implicitUnlistedRecipient.fn(facts, 'recipient', ctx, undefined, 0);
        if (v.kind === 'reject' || v.kind === 'defer') return refuse(v);
      }
      if (state.deferIfPermit) return done(state.deferIfPermit);
      return done();
    },
  };
}
