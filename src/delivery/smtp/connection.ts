/**
 * One client connection's bytes: connect (TCP with an optional bind address, or a UNIX
 * socket) with a time limit, TCP_NODELAY, reply reading with a time limit per reply, writes
 * (a pipelined group is one write), the message body with a progress time limit, and the
 * STARTTLS upgrade (RFC 3207: anything the server sent after its 220 is discarded).
 *
 * Errors are values the session turns into Postfix's wording: StreamError says whether the
 * peer went away ("lost connection … while …") or was too slow ("timed out while …"), and
 * connect failures carry strerror(3) text ("Connection refused"). Input is untrusted: a
 * reply line longer than 64 KiB without a newline ends the connection.
 */

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { ReplyParser, type ServerReply } from './reply.js';

export class StreamError extends Error {
  constructor(readonly kind: 'eof' | 'timeout', message: string) {
    super(message);
    this.name = 'StreamError';
  }
}

import { strerror } from '../../log/strerror.js';

export { strerror };

export type ConnectTarget =
  | { readonly kind: 'inet'; readonly address: string; readonly port: number; readonly localAddress?: string }
  | { readonly kind: 'unix'; readonly path: string };

/** Open the socket; rejects with an Error whose message is strerror text. timeoutMs 0 = no limit of ours. */
export function openSocket(target: ConnectTarget, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = target.kind === 'unix'
      ? netConnect({ path: target.path })
      : netConnect({ host: target.address, port: target.port, ...(target.localAddress ? { localAddress: target.localAddress } : {}) });
    let timer: NodeJS.Timeout | undefined;
    const done = (err?: Error): void => {
      if (timer) clearTimeout(timer);
      socket.removeListener('connect', onConnect);
      socket.removeListener('error', onError);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    const onConnect = (): void => {
      // Pipelined groups go out as one segment; Nagle would hold the next group ~40 ms waiting for an ACK.
      if (target.kind === 'inet') socket.setNoDelay(true);
      done();
    };
    const onError = (err: Error): void => done(new Error(strerror(err)));
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (timeoutMs > 0) timer = setTimeout(() => done(new Error('Connection timed out')), timeoutMs);
  });
}

const MAX_PENDING = 64 * 1024;
const BODY_CHUNK = 64 * 1024;

