/**
 * One TCP listener per master.cf `inet … smtpd` service: binds the service's addresses,
 * enforces its session limit (maxproc), looks up the client's name and starts a Session
 * (which does the implicit-TLS handshake itself, after logging "connect from"). Client
 * addresses are normalised here, once: an IPv4 client on an IPv6 socket ("::ffff:192.0.2.1")
 * is 192.0.2.1 in every log line, restriction and table lookup, as in Postfix.
 * A failure in one session never affects the others.
 */

import { createServer, type Server, type Socket } from 'node:net';
import type { Service } from '../config/types.js';
import type { MailLog } from '../log/maillog.js';
import { programName } from '../log/maillog.js';
import { smtpdLog } from '../log/smtpd-events.js';
import type { ClientInfo, PolicyEngine } from '../policy/types.js';
import type { Cleanup } from '../cleanup/types.js';
import { smtpdMilters } from '../milter/smtpd.js';
import { normalizeAddr } from '../policy/networks.js';
import { Session } from '../session/session.js';
import { tlsSettings } from './tls.js';
import { createAuthBackend } from '../auth/backend.js';
import type { ClientGuard } from './guard.js';

export interface SmtpDeps {
  log: MailLog;
  policy: PolicyEngine;
  cleanup: Cleanup;
  clientInfo(addr: string, port: number): Promise<ClientInfo>;
  /** Bans and anvil limits (listener/guard.ts); none in unit tests. */
  guard?: ClientGuard;
}

export interface SmtpListener {
  readonly addresses: { address: string; port: number }[];
  sessionCount(): number;
  /** Stop accepting; open sessions go on until they end. */
  stopAccepting(): Promise<void>;
  /** Stop accepting and close open sessions after a grace period (shutdown). */
  close(graceMs?: number): Promise<void>;
}

const WELL_KNOWN: Record<string, number> = { smtp: 25, submission: 587, smtps: 465, submissions: 465 };

/** The addresses a service binds: its own host:port, or inet_interfaces × the port. */
export function bindAddresses(service: Service): { host: string; port: number }[] {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(service.name);
  if (m) return [{ host: m[1] ?? m[2]!, port: Number(m[3]) }];
  const port = /^\d+$/.test(service.name) ? Number(service.name) : WELL_KNOWN[service.name];
  if (port === undefined) throw new Error(`service "${service.name}" (${service.file}:${service.line}): not a port or host:port`);
  const protocols = service.params.list('inet_protocols').map((p) => p.toLowerCase());
  const v4 = protocols.includes('all') || protocols.includes('ipv4');
  const v6 = protocols.includes('all') || protocols.includes('ipv6');
  const hosts: string[] = [];
  for (const iface of service.params.list('inet_interfaces')) {
    const i = iface.toLowerCase();
    if (i === 'all') {
      if (v6) hosts.push('::');
      else if (v4) hosts.push('0.0.0.0');
    } else if (i === 'loopback-only' || i === 'localhost') {
      if (v4) hosts.push('127.0.0.1');
      if (v6) hosts.push('::1');
    } else hosts.push(iface.replace(/^\[(.*)\]$/, '$1'));
  }
  return hosts.map((host) => ({ host, port }));
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(new Error(`cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${err.code ?? err.message}`));
    server.once('error', onError);
    server.listen({ host, port, ipv6Only: host === '::' ? false : undefined, backlog: 4096 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export async function startSmtpListener(service: Service, deps: SmtpDeps): Promise<SmtpListener> {
  const params = service.params;
  const program = programName(params.str('syslog_name'), 'smtpd');
  const hostname = params.str('myhostname');
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  // Both throw with the file or setting at fault: a clear start-up (or reload) error.
  const tls = tlsSettings(params);
  const auth = createAuthBackend(params);
  const guard = deps.guard;
  const onConnection = (socket: Socket): void => {
    socket.setNoDelay(true);
    const addr = normalizeAddr(socket.remoteAddress ?? '0.0.0.0');
    if (!guard) return accept(socket, addr);
    // A banned client costs the accept, one state lookup and the close: no DNS, no session.
    // Bytes it sends meanwhile wait in the paused socket for the session's pre-greeting check.
    guard.refuseBanned(socket, addr).then((refused) => {
      if (!refused && !socket.destroyed) accept(socket, addr);
    }, (err: unknown) => {
      deps.log.error(program, `ban lookup failed for [${addr}]: ${(err as Error).message}`);
      if (!socket.destroyed) accept(socket, addr);
    });
  };
  const milters = smtpdMilters(params, deps.log, program);
  const accept = (socket: Socket, addr: string): void => {
    const port = socket.remotePort ?? 0;
    if (sockets.size >= service.maxproc) {
      smtpdLog.sessionsFull(deps.log, program, service.name, service.maxproc, `[${addr}]`);
      socket.on('error', () => undefined);
      socket.end('421 4.3.2 Service currently unavailable\r\n');
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // Data that arrives while DNS runs is kept by the session (pre-greeting detection). With
    // implicit TLS it is the client's TLS hello: left unread in the socket for the handshake,
    // which the session starts after logging "connect from", as Postfix does.
    const early: Buffer[] = [];
    const collect = (b: Buffer): void => void early.push(b);
    if (!tls?.wrapper) socket.on('data', collect);
    void deps.clientInfo(addr, port)
      .catch((): ClientInfo => ({ addr, port, name: 'unknown', reverseName: 'unknown', nameStatus: 'tempfail' }))
      .then(async (client) => {
        // anvil: counted while the session lives; over a limit the session only says 421.
        const conn = guard ? await guard.connect(client, `${client.name}[${client.addr}]`) : undefined;
        if (conn) socket.once('close', conn.release);
        socket.off('data', collect);
        if (socket.destroyed) {
          conn?.release();
          return;
        }
        const session = new Session(socket, client, { log: deps.log, policy: deps.policy, cleanup: deps.cleanup, params, serviceName: service.name, program, hostname, tls, auth, guard, milters });
        for (const b of early) socket.emit('data', b);
        return session.start(conn?.refusal);
      })
      .catch((err: unknown) => {
        deps.log.error(program, `session setup failed for [${addr}]: ${(err as Error).message}`);
        socket.destroy();
      });
  };

  try {
    for (const { host, port } of bindAddresses(service)) {
      const server = createServer({ pauseOnConnect: false }, onConnection);
      server.on('error', (err) => deps.log.error(program, `listener ${host}:${port}: ${err.message}`));
      await listen(server, host, port);
      servers.push(server);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }

  const stopAccepting = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))).map((p) => Promise.race([p, new Promise<void>((r) => setTimeout(r, 10))])));
  };

  return {
    addresses: servers.map((s) => {
      const a = s.address();
      return typeof a === 'object' && a ? { address: a.address, port: a.port } : { address: String(a), port: 0 };
    }),
    sessionCount: () => sockets.size,
    stopAccepting,
    async close(graceMs = 5000) {
      await stopAccepting();
      auth?.close();
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) {
        if (!s.destroyed) s.end('421 4.3.2 Service shutting down\r\n');
        s.destroy();
      }
    },
  };
}
