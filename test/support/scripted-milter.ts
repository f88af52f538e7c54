/**
 * A tiny milter for tests, written from the protocol description (libmilter's wire format)
 * independently of Postern's client: it records every command with its macros, and answers
 * as the test's script says — including the actions real milters rarely produce (replycode
 * at RCPT, add/delete recipient, change sender, replace body, quarantine, discard, no answer
 * at all). Listens on 127.0.0.1:<free port>; each MTA connection is one session.
 */

import { createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

export interface MilterEvent {
  /** Command letter: C, H, M, R, T, L, N, B, E, A, Q. */
  readonly cmd: string;
  /** NUL-separated strings of the command (C: host name, then the rest raw). */
  readonly args: string[];
  /** Macros sent just before this command. */
  readonly macros: Record<string, string>;
}

/** One answer packet; `hang` sends nothing (the MTA's timeout must fire). */
export type Answer = Buffer | 'hang';

export interface Script {
  /** Answers to each command (default: continue); `session` holds the events so far. */
  answer?(e: MilterEvent, session: MilterEvent[]): Answer[] | undefined;
}

const pkt = (cmd: string, data: Buffer = Buffer.alloc(0)): Buffer => {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(data.length + 1, 0);
  h.write(cmd, 4, 'latin1');
  return Buffer.concat([h, data]);
};
const nul = (...s: string[]): Buffer => Buffer.concat(s.map((x) => Buffer.from(`${x}\0`, 'utf8')));
const idx = (n: number, ...s: string[]): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return Buffer.concat([b, nul(...s)]);
};

/** Reply packets, named after libmilter's calls. */
export const say = {
  continue: (): Buffer => pkt('c'),
  accept: (): Buffer => pkt('a'),
  reject: (): Buffer => pkt('r'),
  tempfail: (): Buffer => pkt('t'),
  discard: (): Buffer => pkt('d'),
  replycode: (text: string): Buffer => pkt('y', nul(text)),
  addheader: (name: string, value: string): Buffer => pkt('h', nul(name, value)),
  insheader: (index: number, name: string, value: string): Buffer => pkt('i', idx(index, name, value)),
  chgheader: (index: number, name: string, value: string): Buffer => pkt('m', idx(index, name, value)),
  addrcpt: (rcpt: string): Buffer => pkt('+', nul(rcpt)),
  delrcpt: (rcpt: string): Buffer => pkt('-', nul(rcpt)),
  chgfrom: (from: string): Buffer => pkt('e', nul(from)),
  replbody: (body: string): Buffer => pkt('b', Buffer.from(body, 'utf8')),
  quarantine: (reason: string): Buffer => pkt('q', nul(reason)),
  progress: (): Buffer => pkt('p'),
};

export interface ScriptedMilter {
  readonly port: number;
  /** Every session's events, in connection order. */
  readonly sessions: MilterEvent[][];
  script: Script;
  stop(): Promise<void>;
}

/** Commands after which libmilter sends no reply. */
const NO_REPLY = new Set(['D', 'A', 'Q', 'K']);

export async function startScriptedMilter(): Promise<ScriptedMilter> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const self: ScriptedMilter = { port, sessions: [], script: {}, stop: async () => undefined };
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const events: MilterEvent[] = [];
    self.sessions.push(events);
    let buf = Buffer.alloc(0);
    let macros: Record<string, string> = {};
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        const cmd = String.fromCharCode(buf[4]!);
        const data = buf.subarray(5, 4 + len);
        buf = buf.subarray(4 + len);
        if (cmd === 'O') {
          // Version 6, every action, every step with a reply (protocol flags 0).
          const b = Buffer.alloc(12);
          b.writeUInt32BE(6, 0);
          b.writeUInt32BE(0x1ff, 4);
          b.writeUInt32BE(0, 8);
          sock.write(pkt('O', b));
          continue;
        }
        if (cmd === 'D') {
          const parts = data.subarray(1).toString('utf8').split('\0');
          macros = {};
          for (let i = 0; i + 1 < parts.length; i += 2) macros[parts[i]!] = parts[i + 1]!;
          continue;
        }
        const args = cmd === 'B' ? [data.toString('utf8')] : data.toString('utf8').split('\0').slice(0, -1);
        const e: MilterEvent = { cmd, args: cmd === 'C' ? [args[0] ?? '', data.toString('latin1')] : args, macros };
        macros = {};
        events.push(e);
        if (NO_REPLY.has(cmd)) continue;
        const answers = self.script.answer?.(e, events) ?? [say.continue()];
        for (const a of answers) if (a !== 'hang') sock.write(a);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  self.stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return self;
}

/** The header value the MTA sent for `name` in a session (first match). */
export function sentHeader(events: readonly MilterEvent[], name: string): string | undefined {
  return events.find((e) => e.cmd === 'L' && e.args[0]?.toLowerCase() === name.toLowerCase())?.args[1];
}
