// A bench client like smtp-source (one message per connection, no pipelining: greeting, EHLO,
// MAIL, RCPT, DATA, the message, QUIT), with what smtp-source cannot do: each connection
// from its own loopback source address (the DNS-list runs: every connection is a new client,
// as at an MX), and the latency of each message (connect to the 250 after the dot).
// Run as its own process: node bench/smtp-load.mjs '<json>' with
//   { port, count, sessions, size, rcpt, from?, sources?: { a: 10 } (127.a.x.y), timeoutMs? }
// Bounded: at most `count` messages and `timeoutMs` (default 120 s) in all, 30 s per message.
// Prints one JSON line: { sent, failed, firstError, seconds, p50, p99 }.
import net from 'node:net';

const o = JSON.parse(process.argv[2]);
const timeoutMs = o.timeoutMs ?? 120_000;
const from = o.from ?? 'bench@sender.test';
const lines = [`From: <${from}>`, `To: <${o.rcpt}>`, 'Subject: bench', `Message-ID: <${process.pid}.%N@client.bench.test>`, ''];
let body = lines.join('\r\n') + '\r\n';
while (body.length < o.size) body += 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789\r\n';

/** Source address of the i-th message: 127.a.(1 + i/250).(1 + i%250). */
const source = (i) => (o.sources ? `127.${o.sources.a}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}` : undefined);

function sendOne(i) {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect({ port: o.port, host: '127.0.0.1', localAddress: source(i) });
    s.setNoDelay(true);
    const steps = ['EHLO client.bench.test', `MAIL FROM:<${from}>`, `RCPT TO:<${o.rcpt}>`, 'DATA', body.replace('%N', String(i)) + '.'];
    let step = -1;
    let buf = '';
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) s.destroy(); else s.end('QUIT\r\n');
      res({ err, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    };
    const timer = setTimeout(() => finish('timeout'), 30_000);
    s.setEncoding('latin1');
    s.on('data', (d) => {
      buf += d;
      let k;
      while ((k = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, k);
        buf = buf.slice(k + 2);
        if (/^\d{3}-/.test(line)) continue;
        const code = Number(line.slice(0, 3));
        const want = step === 3 ? 354 : step === -1 ? 220 : 250;
        if (code !== want) return finish(`${step < 0 ? 'greeting' : steps[step].split(' ')[0]}: ${line.slice(0, 120)}`);
        if (step === 4) return finish(undefined);
        step++;
        s.write(steps[step] + '\r\n');
      }
    });
    s.on('error', (e) => finish(e.code ?? e.message));
    s.on('close', () => finish('connection closed'));
  });
}

const t0 = Date.now();
let next = 0;
let sent = 0;
let failed = 0;
let firstError;
const lat = [];
async function worker() {
  while (next < o.count && Date.now() - t0 < timeoutMs) {
    const i = next++;
    const r = await sendOne(i);
    if (r.err) { failed++; firstError ??= r.err; } else { sent++; lat.push(r.ms); }
  }
}
await Promise.all(Array.from({ length: o.sessions }, worker));
const seconds = (Date.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(lat.length * p) - 1)] : null);
process.stdout.write(JSON.stringify({ sent, failed, firstError, seconds, p50: pct(0.5), p99: pct(0.99) }) + '\n');
