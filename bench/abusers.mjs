// The abuse load (issue 10): `workers` loops, each as one abusive client address
// (127.a.b.c, one address per worker), that connect, EHLO, MAIL and then probe `probes`
// unknown recipients in one session (a directory-harvest attack: each refusal counts
// towards a ban, and past smtpd_soft_error_limit the server tarpits the replies), then
// QUIT and reconnect at once. A banned client is refused at the greeting (554/421) and
// reconnects after `pauseMs` — hammering at up to workers × 1000/pauseMs connections/s.
// Run as its own process: node bench/abusers.mjs '<json>' with
//   { port, workers, a, probes, pauseMs, durationMs, domain }
// Bounded by durationMs (and SIGTERM). Prints one JSON line of counters when it stops.
import net from 'node:net';

const o = JSON.parse(process.argv[2]);
const c = { connections: 0, refusedAtGreeting: 0, sessions: 0, rcptRefused: 0, closedMidSession: 0, errors: 0 };
const t0 = Date.now();
let stopping = false;
const sockets = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const addr = (w) => `127.${o.a}.${1 + Math.floor(w / 250)}.${1 + (w % 250)}`;

function session(w) {
  return new Promise((res) => {
    const s = net.connect({ port: o.port, host: '127.0.0.1', localAddress: addr(w) });
    sockets.add(s);
    c.connections++;
    let step = -1;
    let probes = 0;
    let buf = '';
    let done = false;
    const finish = (kind) => {
      if (done) return;
      done = true;
      sockets.delete(s);
      s.destroy();
      res(kind);
    };
    s.setTimeout(60_000, () => finish('timeout'));
    s.setEncoding('latin1');
    s.on('data', (d) => {
      buf += d;
      let k;
      while ((k = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, k);
        buf = buf.slice(k + 2);
        if (/^\d{3}-/.test(line)) continue;
        const code = Number(line.slice(0, 3));
        if (step === -1 && code !== 220) { c.refusedAtGreeting++; return finish('refused'); }
        if (code === 421) { c.closedMidSession++; return finish('closed'); }
        if (step === 2) { if (code >= 400) c.rcptRefused++; probes++; }
        if (step === 2 && probes >= o.probes) { c.sessions++; s.write('QUIT\r\n'); return finish('done'); }
        if (step < 2) step++;
        s.write(step === 0 ? 'EHLO abuser.bench.test\r\n' : step === 1 ? 'MAIL FROM:<spam@abuser.test>\r\n' : `RCPT TO:<nobody${probes}-${w}@${o.domain}>\r\n`);
      }
    });
    s.on('error', () => { c.errors++; finish('error'); });
    s.on('close', () => finish('close'));
  });
}

async function worker(w) {
  while (!stopping && Date.now() - t0 < o.durationMs) {
    const kind = await session(w);
    if (kind !== 'done') await sleep(o.pauseMs);
  }
}

function report() {
  stopping = true;
  for (const s of sockets) s.destroy();
  process.stdout.write(JSON.stringify({ ...c, seconds: (Date.now() - t0) / 1000 }) + '\n');
}
process.on('SIGTERM', () => { report(); process.exit(0); });
await Promise.all(Array.from({ length: o.workers }, (_, w) => worker(w)));
if (!stopping) report();
