/**
 * The milters of one smtpd listener: smtpd_milters with that listener's -o overrides,
 * none when receive_override_options has no_milters. The listener calls this once per
 * service; each SMTP session then gets its own MilterSession (its own connections).
 */

import type { Params } from '../config/types.js';
import { receiveOverride } from '../config/receive-override.js';
import type { MailLog } from '../log/maillog.js';
import { MilterSession } from './conversation.js';
import { milterSpecs } from './spec.js';

export type MilterFactory = () => MilterSession;

export function smtpdMilters(params: Params, log: MailLog, program: string): MilterFactory | undefined {
  if (receiveOverride(params, 'no_milters')) return undefined;
  const { specs, errors } = milterSpecs(params, 'smtpd_milters');
  if (specs.length === 0) return undefined;
  for (const e of errors) log.warning(program, e);
  return () => new MilterSession(specs, log, program);
}
