/**
 * A scripted SMTP/LMTP peer for the client's unit tests: a tiny net.Server on 127.0.0.1
 * (or a UNIX socket) that answers like a plain ESMTP server unless a hook says otherwise,
 * and records what it saw: every command, the raw read chunks (to prove pipelining batches
 * arrive in one segment), every message (envelope and unstuffed body). Hooks script the
 * cases: a 4xx/5xx to any command, a silent greeting, a drop in the middle of DATA, LMTP
 * per-recipient replies, STARTTLS with a given certificate. Test code only.
 */

import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';

export interface PeerMessage {
  readonly from: string;
  readonly mailArgs: string;
  readonly rcpts: string[];
  readonly rcptArgs: string[];
  readonly data: Buffer;
  /** The body as received on the wire (dot-stuffed, with the final ".\r\n"). */
  readonly wire: Buffer;
}

export interface PeerState {
  /** Connection number (1-based). */
  readonly conn: number;
  readonly from: string;
  readonly rcpts: readonly string[];
  readonly tls: boolean;
}

export interface PeerOptions {
  /** Greeting; null: never say anything (timeout tests). */
  greeting?: string | null;
  /** EHLO/LHLO keywords. */
  keywords?: string[];
  lmtp?: boolean;
  /** Override a reply: return the full reply text ("550 5.1.1 …", may contain \r\n for multi-line), or undefined for the default. */
  reply?: (command: string, st: PeerState) => string | undefined;
  /** Final reply after the dot (SMTP: one string; LMTP: one per accepted recipient). */
  afterData?: (msg: PeerMessage, st: PeerState) => string | string[];
  /** Close the connection after this many body bytes arrive. */
  dropAfterBodyBytes?: number;
  /** Never answer the final dot. */
  silentAfterData?: boolean;
  /** STARTTLS with this key/cert (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Listen on a UNIX socket instead of TCP. */
  path?: string;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Listen port (default: a free one). */
  port?: number;
}

export interface ScriptedPeer {
  readonly port: number;
  readonly commands: string[];
  /** Raw chunks as read from the socket, for pipelining checks. */
  readonly chunks: string[];
  readonly messages: PeerMessage[];
  /** Client addresses of the connections, in order. */
  readonly remotes: string[];
  connections: number;
  close(): Promise<void>;
}

