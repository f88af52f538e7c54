/**
 * The restriction engine: which lists run at which SMTP command, with Postfix's semantics
 * (smtpd_check.c smtpd_check_{client,helo,mail,rcpt,etrn,data,eod}; SMTPD_ACCESS_README):
 * - smtpd_delay_reject = yes (default): the client, HELO and sender lists run at RCPT (and
 *   client+HELO at ETRN), before the relay and recipient lists; their own commands pass.
 * - In a list the first PERMIT, REJECT or DEFER decides; PERMIT ends only that list.
 * - defer_if_permit carries from client to HELO to sender to RCPT (remembered per session
 *   when the lists run at their own commands) and turns an accept at the end into its defer.
 * - After the relay and recipient lists, unless something refused (or DISCARD) and unless
 *   reject_unlisted_recipient already ran, smtpd_reject_unlisted_recipient = yes consults
 *   the recipient tables — also for permitted clients. postconf(5): "Request that the
 *   Postfix SMTP server rejects mail for unknown recipient addresses, even when no
 *   explicit reject_unlisted_recipient access restriction is specified."
 *   smtpd_reject_unlisted_sender does the same after the sender list.
 * - A bare "postmaster" recipient is always accepted (RFC 5321 §4.5.1).
 * Written here rather than taken from a library: no Node package implements these rules.
 */

import type { Params } from '../config/types.js';
import { ConfigError } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { AddressResolver } from '../resolve/types.js';
import type { Dns } from '../dns/types.js';
import type { CheckPoint, ClientInfo, Decision, PolicyEngine, SessionFacts, Stage, Verdict } from './types.js';
import { stageWho, type PolicyState } from './context.js';
import { Evaluation, type EngineParts } from './evaluate.js';
import { compileProblems, configuredLists, STAGE_PARAM } from './compile.js';
import { createNetworkList } from './mynetworks.js';
import { unlistedRecipient, unlistedSender } from './checks/destination.js';
import { senderOwnership, senderOwnershipApplies } from './checks/ownership.js';
import type { Reply } from '../protocol/reply.js';
import { PolicyClient, parseEndpoint } from './delegation/client.js';

export { STAGE_PARAM } from './compile.js';

export interface PolicyDeps {
  tables: TableRegistry;
  resolver: AddressResolver;
  dns: Dns;
  /** The state store, for check_greylist. */
  state?: PolicyState;
}

/**
 * One client per policy endpoint for this engine (one service, one configuration): its
 * connections are shared by all sessions and reused. An engine dropped on reload leaves
 * only idle connections behind, which close themselves after smtpd_policy_service_max_idle.
 */
function policyClients(params: Params): (spec: string) => PolicyClient | string {
  const clients = new Map<string, PolicyClient | string>();
  return (spec) => {
    let c = clients.get(spec);
    if (c === undefined) {
      const ep = parseEndpoint(spec, params.str('queue_directory'));
      c = typeof ep === 'string' ? ep : new PolicyClient(spec.replace(/^(inet|unix):/i, ''), ep, {
        timeoutMs: params.timeMs('smtpd_policy_service_timeout'), maxIdleMs: params.timeMs('smtpd_policy_service_max_idle'),
        maxTtlMs: params.timeMs('smtpd_policy_service_max_ttl'), tryLimit: params.int('smtpd_policy_service_try_limit'),
        retryDelayMs: params.timeMs('smtpd_policy_service_retry_delay'), requestLimit: params.int('smtpd_policy_service_request_limit'),
      });
      clients.set(spec, c);
    }
    return c;
  };
}

/** defer_if_permit as left by each earlier stage of one session (Postfix's defer_if_permit_{client,helo,sender}). */
interface Memory {
  client?: Reply | undefined;
  helo?: Reply | undefined;
  sender?: Reply | undefined;
}

