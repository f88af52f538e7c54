/**
 * A local DNS server for tests (UDP and TCP on one 127.0.0.1 port), serving fixture zones
 * given as a plain object. Unknown names → NXDOMAIN; a known name without the asked type →
 * NODATA; `setBlackhole(true)` drops every query (timeout tests). Built on dns-packet.
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
  ttl?: number;
  /** Answer every query for this name with SERVFAIL (a temporary DNS failure). */
  servfail?: boolean;
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
  setBlackhole(on: boolean): void;
  close(): Promise<void>;
}

function answer(zones: Zones, q: packet.Question): { rcode: number; answers: packet.Answer[] } {
  const name = q.name.toLowerCase().replace(/\.$/, '');
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
  }
  return { rcode: 0, answers: out };
}

function respond(zones: Zones, msg: Buffer): Buffer {
  const req = packet.decode(msg);
  const q = req.questions?.[0];
  const { rcode, answers } = q ? answer(zones, q) : { rcode: 1, answers: [] };
  return packet.encode({
    id: req.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | rcode,
    questions: req.questions, answers,
    authorities: rcode === 3 || answers.length === 0 ? [{ type: 'SOA', name: 'test', ttl: 60, data: { mname: 'ns.test', rname: 'hostmaster.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } }] : [],
  });
}

export async function startDnsServer(zones: Zones): Promise<DnsServer> {
  const udp = createSocket('udp4');
  const tcp = createServer();
  const state = { queries: 0, blackhole: false };
  udp.on('message', (msg, rinfo) => {
    state.queries++;
    if (state.blackhole) return;
    try {
      udp.send(respond(zones, msg), rinfo.port, rinfo.address);
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
        const r = respond(zones, msg);
        const hdr = Buffer.alloc(2);
        hdr.writeUInt16BE(r.length);
        s.write(Buffer.concat([hdr, r]));
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    address: `127.0.0.1:${port}`,
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
