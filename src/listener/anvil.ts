/**
 * anvil(8) for Postern: per-client connection counts and event rates, and anvil's periodic
 * "statistics: max …" lines. One Anvil per daemon, shared by every listener and kept across
 * reloads. Counts of open connections are this host's own (they end with the socket);
 * rates live in the state store, so MX hosts sharing a Redis share them (B8) and fall back
 * to this host's memory while Redis is down (state/shared.ts).
 *
 * anvil_rate_time_unit is read from each service's parameters (it is part of the counter's
 * key, so a changed unit after a reload starts new windows).
 *
 * A rate is anvil's: the number of events in a window of anvil_rate_time_unit that opens
 * with the client's first event, counted whether or not the request is then refused — so
 * a client over the limit stays over it until the window ends, and the logged number
 * keeps growing, as in Postfix.
 */

import type { MailLog } from '../log/maillog.js';
import { syslogTime } from '../log/maillog.js';
import type { StateStore } from '../state/types.js';
import { formatIp, networkContaining } from '../policy/networks.js';

export type RateEvent = 'connection' | 'message' | 'recipient' | 'newtls' | 'auth';

/** anvil's names in the statistics lines. */
const STAT_NAME: Record<RateEvent, string> = {
  connection: 'connection rate', message: 'message rate', recipient: 'recipient rate', newtls: 'newtls rate', auth: 'auth rate',
};

interface Max {
  value: number;
  ident: string;
  at: Date;
}

/**
 * The key a client is counted under: its address, or its network when
 * smtpd_client_ipv4_prefix_length / smtpd_client_ipv6_prefix_length aggregate.
 */
export function clientKey(addr: string, v4prefix: number, v6prefix: number): string {
  const v6 = addr.includes(':');
  const prefix = v6 ? v6prefix : v4prefix;
  const net = networkContaining(addr, prefix);
  if (!net) return addr;
  const base = formatIp(net.family, net.bytes);
  return prefix === (v6 ? 128 : 32) ? base : `${base}/${prefix}`;
}

/**
 * The service part of a counter key: the master.cf service name without its host, so MX
 * hosts whose listeners are "smtp", or "192.0.2.1:25" and "192.0.2.2:25", count one client
 * together.
 */
export function serviceKey(service: string): string {
  const m = /^(?:\[[^\]]*\]|[^:[\]]+):(\S+)$/.exec(service);
  return m ? m[1]! : service;
}

export class Anvil {
  private readonly counts = new Map<string, number>();
  private readonly maxRate = new Map<RateEvent, Max>();
  private maxCount?: Max;
  private maxCache?: { value: number; at: Date };
  private readonly timer: NodeJS.Timeout;
  /** anvil_rate_time_unit as last used, for the "N/60s" in the statistics. */
  private unitMs = 60_000;

  constructor(private readonly deps: { store: StateStore; log: MailLog; program: string; statusMs: number }) {
    this.timer = setInterval(() => this.report(), deps.statusMs);
    this.timer.unref();
  }

  /**
   * A new connection: its count (open connections of this client to this service, this one
   * included) and, when `withRate`, its connection rate. `release` must be called once when
   * the connection ends.
   */
  async connect(service: string, key: string, ident: string, unitMs: number): Promise<{ count: number; rate: number; release(): void }> {
    const k = `${service}:${key}`;
    const count = (this.counts.get(k) ?? 0) + 1;
    this.counts.set(k, count);
    this.note('count', count, ident);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const n = (this.counts.get(k) ?? 1) - 1;
      if (n <= 0) this.counts.delete(k);
      else this.counts.set(k, n);
    };
    const rate = await this.rate('connection', service, key, ident, unitMs);
    return { count, rate, release };
  }

  /** Count one event and return the client's rate in the current window. */
  async rate(event: RateEvent, service: string, key: string, ident: string, unitMs: number): Promise<number> {
    this.unitMs = unitMs;
    const n = await this.deps.store.increment(`anvil:${event}:${serviceKey(service)}:${key}:${unitMs}`, 1, unitMs);
    this.note(event, n, ident);
    return n;
  }

  private note(what: RateEvent | 'count', value: number, ident: string): void {
    const at = new Date();
    if (what === 'count') {
      if (!this.maxCount || value > this.maxCount.value) this.maxCount = { value, ident, at };
      if (!this.maxCache || this.counts.size > this.maxCache.value) this.maxCache = { value: this.counts.size, at };
      return;
    }
    const m = this.maxRate.get(what);
    if (!m || value > m.value) this.maxRate.set(what, { value, ident, at });
  }

  /** anvil's status dump: the maxima since the last one, then they start over. */
  report(): void {
    const unit = Math.round(this.unitMs / 1000);
    const line = (text: string): void => this.deps.log.line(this.deps.program, `statistics: ${text}`);
    const conn = this.maxRate.get('connection');
    if (conn) line(`max connection rate ${conn.value}/${unit}s for (${conn.ident}) at ${syslogTime(conn.at)}`);
    if (this.maxCount) line(`max connection count ${this.maxCount.value} for (${this.maxCount.ident}) at ${syslogTime(this.maxCount.at)}`);
    for (const ev of ['message', 'recipient', 'newtls', 'auth'] as const) {
      const m = this.maxRate.get(ev);
      if (m) line(`max ${STAT_NAME[ev]} ${m.value}/${unit}s for (${m.ident}) at ${syslogTime(m.at)}`);
    }
    if (this.maxCache) line(`max cache size ${this.maxCache.value} at ${syslogTime(this.maxCache.at)}`);
    this.maxRate.clear();
    this.maxCount = undefined;
    this.maxCache = undefined;
  }

  /** Shutdown: the last statistics, as anvil logs when it exits. */
  close(): void {
    clearInterval(this.timer);
    this.report();
  }
}
