/**
 * The spamd step of cleanup: asks SpamAssassin's spamd (postern_spamd_server) about the
 * message as it will be queued, adds X-Spam-Flag, X-Spam-Score and X-Spam-Status, and
 * refuses the message when the score reaches postern_spamd_reject_score ("550 5.7.1
 * Message rejected as spam (score S)"). Messages over postern_spamd_max_size are not sent
 * and the log says so. spamd down or slow: postern_spamd_default_action (accept with a
 * logged warning, or 451 4.7.1). Off with receive_override_options = no_milters.
 */

import type { Params } from '../../config/types.js';
import { receiveOverride } from '../../config/receive-override.js';
import type { MailLog } from '../../log/maillog.js';
import { reply, replyForLog, type Reply } from '../../protocol/reply.js';
import type { Submission } from '../types.js';
import { parseSpamdServer, spamdCheck } from './client.js';

export type SpamStep = { readonly reply: Reply } | { readonly data: Buffer; readonly summary?: string };

const fmt = (n: number): string => n.toFixed(1);

export function spamHeaders(v: { isSpam: boolean; score: number; threshold: number; symbols: readonly string[] }): string {
  const tests = v.symbols.length ? v.symbols.join(',') : 'none';
  return `X-Spam-Flag: ${v.isSpam ? 'YES' : 'NO'}\r\nX-Spam-Score: ${fmt(v.score)}\r\n` +
    `X-Spam-Status: ${v.isSpam ? 'Yes' : 'No'}, score=${fmt(v.score)} required=${fmt(v.threshold)}\r\n\ttests=${tests}\r\n`;
}

function rejectScore(p: Params): number | undefined {
  const v = p.str('postern_spamd_reject_score').trim();
  if (!v) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export async function spamdStep(deps: { log: MailLog; program: string }, s: Submission, data: Buffer): Promise<SpamStep> {
  const p = s.facts.params;
  if (receiveOverride(p, 'no_milters')) return { data };
  let target;
  try {
    target = parseSpamdServer(p.str('postern_spamd_server'));
  } catch (err) {
    deps.log.warning(deps.program, `${s.queueId}: ${(err as Error).message}; spam check skipped`);
    return { data };
  }
  if (!target) return { data };
  const max = p.int('postern_spamd_max_size');
  if (data.length > max) {
    deps.log.line(deps.program, `${s.queueId}: info: spamd: message size ${data.length} exceeds postern_spamd_max_size ${max}; not checked`);
    return { data, summary: `spamd: not checked (size ${data.length} > ${max})` };
  }
  let v;
  try {
    v = await spamdCheck(target, data, p.timeMs('postern_spamd_timeout'));
  } catch (err) {
    const tempfail = p.str('postern_spamd_default_action').toLowerCase() === 'tempfail';
    deps.log.warning(deps.program, `${s.queueId}: spamd ${target.label}: ${(err as Error).message}; ${tempfail ? 'message deferred' : 'message accepted unchecked'} (postern_spamd_default_action = ${tempfail ? 'tempfail' : 'accept'})`);
    if (tempfail) return { reply: reply(451, '4.7.1', 'Service unavailable - try again later') };
    return { data };
  }
  const summary = `spamd: score=${fmt(v.score)} required=${fmt(v.threshold)} tests=${v.symbols.join(',') || 'none'}`;
  deps.log.line(deps.program, `${s.queueId}: info: ${summary}`);
  const limit = rejectScore(p);
  if (limit !== undefined && v.score >= limit) {
    const r = reply(550, '5.7.1', `Message rejected as spam (score ${fmt(v.score)})`);
    const env = `from=<${s.sender}> to=<${s.recipients[0]?.address ?? ''}> proto=${s.facts.protocol}${s.facts.helo ? ` helo=<${s.facts.helo}>` : ''}`;
    deps.log.line(deps.program, `${s.queueId}: milter-reject: END-OF-MESSAGE from ${s.clientLabel}: ${replyForLog(r).replace(/^\d{3} /, '')}; ${env}`);
    return { reply: r };
  }
  return { data: Buffer.concat([Buffer.from(spamHeaders(v), 'utf8'), data]), summary };
}
