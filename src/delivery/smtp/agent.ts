/**
 * The SMTP and LMTP delivery agents (Postfix's smtp(8) and lmtp(8)) behind the
 * TransportAgent interface: one request = one message, one next hop, some recipients;
 * the result is one outcome per recipient (sent / deferred / bounced with DSN, relay and
 * diagnostic). Never throws for a recipient's failure.
 *
 * Order of work (smtp_connect.c): parse the next hop (a list, then smtp_fallback_relay);
 * per destination pick the TLS policy, resolve MX/addresses, take a cached connection or
 * connect to each address in turn (smtp_mx_address_limit, smtp_mx_session_limit), and
 * apply the "final server" rule (outcomes.ts) so temporary failures move on to the next
 * server while permanent ones bounce.
 *
 * Why our own client and not a library (nodemailer's smtp-connection and the like): we need
 * a whole pipelined group per write (MAIL + every RCPT + DATA, with TCP_NODELAY), a result
 * per recipient (one RCPT refused must not fail the others), LMTP's one reply per recipient
 * after the dot, Postfix's exact log and DSN wording, and Postfix's TLS levels and
 * fallback-to-plaintext rules. Libraries give one result per message and their own texts.
 */

import type { TransportAgent, TransportOutcome, TransportRequest } from '../types.js';
import type { Dns } from '../../dns/types.js';
import type { MailLog } from '../../log/maillog.js';
import { programName } from '../../log/maillog.js';
import { TableRegistry } from '../../tables/open.js';
import { parseNexthop, type Destination } from './nexthop.js';
import { resolveCandidates, type Candidate } from './mx.js';
import { Connection, openSocket } from './connection.js';
import { SiteError, SmtpSession, peerLabel, type Transaction, type SessionOptions } from './session.js';
import { RecipientTracker } from './outcomes.js';
import { ConnectionCache } from './cache.js';
import { readSettings, type ClientSettings } from './settings.js';
import { policyFor } from './tls-policy.js';
import { encodeBody, hasNonAscii, headerSection, xtext } from './body.js';
import { isIP } from 'node:net';

export interface SmtpAgentDeps {
  readonly dns: Dns;
  readonly log?: MailLog;
  /** true: lmtp(8) (LHLO, reply per recipient, no MX lookups); false: smtp(8). */
  readonly lmtp: boolean;
  /** Base for relative unix: next hops (unix:private/dovecot-lmtp). */
  readonly queueDirectory: string;
  /** For smtp_tls_policy_maps; the daemon passes its shared registry. */
  readonly tables?: TableRegistry;
  /** Deterministic shuffling in tests. */
  readonly random?: () => number;
}

export type SmtpAgent = TransportAgent & { close(): Promise<void>; readonly cache: ConnectionCache };

/** "name[addr]" → parts, for XFORWARD. */
function clientParts(client: string): { name: string; addr: string } | undefined {
  const m = /^(.*)\[([^\]]*)\]$/.exec(client);
  return m ? { name: m[1] || 'unknown', addr: m[2]! } : undefined;
}

function transaction(req: TransportRequest, idx: readonly number[]): Transaction {
  const msg = req.msg;
  const rcpts = idx.map((i) => req.recipients[i]!);
  const envelopeUtf8 = hasNonAscii(msg.sender) || rcpts.some((r) => hasNonAscii(r.recipient));
  const xf = clientParts(msg.client);
  return {
    sender: msg.sender,
    recipients: rcpts.map((r) => ({
      address: r.recipient,
      // Postfix sends the original recipient as ORCPT when the client gave none.
      ...(r.orcpt ? { orcpt: r.orcpt } : !hasNonAscii(r.originalRecipient) && r.originalRecipient ? { orcpt: `rfc822;${xtext(r.originalRecipient)}` } : {}),
      ...(r.notify ? { notify: r.notify } : {}),
    })),
    data: msg.data,
    ...(msg.envid ? { envid: msg.envid } : {}),
    ...(msg.ret ? { ret: msg.ret } : {}),
    eightBit: msg.bodyType === '8BITMIME' || msg.bodyType === 'BINARYMIME',
    smtputf8: msg.smtputf8 === true,
    // RFC 6531: only mail that really carries UTF-8 (envelope, or headers of an SMTPUTF8 message) needs the extension.
    needsSmtputf8: envelopeUtf8 || (msg.smtputf8 === true && hasNonAscii(headerSection(msg.data))),
    ...(xf ? { xforward: xf } : {}),
  };
}