export class Connection {
  private socket: Socket;
  private pending: Buffer = Buffer.alloc(0);
  private readonly parser = new ReplyParser();
  private readonly replies: ServerReply[] = [];
  private waiter: { resolve: (r: ServerReply) => void; reject: (e: StreamError) => void } | undefined;
  private ended: StreamError | undefined;
  private closeListeners: (() => void)[] = [];
  private tlsSocket: TLSSocket | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const nl = this.pending.indexOf(10, start);
      if (nl < 0) break;
      const end = nl > start && this.pending[nl - 1] === 13 ? nl - 1 : nl;
      const line = this.pending.toString('utf8', start, end);
      start = nl + 1;
      const r = this.parser.push(line);
      if (r) this.deliver(r);
    }
    this.pending = start === 0 ? this.pending : this.pending.subarray(start);
    if (this.pending.length > MAX_PENDING) {
      this.fail(new StreamError('eof', 'reply line too long'));
      this.socket.destroy();
    }
  };

  private readonly onEnd = (): void => this.fail(new StreamError('eof', 'connection closed by peer'));
  private readonly onError = (err: Error): void => this.fail(new StreamError('eof', strerror(err)));

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('close', this.onEnd);
    s.on('error', this.onError);
  }

  private detach(s: Socket): void {
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onEnd);
    s.removeListener('error', this.onError);
  }

  private deliver(r: ServerReply): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(r);
    } else this.replies.push(r);
  }

  private fail(e: StreamError): void {
    if (this.ended) return;
    this.ended = e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const l of listeners) l();
  }

  /** False once the peer closed, an error or a timeout happened, or we closed. */
  get alive(): boolean {
    return !this.ended;
  }

  get tls(): TLSSocket | undefined {
    return this.tlsSocket;
  }

  /** Called once when the connection ends for any reason (the cache drops idle connections). */
  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.closeListeners.push(listener);
  }

  /** The next reply; rejects with StreamError on end of stream or after timeoutMs (0 = no limit). */
  read(timeoutMs: number): Promise<ServerReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      this.waiter = {
        resolve: (r) => {
          if (timer) clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.fail(new StreamError('timeout', 'timed out'));
          this.socket.destroy();
        }, timeoutMs);
      }
    });
  }

  /** Queue text for the peer: one call per pipelined group, so the group leaves in one segment. */
  write(data: string | Buffer): void {
    if (this.ended) return; // the next read() reports why
    this.socket.write(data);
  }

  /**
   * Send the (already dot-stuffed) body. Each chunk must be taken by the kernel within
   * timeoutMs (Postfix's smtp_data_xfer_timeout is per write, not for the whole body).
   */
  async writeBody(data: Buffer, timeoutMs: number): Promise<void> {
    for (let off = 0; off < data.length; off += BODY_CHUNK) {
      if (this.ended) throw this.ended;
      const chunk = data.subarray(off, Math.min(data.length, off + BODY_CHUNK));
      if (!this.socket.write(chunk)) await this.drained(timeoutMs);
    }
    if (this.ended) throw this.ended;
  }

  private drained(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: StreamError): void => {
        if (timer) clearTimeout(timer);
        this.socket.removeListener('drain', onDrain);
        this.closeListeners = this.closeListeners.filter((l) => l !== onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => finish();
      const onClose = (): void => finish(this.ended ?? new StreamError('eof', 'connection closed'));
      this.socket.once('drain', onDrain);
      this.onClose(onClose);
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.fail(new StreamError('timeout', 'timed out'));
          this.socket.destroy();
          finish(this.ended);
        }, timeoutMs);
      }
    });
  }

  /**
   * Upgrade to TLS after a 220 reply to STARTTLS. Certificate checks are the caller's (the
   * policy decides what an untrusted certificate means), so the handshake never rejects one.
   * On failure the connection is dead and the error says why.
   */
  startTls(options: ConnectionOptions, timeoutMs: number): Promise<TLSSocket> {
    const raw = this.socket;
    this.detach(raw);
    raw.on('error', () => undefined); // errors now surface on the TLS socket
    // RFC 3207 §4.2: nothing the server sent before the handshake may be trusted afterwards.
    this.pending = Buffer.alloc(0);
    this.replies.length = 0;
    return new Promise((resolve, reject) => {
      const tls = tlsConnect({ ...options, socket: raw, rejectUnauthorized: false });
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error): void => {
        if (timer) clearTimeout(timer);
        tls.removeListener('secureConnect', onSecure);
        tls.removeListener('error', onErr);
        if (err) {
          tls.on('error', () => undefined);
          tls.destroy();
          this.fail(new StreamError('eof', err.message));
          reject(err);
          return;
        }
        this.socket = tls;
        this.tlsSocket = tls;
        this.attach(tls);
        resolve(tls);
      };
      const onSecure = (): void => done();
      const onErr = (err: Error): void => done(err);
      tls.once('secureConnect', onSecure);
      tls.once('error', onErr);
      if (timeoutMs > 0) timer = setTimeout(() => done(new Error('timed out')), timeoutMs);
    });
  }

  /** Send QUIT and close without waiting for the reply (Postfix's smtp_skip_quit_response = yes). */
  quit(): void {
    if (!this.ended) {
      this.socket.end('QUIT\r\n');
      this.fail(new StreamError('eof', 'closed by us'));
    }
    // A peer that never closes its side must not keep the socket open.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.fail(new StreamError('eof', 'closed by us'));
    this.socket.destroy();
  }
}