export function createPolicyEngine(params: Params, deps: PolicyDeps): PolicyEngine {
  const problems = compileProblems(params).filter((d) => d.severity === 'error');
  if (problems.length) throw new ConfigError(problems);
  const { classes } = configuredLists(params);
  const lists = new Map<Stage, string[]>((Object.keys(STAGE_PARAM) as Stage[]).map((s) => [s, params.list(STAGE_PARAM[s])]));
  const parts: EngineParts = {
    params, tables: deps.tables, resolver: deps.resolver, dns: deps.dns, mynetworks: createNetworkList(params, deps.tables), classes, state: deps.state,
    policyClient: policyClients(params),
  };
  const delayReject = params.bool('smtpd_delay_reject');
  const unlistedRcpt = params.bool('smtpd_reject_unlisted_recipient');
  const unlistedFrom = params.bool('smtpd_reject_unlisted_sender');
  const ownership = senderOwnershipApplies(params);
  // XXX: per-session memory keyed by the session's ClientInfo object (one per connection), so
  // the PolicyEngine contract needs no session handle; it is dropped with the connection.
  const memories = new WeakMap<ClientInfo, Memory>();
  const memoryOf = (facts: SessionFacts): Memory => {
    let m = memories.get(facts.client);
    if (!m) memories.set(facts.client, (m = {}));
    return m;
  };

  const refused = (v: Verdict): v is Verdict & { reply: Reply } => v.kind === 'reject' || v.kind === 'defer';

  /** One list group after SMTPD_CHECK_RESET; returns the refusal, if any. */
  async function group(ev: Evaluation, facts: SessionFacts, point: CheckPoint, stages: Stage[], deferIfPermit: Reply | undefined): Promise<Verdict | undefined> {
    ev.reset(deferIfPermit);
    for (const stage of stages) {
      const words = lists.get(stage)!;
      if (words.length === 0) continue;
      const { who, defAcl } = stageWho(facts, stage);
      const v = await ev.run(words, facts, point, stage, who, defAcl);
      if (refused(v)) return v;
    }
    return undefined;
  }

  async function clientStage(ev: Evaluation, facts: SessionFacts, point: CheckPoint, mem: Memory): Promise<Verdict | undefined> {
    const v = await group(ev, facts, point, ['client'], undefined);
    mem.client = ev.deferIfPermit;
    return v;
  }

  async function heloStage(ev: Evaluation, facts: SessionFacts, point: CheckPoint, mem: Memory): Promise<Verdict | undefined> {
    if (facts.helo === undefined) return undefined; // no HELO/EHLO: Postfix skips this list
    const v = await group(ev, facts, point, ['helo'], mem.client);
    mem.helo = ev.deferIfPermit;
    return v;
  }

  async function senderStage(ev: Evaluation, facts: SessionFacts, point: CheckPoint, mem: Memory): Promise<Verdict | undefined> {
    if (facts.sender === undefined) return undefined;
    let v = await group(ev, facts, point, ['sender'], mem.helo ?? mem.client);
    mem.sender = ev.deferIfPermit;
    if (!v && unlistedFrom && !ev.senderChecked() && !ev.discard && facts.sender) {
      const u = ev.settle(await unlistedSender(callFor(ev, facts, point, 'sender')));
      if (refused(u)) v = u;
    }
    if (!v && ownership && !ev.discard && facts.saslUsername) {
      const o = ev.settle(await senderOwnership(callFor(ev, facts, point, 'sender')));
      if (refused(o)) v = o;
    }
    return v;
  }

  function callFor(ev: Evaluation, facts: SessionFacts, point: CheckPoint, stage: Stage) {
    const { who, defAcl } = stageWho(facts, stage);
    return { facts, point, stage, who, defAcl, ctx: ev.ctx };
  }

  /** The refusal, or the remembered defer_if_permit when everything else accepted. */
  const finish = (ev: Evaluation, v: Verdict | undefined): Reply | undefined => (v && refused(v) ? v.reply : ev.deferIfPermit);

  async function decide(point: CheckPoint, facts: SessionFacts, ev: Evaluation): Promise<Reply | undefined> {
    const mem = memoryOf(facts);
    switch (point) {
      case 'connect': {
        if (delayReject) return undefined;
        const v = await clientStage(ev, facts, point, mem);
        return v && refused(v) ? v.reply : undefined;
      }
      case 'helo': {
        if (delayReject) return undefined;
        const v = await heloStage(ev, facts, point, mem);
        return v && refused(v) ? v.reply : undefined;
      }
      case 'mail': {
        if (delayReject) return undefined;
        const v = await senderStage(ev, facts, point, mem);
        return v && refused(v) ? v.reply : undefined;
      }
      case 'rcpt': {
        if (facts.recipient !== undefined && facts.recipient.toLowerCase() === 'postmaster') return undefined;
        if (delayReject) {
          const early = (await clientStage(ev, facts, point, mem)) ?? (await heloStage(ev, facts, point, mem)) ?? (await senderStage(ev, facts, point, mem));
          if (early) return finish(ev, early);
        }
        let v = await group(ev, facts, point, ['relay', 'recipient'], mem.sender);
        if (!v && ev.deferIfPermit) return ev.deferIfPermit;
        if (!v && unlistedRcpt && !ev.recipientChecked() && !ev.discard) {
          const u = ev.settle(await unlistedRecipient(callFor(ev, facts, point, 'recipient')));
          if (refused(u)) v = u;
        }
        return finish(ev, v);
      }
      case 'etrn': {
        if (delayReject) {
          const early = (await clientStage(ev, facts, point, mem)) ?? (await heloStage(ev, facts, point, mem));
          if (early) return finish(ev, early);
        }
        return finish(ev, await group(ev, facts, point, ['etrn'], mem.helo ?? mem.client));
      }
      case 'data':
        return finish(ev, await group(ev, facts, point, ['data'], undefined));
      case 'end_of_data':
        return finish(ev, await group(ev, facts, point, ['end_of_data'], undefined));
    }
  }

  return {
    async check(point, facts): Promise<Decision> {
      const ev = new Evaluation(parts);
      const r = await decide(point, facts, ev);
      return r ? { reply: r, notes: ev.notes, effects: ev.effects } : { notes: ev.notes, effects: ev.effects };
    },
  };
}