export function createSmtpAgent(deps: SmtpAgentDeps): SmtpAgent {
  const cache = new ConnectionCache();
  const tables = deps.tables ?? new TableRegistry();

  async function deliver(req: TransportRequest): Promise<TransportOutcome[]> {
    const started = Date.now();
    const s = readSettings(req.params, deps.lmtp);
    const program = programName(s.syslogName, s.process);
    const info = (line: string): void => deps.log?.line(program, line);
    const warn = (line: string): void => deps.log?.warning(program, line);
    const track = new RecipientTracker(req.recipients, started, deps.lmtp);
    if (req.recipients.length === 0) return [];

    const opts = { lmtp: deps.lmtp, defaultPort: s.defaultPort, queueDirectory: deps.queueDirectory };
    const primary = parseNexthop(req.nexthop, opts);
    if ('error' in primary) {
      warn(`${req.msg.id}: ${primary.error}`);
      return track.finish({ failure: { dsn: '4.3.5', text: 'Server configuration error' }, where: {} });
    }
    const fallback: Destination[] = [];
    for (const f of s.fallbackRelay) {
      const d = parseNexthop(f, opts);
      if ('error' in d) warn(`${s.nameOf('smtp_fallback_relay')}: ${d.error}`);
      else fallback.push(...d);
    }
    const sites = [...primary, ...(primary.some((d) => d.kind === 'unix') ? [] : fallback)];
    let body: Buffer | undefined;
    const encoded = (): Buffer => (body ??= encodeBody(req.msg.data));
    const ctx: SiteContext = { req, s, track, info, warn, encoded };

    let i = 0;
    for (; i < sites.length && track.anyPending; i++) {
      const stop = await deliverToSite(ctx, sites[i]!, i === sites.length - 1);
      if (stop) break;
    }
    track.markSetup();
    let leftover = track.last ?? { failure: { dsn: '4.3.0', text: 'server unavailable or unable to receive mail' }, where: {} };
    if (track.anyPending && !leftover.failure.dsn.startsWith('4') && !leftover.failure.softNonFinal) {
      // A relay that does not resolve or refuses us is a configuration problem: defer, do not bounce (smtp_connect.c).
      const lastSite = sites[Math.min(i, sites.length - 1)]!;
      const isFallback = fallback.includes(lastSite) && sites.length > primary.length;
      const isRelayhost = !deps.lmtp && s.relayhost !== '' && req.nexthop === s.relayhost;
      if (isFallback || isRelayhost) {
        warn(`${isFallback ? s.nameOf('smtp_fallback_relay') : 'relayhost'} configuration problem`);
        leftover = { failure: { ...leftover.failure, dsn: '4.3.5' }, where: leftover.where };
      }
    }
    return track.finish(leftover);
  }

  interface SiteContext {
    readonly req: TransportRequest;
    readonly s: ClientSettings;
    readonly track: RecipientTracker;
    readonly info: (line: string) => void;
    readonly warn: (line: string) => void;
    readonly encoded: () => Buffer;
  }

  /** Run one message over an open session; returns whether the session may be parked. */
  async function runSession(ctx: SiteContext, session: SmtpSession, final: boolean): Promise<'ok' | 'stale'> {
    const pending = ctx.track.pending();
    const res = await session.send(transaction(ctx.req, pending), ctx.encoded);
    if (res.stale) return 'stale';
    pending.forEach((idx, k) => {
      const r = res.rcpt[k];
      if (r?.ok) ctx.track.sent(idx, r, session);
      else if (r) ctx.track.fail(idx, r.failure, final, { peer: session.label });
      else if (res.all) ctx.track.fail(idx, res.all, final, { peer: session.label });
    });
    if (res.all && ctx.track.anyPending && !final) ctx.info(`${ctx.req.msg.id}: ${res.all.text}`);
    return 'ok';
  }

  function park(ctx: SiteContext, key: string, session: SmtpSession): void {
    if (ctx.s.cacheOnDemand && session.usable) cache.put(key, session, ctx.s.cacheTimeMs, ctx.s.reuseTimeMs);
    else session.quit();
  }

  /** Try a cached session for `key`: true when it carried the message (whatever the result). */
  async function tryCached(ctx: SiteContext, key: string, final: boolean): Promise<boolean> {
    if (!ctx.s.cacheOnDemand) return false;
    for (let cached = cache.take(key); cached; cached = cache.take(key)) {
      ctx.track.markSetup();
      if ((await runSession(ctx, cached, final)) === 'stale') {
        cached.quit();
        continue; // the peer closed it while idle: nothing was sent, take another or connect
      }
      park(ctx, key, cached);
      return true;
    }
    return false;
  }

  /** One next hop; returns true when delivery must stop here (null MX). */
  async function deliverToSite(ctx: SiteContext, dest: Destination, finalNexthop: boolean): Promise<boolean> {
    const { s, track, req } = ctx;
    const key = `${req.transport}|${dest.kind === 'unix' ? 'unix:' + dest.path : dest.written}`;
    const host = dest.kind === 'unix' ? s.myhostname : dest.host;
    const pol = await policyFor(s, tables, { written: dest.kind === 'unix' ? dest.path : dest.written, host, bracketed: dest.kind === 'inet' && dest.written.startsWith('['), unix: dest.kind === 'unix' });
    if (pol.warning) ctx.warn(pol.warning);
    if ('error' in pol) {
      track.last = { failure: pol.error, where: {} };
      return false;
    }
    const sessOpts: SessionOptions = { settings: s, policy: pol.policy, nexthopDomain: host, info: ctx.info };

    if (dest.kind === 'unix') {
      if (await tryCached(ctx, key, true)) return false;
      const peer = { host: s.myhostname, address: dest.written };
      let sock;
      try {
        sock = await openSocket({ kind: 'unix', path: dest.path }, s.timeouts.connect);
      } catch (err) {
        track.markSetup();
        track.last = { failure: { dsn: '4.4.1', text: `connect to ${peer.host}[${peer.address}]: ${(err as Error).message}` }, where: {} };
        return false;
      }
      await converse(ctx, key, new Connection(sock), peer, sessOpts, true, false);
      return false;
    }

    const res = await resolveCandidates(deps.dns, dest, {
      ipv4: s.ipv4, ipv6: s.ipv6, randomize: s.randomize, preference: s.addressPreference, addressLimit: s.mxAddressLimit,
      ...(deps.random ? { random: deps.random } : {}),
    });
    for (const w of res.warnings) ctx.warn(w);
    if (res.kind === 'fail') {
      track.last = { failure: res.failure, where: {} };
      if (res.nullMx) {
        track.markSetup();
        track.failAll(res.failure, true, {});
        return true;
      }
      return false;
    }
    if (await tryCached(ctx, key, finalNexthop && res.candidates.length === 0)) return false;

    let sessions = 0;
    const list = res.candidates;
    for (let j = 0; j < list.length && track.anyPending; j++) {
      const c = list[j]!;
      const lastAddress = j === list.length - 1 || (s.mxSessionLimit > 0 && sessions + 1 >= s.mxSessionLimit);
      const outcome = await connectAndSend(ctx, key, c, sessOpts, finalNexthop && lastAddress);
      if (outcome === 'session') sessions++;
      if (s.mxSessionLimit > 0 && sessions >= s.mxSessionLimit) break;
    }
    return false;
  }

  /** Connect to one address, retrying once in plain text after a failed opportunistic TLS handshake. */
  async function connectAndSend(ctx: SiteContext, key: string, c: Candidate, o: SessionOptions, final: boolean): Promise<'none' | 'session'> {
    const { s, track } = ctx;
    const peer = { host: c.host, address: c.address, port: c.port };
    for (let plain = false; ; plain = true) {
      const family = isIP(c.address);
      const localAddress = family === 6 ? s.bindAddress6 : s.bindAddress;
      let sock;
      try {
        sock = await openSocket({ kind: 'inet', address: c.address, port: c.port, ...(localAddress ? { localAddress } : {}) }, s.timeouts.connect);
      } catch (err) {
        const text = `connect to ${c.host}[${c.address}]:${c.port}: ${(err as Error).message}`;
        // Postfix logs every failed connect (the final reason goes into the deferral too).
        ctx.info(text);
        track.last = { failure: { dsn: '4.4.1', text }, where: {} };
        return 'none';
      }
      const r = await converse(ctx, key, new Connection(sock), peer, o, final, plain);
      if (r !== 'retry-plain') return r;
    }
  }

  /** Handshake and send on a fresh connection; park or close it afterwards. */
  async function converse(ctx: SiteContext, key: string, conn: Connection, peer: { host: string; address: string; port?: number }, o: SessionOptions, final: boolean, plain: boolean): Promise<'none' | 'session' | 'retry-plain'> {
    let session: SmtpSession;
    try {
      session = await SmtpSession.open(conn, peer, o, plain);
    } catch (err) {
      ctx.track.markSetup();
      if (!(err instanceof SiteError)) throw err;
      if (err.retryPlain && !plain) {
        ctx.info(`${ctx.req.msg.id}: ${err.failure.text}`); // Postfix logs the reason, then retries in plain text
        return 'retry-plain';
      }
      const where = { peer: peerLabel(peer) };
      const left = ctx.track.failAll(err.failure, final, where);
      if (left && !final) ctx.info(`${ctx.req.msg.id}: ${err.failure.text}`);
      return 'none';
    }
    ctx.track.markSetup();
    await runSession(ctx, session, final);
    park(ctx, key, session);
    return 'session';
  }

  return {
    cache,
    deliver: async (req) => {
      try {
        return await deliver(req);
      } catch (err) {
        // A bug must not lose mail: defer everything still undecided with a precise log line.
        deps.log?.error(programName(req.params.str('syslog_name'), deps.lmtp ? 'lmtp' : 'smtp'), `${req.msg.id}: internal error in delivery: ${(err as Error).stack ?? String(err)}`);
        return req.recipients.map((recipient) => ({ recipient, status: 'deferred' as const, dsn: '4.3.0', text: 'mail system internal error', relay: 'none' }));
      }
    },
    async close() {
      cache.closeAll();
    },
  };
}

