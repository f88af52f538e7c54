/**
 * A SpamAssassin spamd client (the SPAMC/1.5 protocol, as spamc speaks it): one connection
 * per message to "host:port" or a UNIX socket, "SYMBOLS SPAMC/1.5" with Content-length,
 * the message, then spamd's "SPAMD/1.1 0 EX_OK" reply with "Spam: True ; 1005.2 / 5.0"
 * and the names of the rules that hit. CHECK and PROCESS are the same exchange without
 * symbols / with the rewritten message; Postern adds its own headers, so it asks SYMBOLS.
 * Every wait is bounded by the timeout; a refused or slow spamd is an error the caller turns
 * into postern_spamd_default_action. Input from spamd is parsed strictly (a reply that is not
 * SPAMD/x.y 0 is an error).
 */

import { connect, type Socket } from 'node:net';

export interface SpamdTarget {
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  /** As written in postern_spamd_server, for log lines. */
  readonly label: string;
}

export interface SpamVerdict {
  readonly isSpam: boolean;
  readonly score: number;
  readonly threshold: number;
  readonly symbols: readonly string[];
}

/** "127.0.0.1:783", "[::1]:783", "unix:/run/spamd.sock" or "/run/spamd.sock"; undefined for "". */
export function parseSpamdServer(value: string): SpamdTarget | undefined {
  const v = value.trim();
  if (!v) return undefined;
  if (v.startsWith('unix:')) return { path: v.slice(5), label: v };
  if (v.startsWith('/')) return { path: v, label: v };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v) ?? /^(?:\[([^\]]+)\]|([^:]+))$/.exec(v);
  if (!m) throw new Error(`postern_spamd_server: "${value}" is not host:port or a UNIX socket path`);
  return { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : 783, label: v };
}

/** Parses spamd's reply: status line, headers, then symbols (comma-separated) as the body. */
export function parseSpamdReply(text: string): SpamVerdict {
  const [head, body = ''] = text.split(/\r?\n\r?\n/, 2) as [string, string?];
  const lines = head.split(/\r?\n/);
  const status = /^SPAMD\/\d+\.\d+\s+(\d+)\s+(.*)$/.exec(lines[0] ?? '');
  if (!status) throw new Error(`unexpected spamd reply "${(lines[0] ?? '').slice(0, 80)}"`);
  if (status[1] !== '0') throw new Error(`spamd error ${status[1]} ${status[2]}`);
  const spam = lines.map((l) => /^Spam:\s*(True|False|Yes|No)\s*;\s*(-?[\d.]+)\s*\/\s*(-?[\d.]+)/i.exec(l)).find(Boolean);
  if (!spam) throw new Error('spamd reply without a Spam: header');
  return {
    isSpam: /^(true|yes)$/i.test(spam[1]!), score: Number(spam[2]), threshold: Number(spam[3]),
    symbols: body.trim() ? body.trim().split(/\s*,\s*/) : [],
  };
}

export function spamdCheck(target: SpamdTarget, message: Buffer, timeoutMs: number): Promise<SpamVerdict> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const chunks: Buffer[] = [];
    const sock: Socket = target.path ? connect({ path: target.path }) : connect({ host: target.host!, port: target.port! });
    const done = (err: Error | undefined, v?: SpamVerdict): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(v!);
    };
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => {
      sock.write(`SYMBOLS SPAMC/1.5\r\nContent-length: ${message.length}\r\n\r\n`);
      sock.end(message);
    });
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err) => done(err));
    sock.on('end', () => {
      try {
        done(undefined, parseSpamdReply(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        done(err as Error);
      }
    });
  });
}