export async function startPeer(opts: PeerOptions = {}): Promise<ScriptedPeer> {
  const sockets = new Set<Socket>();
  const peer: ScriptedPeer = {
    port: 0,
    commands: [],
    chunks: [],
    messages: [],
    remotes: [],
    connections: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const keywords = opts.keywords ?? ['PIPELINING', 'SIZE 10240000', '8BITMIME', 'DSN', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', ...(opts.tls ? ['STARTTLS'] : [])];

  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    const conn = ++peer.connections;
    peer.remotes.push(raw.remoteAddress ?? '');
    let sock: Socket = raw;
    let buf = Buffer.alloc(0);
    let inData = false;
    let tls = false;
    let from = '';
    let mailArgs = '';
    let rcpts: string[] = [];
    let rcptArgs: string[] = [];
    let bodyBytes = 0;
    const st = (): PeerState => ({ conn, from, rcpts, tls });
    const send = (text: string): void => {
      if (!sock.destroyed) sock.write(text.replace(/\r?\n/g, '\r\n') + '\r\n');
    };
    const answer = (cmd: string, dflt: string): void => send(opts.reply?.(cmd, st()) ?? dflt);

    const onData = (chunk: Buffer): void => {
      peer.chunks.push(chunk.toString('latin1'));
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (inData) {
          bodyBytes += chunk.length;
          if (opts.dropAfterBodyBytes !== undefined && bodyBytes >= opts.dropAfterBodyBytes) {
            sock.destroy();
            return;
          }
          chunk = Buffer.alloc(0);
          const end = buf.indexOf('\r\n.\r\n');
          const atStart = buf.subarray(0, 3).toString() === '.\r\n';
          if (end < 0 && !atStart) return;
          const wireEnd = atStart ? 3 : end + 5;
          const wire = buf.subarray(0, wireEnd);
          const bodyPart = atStart ? Buffer.alloc(0) : buf.subarray(0, end + 2);
          buf = buf.subarray(wireEnd);
          inData = false;
          const msg: PeerMessage = { from, mailArgs, rcpts: [...rcpts], rcptArgs: [...rcptArgs], data: unstuff(bodyPart), wire };
          peer.messages.push(msg);
          if (!opts.silentAfterData) {
            const r = opts.afterData?.(msg, st()) ?? (opts.lmtp ? rcpts.map((x) => `250 2.0.0 <${x}> Saved`) : '250 2.0.0 Ok: queued as 4PEER');
            for (const line of Array.isArray(r) ? r : [r]) send(line);
          }
          from = '';
          rcpts = [];
          rcptArgs = [];
          continue;
        }
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString('utf8').replace(/\r$/, '');
        buf = buf.subarray(nl + 1);
        peer.commands.push(line);
        const verb = line.split(' ')[0]!.toUpperCase();
        switch (verb) {
          case 'EHLO':
          case 'LHLO':
            answer(line, ['250-peer.test', ...keywords].map((k, i, a) => `250${i === a.length - 1 ? ' ' : '-'}${k}`).join('\r\n'));
            break;
          case 'HELO':
            answer(line, '250 peer.test');
            break;
          case 'STARTTLS': {
            const r = opts.reply?.(line, st()) ?? '220 2.0.0 Ready to start TLS';
            send(r);
            if (r.startsWith('220') && opts.tls) {
              sock.removeListener('data', onData);
              const t = new TLSSocket(raw, { isServer: true, secureContext: createSecureContext({ key: opts.tls.key, cert: opts.tls.cert }) });
              t.on('error', () => raw.destroy());
              t.on('data', onData);
              sock = t;
              tls = true;
              buf = Buffer.alloc(0);
              return;
            }
            break;
          }
          case 'MAIL': {
            const m = /^MAIL FROM:<([^>]*)>(.*)$/i.exec(line);
            from = m?.[1] ?? '';
            mailArgs = (m?.[2] ?? '').trim();
            answer(line, '250 2.1.0 Ok');
            break;
          }
          case 'RCPT': {
            const m = /^RCPT TO:<([^>]*)>(.*)$/i.exec(line);
            const r = opts.reply?.(line, st()) ?? '250 2.1.5 Ok';
            if (r.startsWith('2')) {
              rcpts.push(m?.[1] ?? '');
              rcptArgs.push((m?.[2] ?? '').trim());
            }
            send(r);
            break;
          }
          case 'DATA': {
            const r = opts.reply?.(line, st()) ?? (rcpts.length ? '354 End data with <CR><LF>.<CR><LF>' : '554 5.5.1 Error: no valid recipients');
            send(r);
            if (r.startsWith('354')) {
              inData = true;
              bodyBytes = 0;
            }
            break;
          }
          case 'RSET':
            from = '';
            rcpts = [];
            rcptArgs = [];
            answer(line, '250 2.0.0 Ok');
            break;
          case 'QUIT':
            answer(line, '221 2.0.0 Bye');
            sock.end();
            return;
          default:
            answer(line, '502 5.5.2 Error: command not recognized');
        }
      }
    };
    raw.on('data', onData);
    const greeting = opts.greeting === undefined ? `220 peer.test ${opts.lmtp ? 'LMTP' : 'ESMTP'}` : opts.greeting;
    if (greeting !== null) send(greeting);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (opts.path) server.listen(opts.path, () => resolve());
    else server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const a = server.address();
  (peer as { port: number }).port = typeof a === 'object' && a ? a.port : 0;
  return peer;
}

/** Undo dot-stuffing of a body that ends in CRLF (without the final ".\r\n"). */
function unstuff(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < body.length) {
    const nl = body.indexOf(10, start);
    const end = nl < 0 ? body.length : nl + 1;
    parts.push(body[start] === 0x2e ? body.subarray(start + 1, end) : body.subarray(start, end));
    start = end;
  }
  return Buffer.concat(parts);
}
