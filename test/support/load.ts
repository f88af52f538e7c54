/**
 * A bounded load for crash tests: one SMTP client sending messages one after another until
 * told to stop or until its connection dies (the server was killed). A message counts as
 * confirmed only when its DATA got a 250.
 */

import { SmtpDialog } from './smtp-client.js';

export interface LoadMessage {
  readonly rcpt: string;
  /** The message, CRLF lines, not yet dot-stuffed, ending in CRLF. */
  readonly body: string;
}

export async function sendUntilStopped(port: number, message: (n: number) => LoadMessage, next: () => number, confirmed: Set<number>, stop: { now: boolean }): Promise<void> {
  let c: SmtpDialog;
  try {
    c = await SmtpDialog.connect(port);
    if ((await c.reply(3000)).code !== 220) return;
    await c.cmd('EHLO load.test', 3000);
  } catch {
    return;
  }
  try {
    while (!stop.now) {
      const n = next();
      const m = message(n);
      await c.cmd('MAIL FROM:<load@load.test>', 3000);
      await c.cmd(`RCPT TO:<${m.rcpt}>`, 3000);
      if ((await c.cmd('DATA', 3000)).code !== 354) return;
      c.sendRaw(`${m.body.replace(/^\./gm, '..')}.\r\n`);
      if ((await c.reply(3000)).code === 250) confirmed.add(n);
    }
  } catch {
    /* killed mid-dialog: this message was not confirmed */
  } finally {
    c.close();
  }
}
