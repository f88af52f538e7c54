/**
 * The Postfix policy delegation protocol, client side (SMTPD_POLICY_README): a request is
 * "name=value" lines ended by an empty line; the answer is the same, with an "action="
 * attribute. Connections to one server are kept open and reused (smtpd_policy_service_max_idle,
 * _max_ttl, _request_limit), every step is bounded by smtpd_policy_service_timeout, and a
 * failed request is tried again up to _try_limit times, _retry_delay apart.
 * Endpoints: "inet:host:port" (also "inet:[ipv6]:port") and "unix:/path".
 * Input: the server's answer is untrusted (size-bounded, must be printable UTF-8); the
 * request values come from the session and are made single-line here.
 */

import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export type Endpoint = { readonly kind: 'inet'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

/** Parse "inet:host:port" / "unix:/path"; a string is the problem. */
export function parseEndpoint(spec: string, baseDir?: string): Endpoint | string {
  const m = /^(inet|unix):(.+)$/i.exec(spec);
  if (!m) return `policy service "${spec}": use inet:host:port or unix:/path`;
  if (m[1]!.toLowerCase() === 'unix') {
    const path = m[2]!.startsWith('/') || !baseDir ? m[2]! : `${baseDir}/${m[2]}`;
    return { kind: 'unix', path };
  }
  const hp = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(m[2]!);
  if (!hp || Number(hp[3]) < 1 || Number(hp[3]) > 65535) return `policy service "${spec}": use inet:host:port`;
  return { kind: 'inet', host: hp[1] ?? hp[2]!, port: Number(hp[3]) };
}

export interface PolicyClientOptions {
  readonly timeoutMs: number;
  readonly maxIdleMs: number;
  readonly maxTtlMs: number;
  readonly tryLimit: number;
  readonly retryDelayMs: number;
  /** Requests per connection; 0: no limit. */
  readonly requestLimit: number;
}

export type PolicyAnswer = { readonly ok: true; readonly action: string } | { readonly ok: false; readonly error: string };

/** Longest answer accepted from a policy server. */
const MAX_ANSWER = 64 * 1024;

interface Conn {
  readonly socket: Socket;
  readonly born: number;
  requests: number;
  idleTimer?: NodeJS.Timeout;
  broken: boolean;
}

export class PolicyClient {
  private idle: Conn[] = [];
  private closed = false;

  constructor(readonly name: string, private readonly endpoint: Endpoint, private readonly opts: PolicyClientOptions) {}

  /** Send one request (attributes in order) and return the action, trying again on failure. */
  async request(attrs: readonly (readonly [string, string])[]): Promise<PolicyAnswer> {
    const text = attrs.map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}\n`).join('') + '\n';
    let last = '';
    for (let attempt = 1; attempt <= Math.max(1, this.opts.tryLimit); attempt++) {
      if (attempt > 1 && this.opts.retryDelayMs > 0) await delay(this.opts.retryDelayMs);
      try {
        return { ok: true, action: await this.once(text) };
      } catch (err) {
        last = (err as Error).message;
      }
    }
    return { ok: false, error: last };
  }

  /** Close every idle connection (reload, shutdown). */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) this.destroy(c);
  }

  private async once(text: string): Promise<string> {
    const conn = this.takeIdle() ?? (await this.open());
    try {
      const answer = await this.exchange(conn, text);
      conn.requests++;
      this.release(conn);
      return answer;
    } catch (err) {
      this.destroy(conn);
      throw err;
    }
  }

  private takeIdle(): Conn | undefined {
    for (;;) {
      const c = this.idle.pop();
      if (!c) return undefined;
      if (c.idleTimer) clearTimeout(c.idleTimer);
      if (!c.broken && !c.socket.destroyed) {
        c.socket.ref();
        return c;
      }
      this.destroy(c);
    }
  }

  private open(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = this.endpoint.kind === 'inet' ? connect({ host: this.endpoint.host, port: this.endpoint.port }) : connect({ path: this.endpoint.path });
      const t = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timeout'));
      }, this.opts.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(t);
        socket.removeAllListeners('error');
        const conn: Conn = { socket, born: Date.now(), requests: 0, broken: false };
        // An idle connection the server closes is simply not reused.
        socket.on('error', () => void (conn.broken = true));
        socket.on('close', () => void (conn.broken = true));
        resolve(conn);
      });
      socket.once('error', (err) => {
        clearTimeout(t);
        reject(new Error((err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'Connection refused' : err.message));
      });
    });
  }

  /** Write the request and read one answer up to its empty line. */
  private exchange(conn: Conn, text: string): Promise<string> {
    const s = conn.socket;
    return new Promise((resolve, reject) => {
      let buf = '';
      const done = (err: Error | undefined, action?: string): void => {
        clearTimeout(t);
        s.off('data', onData);
        s.off('close', onClose);
        if (err) reject(err);
        else resolve(action!);
      };
      const t = setTimeout(() => done(new Error('read timeout')), this.opts.timeoutMs);
      const onClose = (): void => done(new Error('connection closed by server'));
      const onData = (d: Buffer): void => {
        buf += d.toString('utf8');
        if (buf.length > MAX_ANSWER) return done(new Error('answer too long'));
        const end = buf.indexOf('\n\n');
        if (end < 0) return;
        if (buf.length > end + 2) return done(new Error('unexpected data after the answer'));
        const action = buf.slice(0, end).split('\n').find((l) => l.startsWith('action='))?.slice(7).trim();
        if (!action || /[\x00-\x1f\x7f\ufffd]/.test(action)) return done(new Error(`malformed answer: "${buf.slice(0, 100).replace(/\n/g, '\\n')}"`));
        done(undefined, action);
      };
      s.on('data', onData);
      s.once('close', onClose);
      if (conn.broken || s.destroyed) return done(new Error('connection lost'));
      s.write(text);
    });
  }

  private release(c: Conn): void {
    const old = Date.now() - c.born >= this.opts.maxTtlMs;
    const used = this.opts.requestLimit > 0 && c.requests >= this.opts.requestLimit;
    if (this.closed || old || used || c.broken) return this.destroy(c);
    c.socket.unref(); // an idle policy connection must not keep the process alive
    c.idleTimer = setTimeout(() => {
      this.idle = this.idle.filter((x) => x !== c);
      this.destroy(c);
    }, this.opts.maxIdleMs);
    c.idleTimer.unref();
    this.idle.push(c);
  }

  private destroy(c: Conn): void {
    if (c.idleTimer) clearTimeout(c.idleTimer);
    c.broken = true;
    c.socket.destroy();
  }
}
