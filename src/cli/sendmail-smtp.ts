/**
 * `postern sendmail -bs`: SMTP on stdin/stdout for programs that submit that way (Postfix
 * runs its smtpd here). A minimal, local dialogue: HELO/EHLO, MAIL, RCPT, DATA (with
 * dot-unstuffing, RFC 5321 §4.5.2), RSET, NOOP, QUIT; each message goes through the same
 * path as plain `sendmail` (queueMessage: pickup's Received, missing headers, durable
 * enqueue, daemon woken). No policy checks: the peer is a local user who could as well
 * run sendmail; no AUTH, no STARTTLS (there is no network). MAIL/RCPT parameters
 * (SIZE, BODY, NOTIFY…) are accepted and ignored.
 */

import type { LoadedConfig } from '../config/types.js';
import type { SendmailArgs } from './sendmail-args.js';
import { queueMessage, qualify, ExitError, EX_DATAERR } from './sendmail.js';

async function* lines(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  let buf = Buffer.alloc(0);
  for await (const chunk of stream) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    let nl: number;
    while ((nl = buf.indexOf(10)) >= 0) {
      let line = buf.subarray(0, nl);
      if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, -1);
      buf = buf.subarray(nl + 1);
      yield line;
    }
  }
  if (buf.length > 0) yield buf;
}

/** "<addr>" of "FROM:<addr> PARAMS" / "TO:<addr> PARAMS", or undefined. */
function pathArg(rest: string, keyword: string): string | undefined {
  const m = new RegExp(`^${keyword}:\\s*<([^>]*)>`, 'i').exec(rest.trim()) ?? new RegExp(`^${keyword}:\\s*(\\S+)`, 'i').exec(rest.trim());
  return m ? m[1]! : undefined;
}

export async function runSendmailSmtp(cfg: LoadedConfig, args: SendmailArgs): Promise<number> {
  const host = cfg.main.str('myhostname');
  const say = (text: string): void => {
    process.stdout.write(text + '\r\n');
  };
  let sender: string | undefined;
  let rcpts: string[] = [];
  let data: Buffer[] | undefined;
  const reset = (): void => {
    sender = undefined;
    rcpts = [];
    data = undefined;
  };
  say(`220 ${host} ESMTP ${cfg.main.str('mail_name')}`);
  for await (const raw of lines(process.stdin)) {
    if (data) {
      if (raw.length === 1 && raw[0] === 0x2e) {
        const message = Buffer.concat(data.map((l) => Buffer.concat([l, Buffer.from('\r\n')])));
        try {
          const id = await queueMessage(cfg, { ...args, sender: sender ?? '' }, message, rcpts);
          say(`250 2.0.0 Ok: queued as ${id}`);
        } catch (err) {
          if (!(err instanceof ExitError)) throw err;
          process.stderr.write(`postern sendmail: ${err.message}\n`);
          say(err.code === EX_DATAERR ? '552 5.3.4 Error: message file too big' : '451 4.3.0 Error: queue file write error');
        }
        reset();
        continue;
      }
      data.push(raw[0] === 0x2e ? raw.subarray(1) : raw);
      continue;
    }
    const line = raw.toString('utf8');
    const verb = line.split(' ', 1)[0]!.toUpperCase();
    const rest = line.slice(verb.length);
    switch (verb) {
      case 'HELO':
        say(`250 ${host}`);
        break;
      case 'EHLO':
        say(`250-${host}`);
        say('250-8BITMIME');
        say('250 SMTPUTF8');
        break;
      case 'MAIL': {
        if (sender !== undefined) {
          say('503 5.5.1 Error: nested MAIL command');
          break;
        }
        const a = pathArg(rest, 'FROM');
        if (a === undefined) say('501 5.5.4 Syntax: MAIL FROM:<address>');
        else if (a !== '' && !qualify(a, cfg.main)) say('501 5.1.7 Bad sender address syntax');
        else {
          sender = a;
          say('250 2.1.0 Ok');
        }
        break;
      }
      case 'RCPT': {
        if (sender === undefined) {
          say('503 5.5.1 Error: need MAIL command');
          break;
        }
        const a = pathArg(rest, 'TO');
        const q = a === undefined ? undefined : qualify(a, cfg.main);
        if (a === undefined) say('501 5.5.4 Syntax: RCPT TO:<address>');
        else if (!q) say('501 5.1.3 Bad recipient address syntax');
        else {
          rcpts.push(q);
          say('250 2.1.5 Ok');
        }
        break;
      }
      case 'DATA':
        if (rcpts.length === 0) say('503 5.5.1 Error: need RCPT command');
        else {
          data = [];
          say('354 End data with <CR><LF>.<CR><LF>');
        }
        break;
      case 'RSET':
        reset();
        say('250 2.0.0 Ok');
        break;
      case 'NOOP':
        say('250 2.0.0 Ok');
        break;
      case 'QUIT':
        say('221 2.0.0 Bye');
        return 0;
      default:
        say('502 5.5.2 Error: command not recognized');
    }
  }
  return 0;
}
