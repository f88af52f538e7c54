// The benchmark's DNS server (UDP and TCP on one address and port; run as its own process
// so its work is not counted in the bench client's): answers for every client address the
// DNS-list runs use, by rule instead of by zone file, so each run can come from thousands of
// fresh addresses.
//  - PTR of any 127.b.c.d → c-b-c-d.clients.bench.test (TTL 300);
//  - A of c-b-c-d.clients.bench.test → 127.b.c.d (forward-confirmed);
//  - everything else, DNS-list queries included (d.c.b.127.rbl1.bench.test …) → NXDOMAIN with
//    an SOA (negative TTL 60): every client is clean, the cost measured is that of asking.
// Usage: node bench/dns-server.mjs HOST PORT. Prints "ready" once listening, then the
// number of queries answered ("queries=N") whenever it changes, at most twice a second.
// Stops on SIGTERM. Built on dns-packet (a devDependency).
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import packet from 'dns-packet';

const [host = '127.0.53.1', portArg = '53'] = process.argv.slice(2);
const port = Number(portArg);
let queries = 0;
const SOA = { type: 'SOA', name: 'bench.test', ttl: 60, data: { mname: 'ns.bench.test', rname: 'hostmaster.bench.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } };

function answers(q) {
  const name = q.name.toLowerCase().replace(/\.$/, '');
  let m = /^(\d+)\.(\d+)\.(\d+)\.127\.in-addr\.arpa$/.exec(name);
  if (m && q.type === 'PTR') return [{ type: 'PTR', name: q.name, ttl: 300, data: `c-${m[3]}-${m[2]}-${m[1]}.clients.bench.test` }];
  if (m) return [];
  m = /^c-(\d+)-(\d+)-(\d+)\.clients\.bench\.test$/.exec(name);
  if (m && q.type === 'A') return [{ type: 'A', name: q.name, ttl: 300, data: `127.${m[1]}.${m[2]}.${m[3]}` }];
  if (m) return [];
  return undefined; // NXDOMAIN
}

function respond(msg) {
  const req = packet.decode(msg);
  queries++;
  const q = req.questions?.[0];
  const a = q ? answers(q) : undefined;
  const rcode = !q ? 1 : a === undefined ? 3 : 0;
  return packet.encode({
    id: req.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | packet.AUTHORITATIVE_ANSWER | rcode,
    questions: req.questions, answers: a ?? [], authorities: a?.length ? [] : [SOA],
  });
}

const udp = createSocket('udp4');
udp.on('message', (msg, rinfo) => {
  try { udp.send(respond(msg), rinfo.port, rinfo.address); } catch { /* malformed query: ignored */ }
});
const tcp = createServer((s) => {
  let buf = Buffer.alloc(0);
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const len = buf.readUInt16BE(0);
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      try {
        const r = respond(msg);
        const hdr = Buffer.alloc(2);
        hdr.writeUInt16BE(r.length);
        s.write(Buffer.concat([hdr, r]));
      } catch { s.destroy(); return; }
    }
  });
  s.on('error', () => undefined);
});
await new Promise((r, j) => { udp.once('error', j); udp.bind(port, host, r); });
await new Promise((r, j) => { tcp.once('error', j); tcp.listen(port, host, r); });
process.stdout.write('ready\n');
let shown = -1;
const t = setInterval(() => { if (queries !== shown) { shown = queries; process.stdout.write(`queries=${queries}\n`); } }, 500);
process.on('SIGTERM', () => { clearInterval(t); process.stdout.write(`queries=${queries}\n`); udp.close(); tcp.close(); setTimeout(() => process.exit(0), 50); });
