/**
 * A client of Dovecot's authentication protocol (auth client protocol 1.2, as Postfix's
 * smtpd_sasl_type = dovecot speaks it) over a UNIX socket or inet:host:port. Postern
 * decodes PLAIN/LOGIN itself and asks Dovecot with one PLAIN request per attempt.
 * When Dovecot is down the answer is a temporary failure (454), and the next attempt
 * reconnects.
 */

import { connect, type Socket } from 'node:net';
import type { AuthBackend, AuthResult, AuthRequestInfo } from './types.js';

interface Pending {
  resolve: (r: AuthResult) => void;
  timer: NodeJS.Timeout;
}

export function parseSaslPath(path: string, queueDirectory: string): { host: string; port: number } | { path: string } {
  const m = /^inet:(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(path);
  if (m) return { host: m[1] ?? m[2]!, port: Number(m[3]) };
  const p = path.replace(/^unix:/, '');
  return { path: p.startsWith('/') ? p : `${queueDirectory}/${p}` };
}

export function createDovecotBackend(target: { host: string; port: number } | { path: string }, opts: { timeoutMs?: number } = {}): AuthBackend {
  let sock: Socket | undefined;
  let ready: Promise<void> | undefined;
  let buf = '';
  let seq = 0;
  const pending = new Map<string, Pending>();
  const timeoutMs = opts.timeoutMs ?? 10_000;

  function failAll(reason: string): void {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.resolve({ kind: 'tempfail', reason });
    }
  }

  function onLine(line: string): void {
    const f = line.split('\t');
    const [cmd, id] = f;
    if (cmd !== 'OK' && cmd !== 'FAIL' && cmd !== 'CONT') return; // handshake lines (VERSION, MECH, SPID, CUID, COOKIE, DONE)
    const p = pending.get(id ?? '');
    if (!p) return;
    pending.delete(id!);
    clearTimeout(p.timer);
    const kv = new Map(f.slice(2).map((x) => [x.split('=')[0]!, x.includes('=') ? x.slice(x.indexOf('=') + 1) : '']));
    if (cmd === 'OK') p.resolve({ kind: 'ok', user: kv.get('user') ?? '' });
    else if (cmd === 'FAIL') p.resolve(kv.has('temp') ? { kind: 'tempfail', reason: kv.get('reason') || 'temporary failure' } : { kind: 'fail', reason: kv.get('reason') || 'authentication failure' });
    else p.resolve({ kind: 'fail', reason: 'unexpected continuation from Dovecot' });
  }

  function open(): Promise<void> {
    if (ready && sock && !sock.destroyed) return ready;
    ready = new Promise<void>((resolve, reject) => {
      const s = 'path' in target ? connect(target.path) : connect(target.port, target.host);
      sock = s;
      buf = '';
      let handshakeDone = false;
      s.setEncoding('utf8');
      s.on('connect', () => s.write(`VERSION\t1\t2\nCPID\t${process.pid}\n`));
      s.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!handshakeDone && line === 'DONE') {
            handshakeDone = true;
            resolve();
          } else onLine(line);
        }
      });
      s.on('error', (err) => {
        reject(err);
        failAll(`Dovecot auth server unreachable: ${err.message}`);
      });
      s.on('close', () => {
        if (!handshakeDone) reject(new Error('Dovecot closed the connection during the handshake'));
        failAll('Dovecot auth connection closed');
        sock = undefined;
        ready = undefined;
      });
    });
    return ready;
  }

  return {
    async verify(user: string, password: string, info: AuthRequestInfo): Promise<AuthResult> {
      try {
        await open();
      } catch (err) {
        ready = undefined;
        return { kind: 'tempfail', reason: (err as Error).message };
      }
      const id = String(++seq);
      const resp = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
      const fields = ['AUTH', id, 'PLAIN', 'service=smtp', 'nologin', `rip=${info.clientAddr}`, `lport=${info.localPort}`, ...(info.secured ? ['secured'] : []), `resp=${resp}`];
      return new Promise<AuthResult>((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ kind: 'tempfail', reason: 'Dovecot auth server timed out' });
        }, timeoutMs);
        pending.set(id, { resolve, timer });
        sock!.write(fields.join('\t') + '\n');
      });
    },
    close(): void {
      failAll('closing');
      sock?.destroy();
    },
  };
}
