/**
 * A local DNS server for tests (UDP and TCP on one 127.0.0.1 port), serving fixture zones
 * given as a plain object. Unknown names → NXDOMAIN; a known name without the asked type →
 * NODATA; `setBlackhole(true)` drops every query (timeout tests). A name marked
 * `servfail: true` answers SERVFAIL and one marked `silent: true` never answers, for itself
 * and every name below it (a dead DNS list). A null MX (RFC 7505) is `MX: [{ priority: 0,
 * exchange: '' }]`. `log` records every question as "TYPE name". Built on dns-packet.
 */

import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import * as packet from 'dns-packet';

export interface ZoneRecords {
  A?: string[];
  AAAA?: string[];
  MX?: { priority: number; exchange: string }[];
  TXT?: string[];
  PTR?: string[];
  CNAME?: string[];
  NS?: string[];
  ttl?: number;
  /** This name and all names below it answer SERVFAIL. */
  servfail?: boolean;
  /** This name and all names below it never answer (the client times out). */
  silent?: boolean;
}
export type Zones = Record<string, ZoneRecords>;

/** "192.0.2.7" → "7.2.0.192.in-addr.arpa". */
export function ptrName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

export interface DnsServer {
  readonly port: number;
  readonly address: string;
  queries: number;
  /** Every question asked, as "A 2.0.0.127.zen.test", in arrival order. */
  readonly log: string[];
  setBlackhole(on: boolean): void;
  close(): Promise<void>;
}

/** The servfail/silent flag that covers a name (set on it or on a parent). */
function fault(zones: Zones, name: string): 'servfail' | 'silent' | undefined {
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const z = zones[labels.slice(i).join('.')];
    if (z?.silent) return 'silent';
    if (z?.servfail) return 'servfail';
  }
  return undefined;
}

function answer(zones: Zones, q: packet.Question): { rcode: number; answers: packet.Answer[] } {
  const name = q.name.toLowerCase().replace(/\.$/, '');
  if (fault(zones, name) === 'servfail') return { rcode: 2, answers: [] };
  const z = zones[name];
  if (!z) return { rcode: 3, answers: [] };
  if (z.servfail) return { rcode: 2, answers: [] };
  const ttl = z.ttl ?? 300;
  const out: packet.Answer[] = [];
  switch (q.type) {
    case 'A':
      for (const a of z.A ?? []) out.push({ type: 'A', name: q.name, ttl, data: a });
      break;
    case 'AAAA':
      for (const a of z.AAAA ?? []) out.push({ type: 'AAAA', name: q.name, ttl, data: a });
      break;
    case 'MX':
      for (const m of z.MX ?? []) out.push({ type: 'MX', name: q.name, ttl, data: { preference: m.priority, exchange: m.exchange } });
      break;
    case 'TXT':
      // A TXT string is at most 255 bytes: longer texts (DKIM keys) go out as several strings.
      for (const t of z.TXT ?? []) out.push({ type: 'TXT', name: q.name, ttl, data: t.match(/[^]{1,255}/g) ?? [''] });
      break;
    case 'PTR':
      for (const p of z.PTR ?? []) out.push({ type: 'PTR', name: q.name, ttl, data: p });
      break;
    case 'CNAME':
      for (const c of z.CNAME ?? []) out.push({ type: 'CNAME', name: q.name, ttl, data: c });
      break;
    case 'NS':
      for (const n of z.NS ?? []) out.push({ type: 'NS', name: q.name, ttl, data: n });
      break;
  }
  return { rcode: 0, answers: out };
}

function respond(zones: Zones, msg: Buffer, log: string[]): Buffer | undefined {
  const req = packet.decode(msg);
  const q = req.questions?.[0];
  if (q) log.push(`${q.type} ${q.name.toLowerCase()}`);
  if (q && fault(zones, q.name.toLowerCase().replace(/\.$/, '')) === 'silent') return undefined;
  const { rcode, answers } = q ? answer(zones, q) : { rcode: 1, answers: [] };
  return packet.encode({
    id: req.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | rcode,
    questions: req.questions, answers,
    authorities: rcode === 3 || answers.length === 0 ? [{ type: 'SOA', name: 'test', ttl: 60, data: { mname: 'ns.test', rname: 'hostmaster.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } }] : [],
  });
}

export async function startDnsServer(zones: Zones, attempt = 0): Promise<DnsServer> {
  const udp = createSocket('udp4');
  const tcp = createServer();
  const state = { queries: 0, blackhole: false };
  const log: string[] = [];
  udp.on('message', (msg, rinfo) => {
    state.queries++;
    if (state.blackhole) return;
    try {
      const r = respond(zones, msg, log);
      if (r) udp.send(r, rinfo.port, rinfo.address);
    } catch {
      /* malformed query: ignore */
    }
  });
  const conns = new Set<Socket>();
  tcp.on('connection', (s) => {
    conns.add(s);
    s.on('close', () => conns.delete(s));
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        state.queries++;
        if (state.blackhole) continue;
        let r: Buffer | undefined;
        try {
          r = respond(zones, msg, log);
        } catch {
          r = undefined;
        }
        if (!r) continue;
        const hdr = Buffer.alloc(2);
        hdr.writeUInt16BE(r.length);
        s.write(Buffer.concat([hdr, r]));
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    // The UDP port's TCP twin is taken by someone else: let go of UDP and try another port,
    // so a failed start never leaves a socket that keeps the test process alive.
    await new Promise<void>((r) => udp.close(() => r()));
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 10) return startDnsServer(zones, attempt + 1);
    throw err;
  }
  return {
    port,
    address: `127.0.0.1:${port}`,
    log,
    get queries() {
      return state.queries;
    },
    set queries(n: number) {
      state.queries = n;
    },
    setBlackhole(on) {
      state.blackhole = on;
    },
    async close() {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}
