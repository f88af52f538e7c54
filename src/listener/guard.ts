/**
 * The client guard of one listener: what stands between an abusive client and any SMTP
 * work. At accept, a banned address is refused (postern_ban_action) before DNS, TLS or a
 * session exist — the accept and the close are all it costs. After the client's name is
 * known, anvil's connection count and rate limits; during the session, the message,
 * recipient, new-TLS and AUTH rate limits, and the failures that count toward a ban.
 *
 * Replies and warnings are Postfix's (smtpd.c), so log readers and fail2ban filters match:
 *   421 4.7.0 <host> Error: too many connections from <addr>
 *   warning: Connection rate limit exceeded: 31 from unknown[192.0.2.1] for service smtp
 * Clients in smtpd_client_event_limit_exceptions (default $mynetworks) have no limits;
 * clients in postern_ban_exceptions (default $mynetworks) are never counted nor banned.
 */

import type { Socket } from 'node:net';
import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import { createNetworkList } from '../policy/mynetworks.js';
import type { MailLog } from '../log/maillog.js';
import type { ClientInfo } from '../policy/types.js';
import type { NetworkList } from '../policy/mynetworks.js';
import { reply, formatReply, replyForLog, type Reply } from '../protocol/reply.js';
import { Bans, formatTime, type BanEvent, type BanRecord } from '../state/bans.js';
import { Anvil, clientKey, type RateEvent } from './anvil.js';

export type LimitEvent = Exclude<RateEvent, 'connection'>;

/** What the session asks of the guard (session/ sees only this). */
export interface SessionGuard {
  /** A rate limit for this command; the refusal (already logged) when exceeded. */
  limit(event: LimitEvent, client: ClientInfo, who: string): Promise<Reply | undefined>;
  /** A failure that counts toward a ban; a closing reply when it banned the client. */
  failure(event: BanEvent, client: ClientInfo, who: string): Promise<Reply | undefined>;
  /** A failed AUTH (user and password only to recognise a repeated stale password). */
  authFailure(client: ClientInfo, who: string, user: string, password: string): Promise<Reply | undefined>;
}

export interface GuardDeps {
  anvil: Anvil;
  bans: Bans;
  /** Service parameters (limits may be overridden per service with -o). */
  params: Params;
  service: string;
  log: MailLog;
  program: string;
  limitExceptions: NetworkList;
  banExceptions: NetworkList;
}

const LIMIT: Record<LimitEvent, { param: string; warning: string; reply: (host: string, addr: string) => Reply }> = {
  message: { param: 'smtpd_client_message_rate_limit', warning: 'Message delivery request rate limit exceeded', reply: (_h, a) => reply(450, '4.7.1', `Error: too much mail from ${a}`) },
  recipient: { param: 'smtpd_client_recipient_rate_limit', warning: 'Recipient address rate limit exceeded', reply: (_h, a) => reply(450, '4.7.1', `Error: too many recipients from ${a}`) },
  newtls: { param: 'smtpd_client_new_tls_session_rate_limit', warning: 'New TLS session rate limit exceeded', reply: (h, a) => reply(421, '4.7.0', `${h} Error: too many new TLS sessions from ${a}`, true) },
  auth: { param: 'smtpd_client_auth_rate_limit', warning: 'AUTH command rate limit exceeded', reply: (_h, a) => reply(450, '4.7.1', `Error: too many AUTH commands from ${a}`) },
};

/** The 554 a banned client gets instead of the greeting. */
export function banReply(r: BanRecord, code = 554, dsn = '5.7.1', disconnect = true): Reply {
  return reply(code, dsn, `Service unavailable; Client host [${r.addr}] blocked: banned until ${formatTime(r.until)} (${r.reason})`, disconnect);
}

/**
 * A "$mynetworks"-defaulted client list (smtpd_client_event_limit_exceptions,
 * postern_ban_exceptions): when the admin did not set it, mynetworks itself — including
 * the networks mynetworks_style stands for when mynetworks is not set either.
 */
export function exceptionList(params: Params, tables: TableRegistry, name: string): NetworkList {
  return createNetworkList(params, tables, params.isSet(name) ? name : 'mynetworks');
}

export class ClientGuard implements SessionGuard {
  private readonly hostname: string;
  private readonly v4: number;
  private readonly v6: number;
  private readonly action: 'reject' | 'drop';
  /** Whether a session's client is exempt from the limits / from bans, decided once per connection. */
  private readonly limitExempt = new WeakMap<ClientInfo, boolean>();
  private readonly banExempt = new WeakMap<ClientInfo, boolean>();

  constructor(private readonly d: GuardDeps) {
    this.hostname = d.params.str('myhostname');
    this.v4 = d.params.int('smtpd_client_ipv4_prefix_length');
    this.v6 = d.params.int('smtpd_client_ipv6_prefix_length');
    this.action = d.params.str('postern_ban_action').toLowerCase() === 'drop' ? 'drop' : 'reject';
  }

