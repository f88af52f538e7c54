/**
 * The header/body-check step of cleanup for one submission: picks the listener's tables
 * (its -o overrides included), honours receive_override_options = no_header_body_checks
 * and runs inspect.ts on the message as it will be queued (Received: included, as Postfix's
 * cleanup sees smtpd's Received: header). A table that cannot be opened or read defers the
 * message (451 4.3.0) with a logged warning naming the table, never a crash or a silent pass.
 */

import type { Params } from '../../config/types.js';
import { receiveOverride } from '../../config/receive-override.js';
import type { TableRegistry } from '../../tables/open.js';
import type { LookupTable } from '../../tables/types.js';
import type { MailLog } from '../../log/maillog.js';
import { reply, type Reply } from '../../protocol/reply.js';
import type { Submission } from '../types.js';
import { inspectContent, type CheckTables, type ContentOutcome } from './inspect.js';

function open(tables: TableRegistry, params: Params, name: string): LookupTable[] {
  return params.list(name).map((spec) => tables.open(spec));
}

export function checkTables(tables: TableRegistry, params: Params): CheckTables {
  return {
    header: open(tables, params, 'header_checks'),
    mime: open(tables, params, 'mime_header_checks'),
    nested: open(tables, params, 'nested_header_checks'),
    body: open(tables, params, 'body_checks'),
  };
}

export type CheckResult = { readonly reply: Reply } | { readonly outcome?: ContentOutcome };

export async function headerBodyChecks(deps: { tables: TableRegistry; log: MailLog; program: string }, s: Submission, data: Buffer): Promise<CheckResult> {
  const p = s.facts.params;
  if (receiveOverride(p, 'no_header_body_checks')) return {};
  try {
    const t = checkTables(deps.tables, p);
    if (t.header.length + t.mime.length + t.nested.length + t.body.length === 0) return {};
    const outcome = await inspectContent(data, t, {
      mime: !p.bool('disable_mime_input_processing'), decode: p.bool('postern_mime_decode_checks'), bodyLimit: p.int('body_checks_size_limit'),
    }, {
      log: deps.log, program: deps.program, queueId: s.queueId, origin: s.clientLabel, sender: s.sender,
      recipient: s.recipients[0]?.address, proto: s.facts.protocol, helo: s.facts.helo,
    });
    return outcome.reject ? { reply: outcome.reject } : { outcome };
  } catch (err) {
    deps.log.warning(deps.program, `${s.queueId}: header/body checks failed: ${(err as Error).message}; message deferred`);
    return { reply: reply(451, '4.3.0', 'Error: content inspection failed, try again later') };
  }
}
