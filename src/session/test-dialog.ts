/**
 * Test support for the session dialog tests: starts the real listener in-process on
 * 127.0.0.1:0 with a fake PolicyEngine and Cleanup (unit tests of the state machine; the
 * end-to-end tests in test/e2e use the whole server), captures the mail log, and gives a
 * raw-socket client that reads exact replies. Every wait is bounded.
 */

import { connect, type Socket } from 'node:net';
import assert from 'node:assert/strict';
import { paramsFrom } from '../config/test-params.js';
import type { Service } from '../config/types.js';
import { MailLog } from '../log/maillog.js';
import type { CheckPoint, ClientInfo, Decision, PolicyEngine, SessionFacts } from '../policy/types.js';
import type { Cleanup, Submission } from '../cleanup/types.js';
import { reply, type Reply } from '../protocol/reply.js';
import { startSmtpListener, type SmtpListener } from '../listener/smtp-listener.js';

/** A MailLog that keeps its lines in memory. */
export class MemoryLog extends MailLog {
  readonly lines: string[] = [];
  constructor() {
    super({ file: '', hostname: 'mx.test' });
  }
  override line(program: string, message: string): void {
    this.lines.push(`${program}: ${message}`);
  }
  /** Wait until a line matches (log lines of a closing session come a little later). */
  async waitFor(re: RegExp, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((l) => re.test(l));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no log line matches ${re}; log:\n${this.lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export type PolicyFn = (point: CheckPoint, facts: SessionFacts) => Partial<Decision> | undefined | Promise<Partial<Decision> | undefined>;

export interface TestServer {
  readonly port: number;
  readonly log: MemoryLog;
  readonly listener: SmtpListener;
  /** Messages handed to cleanup, in order. */
  readonly submitted: Submission[];
  /** Every policy call, in order. */
  readonly checks: { point: CheckPoint; facts: SessionFacts }[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  params?: Record<string, string>;
  policy?: PolicyFn;
  /** Reply of cleanup.submit (default "250 2.0.0 Ok: queued as ID"); may throw. */
  submit?: (s: Submission) => Reply | Promise<Reply>;
  maxproc?: number;
  /** Reverse name of every client (default "unknown"). */
  clientName?: string;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const params = paramsFrom({ myhostname: 'mx.test', mail_name: 'Postern', ...opts.params });
  const log = new MemoryLog();
  const submitted: Submission[] = [];
  const checks: TestServer['checks'] = [];
  let ids = 0;
  const policy: PolicyEngine = {
    async check(point, facts) {
      checks.push({ point, facts });
      const d = (await opts.policy?.(point, facts)) ?? {};
      return { notes: d.notes ?? [], effects: d.effects ?? {}, ...(d.reply ? { reply: d.reply } : {}) };
    },
  };
  const cleanup: Cleanup = {
    newQueueId: () => `4A${String(++ids).padStart(8, '0')}`,
    async submit(s) {
      submitted.push(s);
      return opts.submit ? opts.submit(s) : reply(250, '2.0.0', `Ok: queued as ${s.queueId}`);
    },
  };
  const service: Service = {
    name: '127.0.0.1:0', type: 'inet', private: false, unprivileged: false, chroot: false, wakeup: '-',
    maxproc: opts.maxproc ?? 100, command: 'smtpd', args: [], params, file: '<test>', line: 1,
  };
  const clientInfo = async (addr: string, port: number): Promise<ClientInfo> => {
    const name = opts.clientName ?? 'unknown';
    return { addr, port, name, reverseName: name, nameStatus: name === 'unknown' ? 'unknown' : 'ok' };
  };
  const listener = await startSmtpListener(service, { log, policy, cleanup, clientInfo });
  return {
    port: listener.addresses[0]!.port, log, listener, submitted, checks,
    close: () => listener.close(200),
  };
}

/** A raw SMTP client: send exact bytes, read exact replies. */
export class Client {
  private buf = Buffer.alloc(0);
  private wake?: () => void;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  /** Connect and read the greeting (and EHLO when given). */
  static async ready(port: number, ehlo?: string): Promise<Client> {
    const c = await Client.open(port);
    assert.match(await c.reply(), /^220 /);
    if (ehlo) assert.match(await c.cmd(`EHLO ${ehlo}`), /^250 /m);
    return c;
  }

  private async waitData(deadline: number): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timeout; unread: ${JSON.stringify(this.buf.toString('latin1'))}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** The next whole reply, all its lines joined with "\n" ("250-a\n250 b"). */
  async reply(timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.buf.toString('latin1');
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(text);
      if (m) {
        this.buf = this.buf.subarray(Buffer.byteLength(m[0], 'latin1'));
        return m[0].slice(0, -2).replace(/\r\n/g, '\n');
      }
      if (this.closed) throw new Error(`closed while waiting for a reply; unread: ${JSON.stringify(text)}`);
      await this.waitData(deadline);
    }
  }

  async replies(n: number, timeoutMs = 3000): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await this.reply(timeoutMs));
    return out;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Send bytes one at a time, each in its own TCP segment (no Nagle coalescing on our side). */
  async sendByteByByte(data: string | Buffer): Promise<void> {
    this.socket.setNoDelay(true);
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    for (let i = 0; i < b.length; i++) {
      this.socket.write(b.subarray(i, i + 1));
      await new Promise((r) => setImmediate(r));
    }
  }

  async cmd(line: string, timeoutMs = 3000): Promise<string> {
    this.send(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  /** Resolves when the server has closed the connection; fails after the timeout. */
  async closedByServer(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) await this.waitData(deadline);
  }

  /** Nothing more arrives within `ms`. */
  async silentFor(ms: number): Promise<void> {
    const before = this.buf.length;
    await new Promise((r) => setTimeout(r, ms));
    assert.equal(this.buf.subarray(before).toString('latin1'), '', 'no unexpected reply');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A whole transaction up to the DATA reply. */
export async function openTransaction(c: Client, from: string, to: string[]): Promise<void> {
  assert.equal(await c.cmd(`MAIL FROM:<${from}>`), '250 2.1.0 Ok');
  for (const r of to) assert.equal(await c.cmd(`RCPT TO:<${r}>`), '250 2.1.5 Ok');
}
