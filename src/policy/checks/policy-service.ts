/**
 * check_policy_service inet:host:port | unix:/path — ask a policy server (postgrey,
 * policyd-spf, …) with every attribute Postfix sends (SMTPD_POLICY_README, Postfix 3.8
 * order) and use its "action=" as an access(5) result (OK, DUNNO, REJECT text,
 * DEFER_IF_PERMIT text, PREPEND header, a restriction class …). When the server cannot be
 * reached or answers garbage, smtpd_policy_service_default_action is used instead
 * (451 4.3.5 by default) and a warning names the server.
 */

import type { Call, RestrictionDef } from '../context.js';
import { serverError } from '../context.js';
import type { CheckPoint, SessionFacts } from '../types.js';
import { accessAction } from './actions.js';
import { packageVersion } from '../../cli/main.js';

const STATE: Record<CheckPoint, (f: SessionFacts) => string> = {
  connect: () => 'CONNECT', helo: (f) => (f.protocol === 'ESMTP' ? 'EHLO' : 'HELO'), mail: () => 'MAIL', rcpt: () => 'RCPT',
  data: () => 'DATA', end_of_data: () => 'END-OF-MESSAGE', etrn: () => 'ETRN',
};

/** The request attributes, in the order Postfix writes them. */
export function policyAttributes(c: Call): [string, string][] {
  const f = c.facts;
  const late = c.point === 'data' || c.point === 'end_of_data';
  // The recipient is known at RCPT, and later only when there is exactly one.
  const recipient = f.recipient ?? (late && f.recipients?.length === 1 ? f.recipients[0]! : '');
  return [
    ['request', 'smtpd_access_policy'],
    ['protocol_state', STATE[c.point](f)],
    ['protocol_name', f.protocol],
    ['helo_name', f.helo ?? ''],
    ['queue_id', f.queueId ?? ''],
    ['sender', f.sender ?? ''],
    ['recipient', recipient],
    ['recipient_count', late ? String(f.recipients?.length ?? f.recipientCount) : '0'],
    ['client_address', f.client.addr],
    ['client_name', f.client.name],
    ['reverse_client_name', f.client.reverseName],
    ['instance', f.instance ?? ''],
    ['sasl_method', f.saslMethod ?? ''],
    ['sasl_username', f.saslUsername ?? ''],
    ['sasl_sender', ''],
    ['size', f.size !== undefined ? String(f.size) : '0'],
    ['ccert_subject', ''],
    ['ccert_issuer', ''],
    ['ccert_fingerprint', ''],
    ['ccert_pubkey_fingerprint', ''],
    ['encryption_protocol', f.tls ? (f.tlsProtocol ?? '') : ''],
    ['encryption_cipher', f.tls ? (f.tlsCipher ?? '') : ''],
    ['encryption_keysize', f.tls && f.tlsBits !== undefined ? String(f.tlsBits) : '0'],
    ['etrn_domain', f.etrnDomain ?? ''],
    ['stress', ''],
    ['client_port', String(f.client.port)],
    ['policy_context', c.ctx.params.str('smtpd_policy_service_policy_context')],
    ['server_address', f.server?.addr ?? ''],
    ['server_port', f.server ? String(f.server.port) : '0'],
    ['compatibility_level', c.ctx.params.str('compatibility_level')],
    ['mail_version', mailVersion()],
  ];
}

function mailVersion(): string {
  try {
    return packageVersion();
  } catch {
    return 'unknown'; // never fail a policy request over our own version string
  }
}

export const policyServiceRestrictions: Record<string, RestrictionDef> = {
  check_policy_service: {
    takesArg: true,
    fn: async (c) => {
      const client = c.ctx.policyClient(c.arg!);
      if (typeof client === 'string') return serverError(); // reported by `postern check`
      const answer = await client.request(policyAttributes(c));
      let action: string;
      if (answer.ok) action = answer.action;
      else {
        c.ctx.note('warning', `problem talking to server ${client.name}: ${answer.error}`);
        action = c.ctx.params.str('smtpd_policy_service_default_action');
      }
      return accessAction(action, c, c.who);
    },
  },
};
