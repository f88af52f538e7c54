/**
 * The authentication step of cleanup for one submission: decides whether the message is
 * verified at all (not for SASL-authenticated or mynetworks clients, not with
 * postern_authentication = no, postern_dns_lookups = no or receive_override_options =
 * no_milters), runs verify.ts, logs the result and the DMARC decision, and returns the
 * message with our Authentication-Results on top (forged ones for our name removed).
 * A failure inside the verifier is logged and the message goes on unverified: an
 * authentication outage must not stop mail.
 */

import type { Params } from '../../config/types.js';
import { receiveOverride } from '../../config/receive-override.js';
import type { Dns } from '../../dns/types.js';
import { mailauthResolver } from '../../dns/mailauth-resolver.js';
import type { TableRegistry } from '../../tables/open.js';
import type { MailLog } from '../../log/maillog.js';
import { createNetworkList, type NetworkList } from '../../policy/mynetworks.js';
import { replyForLog, type Reply } from '../../protocol/reply.js';
import type { Submission } from '../types.js';
import { verifyMessage, removeOurAuthResults } from './verify.js';

export type AuthStep =
  | { readonly reply: Reply }
  | { readonly data: Buffer; readonly hold?: string; readonly summary?: string };

export interface AuthStepDeps {
  readonly dns?: Dns;
  readonly tables: TableRegistry;
  readonly log: MailLog;
  readonly program: string;
}

const networks = new WeakMap<Params, NetworkList>();

/** A SASL-authenticated or mynetworks client: our own users (not verified; their mail is DKIM-signed). */
export async function isTrustedClient(s: Submission, tables: TableRegistry): Promise<boolean> {
  if (s.facts.saslUsername) return true;
  const p = s.facts.params;
  let list = networks.get(p);
  if (!list) {
    list = createNetworkList(p, tables);
    networks.set(p, list);
  }
  try {
    return await list.matches(s.facts.client);
  } catch {
    return false; // a broken mynetworks item: treat the client as foreign (verify it)
  }
}

export async function authenticationStep(deps: AuthStepDeps, s: Submission, data: Buffer): Promise<AuthStep> {
  const p = s.facts.params;
  const myhostname = p.str('myhostname');
  if (!deps.dns || !p.bool('postern_authentication') || !p.bool('postern_dns_lookups') || receiveOverride(p, 'no_milters')) return { data };
  if (await isTrustedClient(s, deps.tables)) return { data };
  let v;
  try {
    v = await verifyMessage(data, p, { ip: s.facts.client.addr, helo: s.facts.helo, sender: s.sender, resolver: mailauthResolver(deps.dns) });
  } catch (err) {
    deps.log.warning(deps.program, `${s.queueId}: authentication checks failed: ${(err as Error).message}; message accepted without Authentication-Results`);
    return { data };
  }
  const env = `from=<${s.sender}> to=<${s.recipients[0]?.address ?? ''}> proto=${s.facts.protocol}${s.facts.helo ? ` helo=<${s.facts.helo}>` : ''}`;
  deps.log.line(deps.program, `${s.queueId}: info: authentication ${v.summary}${v.dmarcNote ? ` (${v.dmarcNote})` : ''}`);
  if (v.reject) {
    deps.log.line(deps.program, `${s.queueId}: milter-reject: END-OF-MESSAGE from ${s.clientLabel}: ${replyForLog(v.reject).replace(/^\d{3} /, '')}; ${env}`);
    return { reply: v.reject };
  }
  if (v.hold) deps.log.line(deps.program, `${s.queueId}: hold: END-OF-MESSAGE from ${s.clientLabel}: ${v.hold}; ${env}`);
  const cleaned = removeOurAuthResults(data, myhostname);
  return { data: Buffer.concat([Buffer.from(v.header + v.extraHeaders, 'utf8'), cleaned]), hold: v.hold, summary: v.summary };
}