  private async matches(list: NetworkList, client: { name: string; addr: string }, what: string): Promise<boolean> {
    try {
      return await list.matches(client);
    } catch (err) {
      this.d.log.warning(this.d.program, `${what} lookup error for ${client.addr}: ${(err as Error).message}`);
      return false;
    }
  }

  /**
   * At accept, before anything else: true when the address is banned and the socket was
   * answered and closed. Costs one store lookup; the name is not looked up.
   */
  async refuseBanned(socket: Socket, addr: string): Promise<boolean> {
    const ban = await this.d.bans.lookup(addr);
    if (!ban) return false;
    if (await this.matches(this.d.banExceptions, { name: 'unknown', addr }, 'postern_ban_exceptions')) return false;
    socket.on('error', () => undefined);
    if (this.action === 'drop') {
      socket.destroy();
      return true;
    }
    const r = banReply(ban);
    this.d.log.line(this.d.program, `NOQUEUE: reject: CONNECT from unknown[${addr}]: ${replyForLog(r)}; proto=SMTP`);
    socket.end(formatReply(r));
    return true;
  }

  private exemptFromLimits(client: ClientInfo): Promise<boolean> {
    const known = this.limitExempt.get(client);
    if (known !== undefined) return Promise.resolve(known);
    return this.matches(this.d.limitExceptions, client, 'smtpd_client_event_limit_exceptions').then((m) => {
      this.limitExempt.set(client, m);
      return m;
    });
  }

  private async exemptFromBans(client: ClientInfo): Promise<boolean> {
    const known = this.banExempt.get(client);
    if (known !== undefined) return known;
    const m = await this.matches(this.d.banExceptions, client, 'postern_ban_exceptions');
    this.banExempt.set(client, m);
    return m;
  }

  /**
   * A new session: counted (release when it ends), and refused when over the connection
   * count or rate limit. `who` is "name[addr]" for the warning.
   */
  async connect(client: ClientInfo, who: string): Promise<{ release(): void; refusal?: { log(): void; reply: Reply } }> {
    if (await this.exemptFromLimits(client)) return { release: () => undefined };
    const countLimit = this.d.params.int('smtpd_client_connection_count_limit');
    const rateLimit = this.d.params.int('smtpd_client_connection_rate_limit');
    const key = clientKey(client.addr, this.v4, this.v6);
    const ident = `${this.d.service}:${client.addr}`;
    const { count, rate, release } = await this.d.anvil.connect(this.d.service, key, ident, this.d.params.timeMs('anvil_rate_time_unit'));
    const refuse = (text: string): { release(): void; refusal: { log(): void; reply: Reply } } => ({
      release,
      refusal: {
        log: () => this.d.log.warning(this.d.program, text),
        reply: reply(421, '4.7.0', `${this.hostname} Error: too many connections from ${client.addr}`, true),
      },
    });
    if (countLimit > 0 && count > countLimit) return refuse(`Connection concurrency limit exceeded: ${count} from ${who} for service ${this.d.service}`);
    if (rateLimit > 0 && rate > rateLimit) return refuse(`Connection rate limit exceeded: ${rate} from ${who} for service ${this.d.service}`);
    return { release };
  }

  async limit(event: LimitEvent, client: ClientInfo, who: string): Promise<Reply | undefined> {
    const l = LIMIT[event];
    const limit = this.d.params.int(l.param);
    if (limit <= 0 || (await this.exemptFromLimits(client))) return undefined;
    const rate = await this.d.anvil.rate(event, this.d.service, clientKey(client.addr, this.v4, this.v6), `${this.d.service}:${client.addr}`, this.d.params.timeMs('anvil_rate_time_unit'));
    if (rate <= limit) return undefined;
    this.d.log.warning(this.d.program, `${l.warning}: ${rate} from ${who} for service ${this.d.service}`);
    return l.reply(this.hostname, client.addr);
  }

  private banned(ban: BanRecord | undefined, who: string): Reply | undefined {
    if (!ban) return undefined;
    this.d.log.warning(this.d.program, `${who}: banned until ${formatTime(ban.until)} (${ban.reason})`);
    // The session in which the ban fell ends now; the next connection gets the 554 at accept.
    return banReply(ban, 421, '4.7.0');
  }

  async failure(event: BanEvent, client: ClientInfo, who: string): Promise<Reply | undefined> {
    if (await this.exemptFromBans(client)) return undefined;
    return this.banned(await this.d.bans.failure(client.addr, event), who);
  }

  async authFailure(client: ClientInfo, who: string, user: string, password: string): Promise<Reply | undefined> {
    if (await this.exemptFromBans(client)) return undefined;
    return this.banned(await this.d.bans.authFailure(client.addr, user, password), who);
  }
}
