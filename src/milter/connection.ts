/**
 * One connection to one milter: TCP or UNIX socket, option negotiation, and
 * request/answer exchanges with a timeout per read. conversation.ts decides what to send
 * and what the answers mean; this file only moves packets.
 *
 * Errors are MilterError values whose text follows Postfix's milter8.c warnings
 * ("connect to Milter service inet:127.0.0.1:8891: Connection refused", "can't read
 * SMFIC_RCPT reply packet header: Connection timed out"), so the caller logs them as is.
 */

import { connect, type Socket } from 'node:net';
import type { MilterSpec } from './spec.js';
import {
  ALL_ACTIONS, CMD, CMD_NAME, OFFERED_PROTOCOL, PacketReader, decodeReply, isFinal, optneg, parseOptneg,
  type Command, type Modification, type MilterReply, type Negotiated, type Packet,
} from './protocol.js';

export class MilterError extends Error {}

/** Node's error codes in the words of strerror(3), as Postfix logs them. */
function errnoText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'Connection refused';
    case 'ENOENT': return 'No such file or directory';
    case 'EACCES': return 'Permission denied';
    case 'ECONNRESET': return 'Connection reset by peer';
    case 'EPIPE': return 'Broken pipe';
    case 'ETIMEDOUT': return 'Connection timed out';
    case 'EHOSTUNREACH': return 'No route to host';
    case 'ENETUNREACH': return 'Network is unreachable';
    default: return err.message;
  }
}

export class MilterConnection {
  private readonly reader = new PacketReader();
  private waiter?: { resolve(p: Packet): void; reject(e: Error): void };
  private broken?: Error;
  private readonly queue: Packet[] = [];

  private constructor(private readonly socket: Socket, readonly spec: MilterSpec, public negotiated: Negotiated) {}

  /** Connect within connect_timeout, then negotiate options within command_timeout. */
  static async open(spec: MilterSpec): Promise<MilterConnection> {
    if (spec.path === undefined && spec.host === undefined) throw new MilterError(`milter ${spec.name}: configuration error`);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = spec.path !== undefined ? connect({ path: spec.path }) : connect({ host: spec.host!, port: spec.port! });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new MilterError(`connect to Milter service ${spec.name}: Connection timed out`));
      }, spec.connectTimeout);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new MilterError(`connect to Milter service ${spec.name}: ${errnoText(err)}`));
      });
    });
    const c = new MilterConnection(socket, spec, { version: spec.protocol, actions: 0, protocol: 0, macros: {} });
    c.listen();
    try {
      c.socket.write(optneg(spec.protocol, ALL_ACTIONS, OFFERED_PROTOCOL));
      const p = await c.read(CMD.optneg, spec.commandTimeout);
      const n = parseOptneg(p);
      if (n.version < 2 || n.version > 6) throw new MilterError(`milter ${spec.name}: unsupported protocol version ${n.version}`);
      // The milter may ask only for what we offered.
      c.negotiated = { ...n, actions: n.actions & ALL_ACTIONS, protocol: n.protocol & OFFERED_PROTOCOL };
      return c;
    } catch (err) {
      c.close();
      throw err instanceof MilterError ? err : new MilterError(`milter ${spec.name}: ${(err as Error).message}`);
    }
  }

  private listen(): void {
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
        for (let p = this.reader.next(); p; p = this.reader.next()) this.deliver(p);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new Error(errnoText(err))));
    this.socket.on('close', () => this.fail(new Error('lost connection')));
  }

  private deliver(p: Packet): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(p);
    } else this.queue.push(p);
  }

  private fail(err: Error): void {
    this.broken ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  /** The next packet from the milter, within `timeout` ms; `after` names the command for errors. */
  private read(after: Command, timeout: number): Promise<Packet> {
    const what = `can't read ${CMD_NAME[after] ?? after} reply packet header`;
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.broken) return Promise.reject(new MilterError(`milter ${this.spec.name}: ${what}: ${this.broken.message}`));
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new MilterError(`milter ${this.spec.name}: ${what}: Connection timed out`));
      }, timeout);
      this.waiter = {
        resolve: (p) => { clearTimeout(timer); resolve(p); },
        reject: (e) => { clearTimeout(timer); reject(new MilterError(`milter ${this.spec.name}: ${what}: ${e.message}`)); },
      };
    });
  }

  /** Write packets; false (and nothing sent) when the connection is already gone. */
  send(...packets: Buffer[]): void {
    if (this.broken) throw new MilterError(`milter ${this.spec.name}: write error: ${this.broken.message}`);
    this.socket.write(Buffer.concat(packets));
  }

  /**
   * Send packets whose last command expects an answer and read it: modifications (only at
   * end of message) are collected until the final reply; SMFIR_PROGRESS restarts the timer.
   */
  async exchange(cmd: Command, packets: Buffer[], timeout: number): Promise<{ reply: MilterReply; mods: Modification[] }> {
    this.send(...packets);
    const mods: Modification[] = [];
    for (;;) {
      const p = await this.read(cmd, timeout);
      let r;
      try {
        r = decodeReply(p);
      } catch (err) {
        throw new MilterError(`milter ${this.spec.name}: ${(err as Error).message} after ${CMD_NAME[cmd] ?? cmd}`);
      }
      if (r.kind === 'progress') continue;
      if (isFinal(r)) return { reply: r, mods };
      if (cmd !== CMD.eob) throw new MilterError(`milter ${this.spec.name}: modification request "${p.cmd}" after ${CMD_NAME[cmd] ?? cmd}`);
      mods.push(r);
    }
  }

  /** SMFIC_QUIT and close (best effort; the milter may already be gone). */
  quit(): void {
    if (!this.broken) this.socket.end(Buffer.from([0, 0, 0, 1, CMD.quit.charCodeAt(0)]));
    this.close();
  }

  close(): void {
    this.broken ??= new Error('closed');
    this.socket.destroySoon?.();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}
