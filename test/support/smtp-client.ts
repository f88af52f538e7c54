/**
 * A raw-socket SMTP dialog client for exact reply checks: send bytes, read whole
 * (multi-line) replies, every wait bounded. Keeps a transcript for failure messages.
 */

import { connect, type Socket } from 'node:net';

export interface SmtpReply {
  code: number;
  lines: string[];
  /** All lines joined with "\n", without the "NNN-" prefixes. */
  text: string;
  /** The first line as sent ("250 2.1.0 Ok"). */
  raw: string;
}

export class SmtpDialog {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  readonly transcript: string[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.transcript.push(`S: ${d.toString('latin1').trimEnd()}`);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** `localAddress`: the client's own address (any 127.0.0.0/8 address works on Linux loopback). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<SmtpDialog> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () => resolve(new SmtpDialog(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private waitChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout after ${timeoutMs} ms; transcript:\n${this.transcript.join('\n')}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The next complete reply. */
  async reply(timeoutMs = 5000): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines: string[] = [];
      let pos = 0;
      for (;;) {
        const nl = this.buf.indexOf('\r\n', pos);
        if (nl < 0) break;
        const line = this.buf.slice(pos, nl);
        pos = nl + 2;
        lines.push(line);
        if (/^\d{3}(?: |$)/.test(line)) {
          this.buf = this.buf.slice(pos);
          return { code: Number(line.slice(0, 3)), lines: lines.map((l) => l.slice(4)), text: lines.map((l) => l.slice(4)).join('\n'), raw: lines[0]! };
        }
      }
      if (this.closed) throw new Error(`connection closed while waiting for a reply; transcript:\n${this.transcript.join('\n')}`);
      await this.waitChange(Math.max(1, deadline - Date.now()));
    }
  }

  async replies(n: number, timeoutMs = 5000): Promise<SmtpReply[]> {
    const out: SmtpReply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.reply(timeoutMs));
    return out;
  }

  sendRaw(data: string | Buffer): void {
    this.transcript.push(`C: ${data.toString().trimEnd()}`);
    this.socket.write(data);
  }

  send(line: string): void {
    this.sendRaw(`${line}\r\n`);
  }

  /** Send a command and read its reply. */
  async cmd(line: string, timeoutMs = 5000): Promise<SmtpReply> {
    this.send(line);
    return this.reply(timeoutMs);
  }

  async expectClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) await this.waitChange(Math.max(1, deadline - Date.now()));
  }

  close(): void {
    this.socket.destroy();
  }
}
