/**
 * Reads the main.cf parameters dsn/ needs into DsnSettings, once (at scheduler start or
 * reload), so planning a notice reads no configuration. Unqualified notice recipients get
 * @$myorigin as Postfix's trivial-rewrite would add; the double-bounce sender gets
 * @$myhostname as Postfix's mail_addr_double_bounce() does.
 */

import type { Params } from '../config/types.js';
import type { DsnSettings } from './types.js';

function qualify(address: string, domain: string): string {
  return address.includes('@') ? address : `${address}@${domain}`;
}

export function dsnSettings(params: Params): DsnSettings {
  const myhostname = params.str('myhostname');
  const myorigin = params.str('myorigin') || myhostname;
  const classes = new Set(params.list('notify_classes').map((c) => c.toLowerCase()));
  // postconf(5): "bounce (also implies 2bounce)".
  if (classes.has('bounce')) classes.add('2bounce');
  return {
    notifyClasses: classes,
    bounceNoticeRecipient: qualify(params.str('bounce_notice_recipient'), myorigin),
    twoBounceNoticeRecipient: qualify(params.str('2bounce_notice_recipient'), myorigin),
    delayNoticeRecipient: qualify(params.str('delay_notice_recipient'), myorigin),
    errorNoticeRecipient: qualify(params.str('error_notice_recipient'), myorigin),
    delayWarningMs: params.timeMs('delay_warning_time'),
    maximalQueueLifetimeMs: params.timeMs('maximal_queue_lifetime'),
    bounceSizeLimit: params.int('bounce_size_limit'),
    hopcountLimit: params.int('hopcount_limit'),
    myhostname,
    mydomain: params.str('mydomain'),
    myorigin,
    doubleBounceSender: qualify(params.str('double_bounce_sender'), myhostname),
    mailerDaemon: `MAILER-DAEMON@${myorigin}`,
  };
}
