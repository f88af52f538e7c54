// `npm run bench`: Postern, Postfix and Haraka side by side, in one run, interleaved, with
// smtp-source as the client and smtp-sink as the protocol floor, in each configuration
// scenario of servers.mjs (virtual mailboxes; local aliases through regexp tables). Prints
// tables of absolute numbers and Postern/Postfix, Postern/Haraka ratios to stdout and to
// bench/results/latest.md. Every load is bounded in count and time. A run in which a server
// that delivers did not deliver every message it was sent (or smtp-source failed) is a
// failure, shown as such and left out of the figures.
// Options: `--quick` (one run, 10 KB × 20 sessions); `--scenario=alias` (or virtual; default
// both); `--loads=10240x20,10240x100` (size × sessions); `--runs=N`; `--no-abuse`.
import { spawn } from 'node:child_process';
import { mkdtempSync, chmodSync, writeFileSync, openSync, writeSync, fsyncSync, closeSync, unlinkSync, rmSync, readFileSync } from 'node:fs';
import { cpus, tmpdir, release } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { postern, postfix, haraka, smtpSink, DOMAINS, USERS, SCENARIOS } from './servers.mjs';
import { tree, memory, cpuSeconds, sampler } from './measure.mjs';

const quick = process.argv.includes('--quick');
const option = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const scenarios = (option('scenario') ?? Object.keys(SCENARIOS).join(',')).split(',');
for (const s of scenarios) if (!(s in SCENARIOS)) throw new Error(`unknown scenario ${s} (${Object.keys(SCENARIOS).join(', ')})`);
const loadsOption = option('loads')?.split(',').map((l) => l.split('x').map(Number));
const runsOption = option('runs') ? Number(option('runs')) : undefined;
const abuseWanted = !process.argv.includes('--no-abuse');
const harakaBin = process.env.HARAKA_BIN;
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const base = mkdtempSync(join(tmpdir(), 'postern-bench-'));
chmodSync(base, 0o755); // Postfix's unprivileged processes must reach their directories
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = [];
const say = (s = '') => { out.push(s); process.stdout.write(s + '\n'); };

function machineFacts() {
  const disk = (() => { try { return readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === '/')?.split(' ').slice(0, 3).join(' '); } catch { return 'unknown'; } })();
  return [`- date: ${new Date().toISOString()}`, `- cores: ${cpus().length} × ${cpus()[0]?.model ?? '?'}`, `- kernel: ${release()}`, `- node: ${process.version}`, `- root filesystem: ${disk}`, `- mode: ${quick ? 'quick (1 run, small counts)' : 'full'}${loadsOption || runsOption ? ` (loads ${option('loads') ?? 'all'}, runs ${runsOption ?? 'default'})` : ''}`];
}

function fsyncRate(seconds = 2) {
  const buf = Buffer.alloc(10 * 1024, 'x');
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < seconds * 1000 && n < 20000) {
    const f = join(base, `fsync-${n}`);
    const fd = openSync(f, 'w');
    writeSync(fd, buf);
    fsyncSync(fd);
    closeSync(fd);
    unlinkSync(f);
    n++;
  }
  return n / ((Date.now() - t0) / 1000);
}

/** smtp-source run; resolves with elapsed seconds (or a timeout marker). */
function smtpSource(port, { size, count, sessions }, timeoutMs) {
  return new Promise((resolveP) => {
    const rcpt = `${USERS[0]}@${DOMAINS[0]}`;
    const t0 = process.hrtime.bigint();
    const p = spawn('smtp-source', ['-l', String(size), '-m', String(count), '-s', String(sessions), '-f', 'bench@sender.test', '-t', rcpt, '-M', 'client.bench.test', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolveP({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, ok: code === 0, err: err.trim().split('\n').slice(-2).join(' ') });
    });
  });
}

/** Wait until `target` files are delivered; gives up after timeoutMs, or 15 s without progress. */
async function waitDrain(server, target, timeoutMs) {
  const t0 = Date.now();
  let last = -1;
  let lastChange = t0;
  while (Date.now() - t0 < timeoutMs && Date.now() - lastChange < 15_000) {
    const n = server.countDelivered();
    if (n >= target) return (Date.now() - t0) / 1000;
    if (n !== last) { last = n; lastChange = Date.now(); }
    await sleep(50);
  }
  return undefined;
}

/** Why messages were not delivered, from the server's mail log: counts and the first line of each status. */
function logReason(server) {
  if (!server.maillog) return '';
  let text;
  try { text = readFileSync(server.maillog, 'utf8'); } catch { return ''; }
  const parts = [];
  for (const st of ['bounced', 'deferred']) {
    const lines = text.split('\n').filter((l) => l.includes(`status=${st}`));
    if (lines.length) parts.push(`${lines.length} ${st}: ${lines[0].replace(/^.*status=/, 'status=').slice(0, 160)}`);
  }
  return parts.join('; ');
}

async function oneRun(server, load) {
  const before = server.countDelivered();
  const root = server.rootPid();
  const cpu0 = cpuSeconds(root);
  const mem = sampler(root);
  const t0 = Date.now();
  const r = await smtpSource(server.port, load, quick ? 60_000 : 120_000);
  let drainSeconds;
  if (server.delivers) {
    const rest = await waitDrain(server, before + load.count, 120_000);
    drainSeconds = rest === undefined ? undefined : (Date.now() - t0) / 1000;
  }
  const cpu = cpuSeconds(root) - cpu0;
  const peak = mem.stop();
  const delivered = server.countDelivered() - before;
  // Every message sent must have been accepted and (for a server that delivers) delivered;
  // Haraka's count is its fsync'd spool files, so it is checked the same way.
  const counted = server.name !== 'smtp-sink';
  const ok = r.ok && (!counted || delivered === load.count);
  const err = !r.ok ? `smtp-source failed: ${r.err}` : ok ? '' : `delivered ${delivered} of ${load.count} sent${server.delivers ? ` (${logReason(server) || 'no status lines'})` : ''}`;
  return { rate: load.count / r.seconds, ok, err, drain: drainSeconds, cpuPer1000: (cpu / load.count) * 1000, rss: peak.rss, pss: peak.pss, delivered };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const fmt = (x, d = 0) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
const mb = (b) => (b / 1048576).toFixed(0);
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) + '×' : '—');

async function abuse(server, idle, good = 20) {
  const conns = [];
  let opened = 0;
  const openIdle = () => new Promise((res) => {
    const s = net.connect({ port: server.port, host: '127.0.0.1' });
    s.setTimeout(15000);
    let greeted = false;
    s.on('data', () => { if (!greeted) { greeted = true; s.write('EHLO idle.bench.test\r\n'); opened++; res(); } });
    s.on('error', () => res());
    s.on('timeout', () => res());
    s.on('close', () => res());
    conns.push(s);
  });
  const t0 = Date.now();
  for (let i = 0; i < idle && Date.now() - t0 < 60_000; i += 500) await Promise.all(Array.from({ length: Math.min(500, idle - i) }, openIdle));
  await sleep(500);
  const lat = [];
  let delivered = 0;
  let failures = 0;
  for (let i = 0; i < good && failures < 3; i++) {
    const t = Date.now();
    const ok = await sendOne(server.port, 5000);
    if (ok) { delivered++; lat.push(Date.now() - t); } else failures++;
  }
  const m = memory(tree(server.rootPid()));
  for (const s of conns) s.destroy();
  await sleep(1000);
  return { idleOpened: opened, delivered, tried: delivered + failures, p50: median(lat), p99: lat.length ? [...lat].sort((a, b) => a - b)[Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)] : undefined, rss: m.rss };
}

function sendOne(port, timeoutMs) {
  return new Promise((res) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const steps = ['EHLO good.bench.test', 'MAIL FROM:<good@sender.test>', `RCPT TO:<${USERS[1]}@${DOMAINS[1]}>`, 'DATA', 'Subject: good\r\n\r\nhello\r\n.', 'QUIT'];
    let i = -1;
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); res(false); }, timeoutMs);
    s.on('data', (d) => {
      buf += d;
      while (buf.includes('\r\n')) {
        const line = buf.slice(0, buf.indexOf('\r\n'));
        buf = buf.slice(buf.indexOf('\r\n') + 2);
        if (/^\d{3}-/.test(line)) continue;
        const code = Number(line.slice(0, 3));
        if (code >= 400) { clearTimeout(timer); s.destroy(); return res(false); }
        if (i === 4) { clearTimeout(timer); s.end('QUIT\r\n'); return res(true); }
        i++;
        s.write(steps[i] + '\r\n');
      }
    });
    s.on('error', () => { clearTimeout(timer); res(false); });
  });
}

function loadsFor() {
  if (loadsOption) return loadsOption.map(([size, sessions]) => ({ size, sessions }));
  const sizes = quick ? [10240] : [1024, 10240, 102400];
  const sessionsList = quick ? [20] : [1, 20, 100];
  return sizes.flatMap((size) => sessionsList.map((sessions) => ({ size, sessions })));
}

async function runScenario(scenario, nextPort) {
  say(`# Scenario: ${SCENARIOS[scenario]}`);
  say();
  const servers = [postern(base, nextPort(), { scenario }), postfix(base, nextPort(), { scenario })];
  if (harakaBin) servers.push(haraka(base, nextPort(), harakaBin, { scenario }));
  const sink = smtpSink(nextPort());
  const started = [];
  for (const s of [...servers, sink]) {
    try { await s.start(); started.push(s); } catch (e) { say(`- ${s.name} failed to start: ${e.message}`); }
  }
  const runs = runsOption ?? (quick ? 1 : 3);
  const results = new Map();
  for (const { size, sessions } of loadsFor()) {
    const count = Math.max(100, Math.round((quick ? 600 : size >= 102400 ? 600 : 2000) / (sessions === 1 ? 4 : 1)));
    const load = { size, count, sessions };
    const key = `${size / 1024} KB × ${sessions} sessions, ${count} messages`;
    process.stderr.write(`bench: ${scenario}: ${key}\n`);
    for (let run = 0; run < runs; run++) {
      for (const s of started) {
        const r = await oneRun(s, load);
        if (!results.has(key)) results.set(key, new Map());
        const m = results.get(key);
        if (!m.has(s.name)) m.set(s.name, []);
        m.get(s.name).push(r);
        if (!r.ok) process.stderr.write(`bench: ${s.name} run ${run + 1} FAILED: ${r.err}\n`);
        await sleep(300);
      }
    }
  }
  for (const [key, m] of results) {
    say(`## ${SCENARIOS[scenario]}: ${key}`);
    say();
    say('| server | msgs/s accepted (median [min–max]) | drain s (median) | delivered | peak RSS MB | peak PSS MB | CPU s / 1000 msgs |');
    say('|---|---|---|---|---|---|---|');
    const med = {};
    for (const [name, rs] of m) {
      const failed = rs.filter((r) => !r.ok);
      const delivered = rs.map((r) => r.delivered).join('/');
      if (failed.length) {
        // Not a figure: some accepted (or sent) messages were not delivered.
        say(`| ${name} | **FAILED** (${failed.length} of ${rs.length} runs): ${failed[0].err} | — | ${delivered} | ${mb(Math.max(...rs.map((r) => r.rss)))} | ${mb(Math.max(...rs.map((r) => r.pss)))} | — |`);
        continue;
      }
      const rates = rs.map((r) => r.rate);
      med[name] = { rate: median(rates), drain: median(rs.map((r) => r.drain ?? NaN)), rss: Math.max(...rs.map((r) => r.rss)), cpu: median(rs.map((r) => r.cpuPer1000)) };
      say(`| ${name} | ${fmt(med[name].rate)} [${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}] | ${fmt(med[name].drain, 2)} | ${delivered} | ${mb(med[name].rss)} | ${mb(Math.max(...rs.map((r) => r.pss)))} | ${fmt(med[name].cpu, 2)} |`);
    }
    const P = med.Postern;
    say();
    say(`Ratios: Postern/Postfix accepted ${ratio(P?.rate, med.Postfix?.rate)}, drain time ${ratio(P?.drain, med.Postfix?.drain)} (lower is better), RSS ${ratio(P?.rss, med.Postfix?.rss)}; Postern/Haraka accepted ${ratio(P?.rate, med.Haraka?.rate)}, RSS ${ratio(P?.rss, med.Haraka?.rss)}; Postern/smtp-sink ${ratio(P?.rate, med['smtp-sink']?.rate)}.`);
    say();
  }
  if (scenario === 'virtual' && abuseWanted) {
    say('## Abuse: idle connections (EHLO, then silence) while a well-behaved client sends mail');
    say();
    say('| server | idle connections opened | good messages delivered | p50 ms | p99 ms | server RSS MB |');
    say('|---|---|---|---|---|---|');
    for (const idle of quick ? [1000] : [1000, 10000]) {
      for (const s of started.filter((x) => x.name !== 'smtp-sink')) {
        process.stderr.write(`bench: abuse ${idle} idle → ${s.name}\n`);
        const a = await abuse(s, idle);
        say(`| ${s.name} (${idle}) | ${a.idleOpened} | ${a.delivered}/${a.tried} | ${fmt(a.p50)} | ${fmt(a.p99)} | ${mb(a.rss)} |`);
        await sleep(2000);
      }
    }
    say();
  }
  for (const s of [...started].reverse()) await s.stop();
}

async function main() {
  say('# Postern benchmark');
  say();
  for (const l of machineFacts()) say(l);
  const fr = fsyncRate();
  say(`- fsync rate, 10 KB files (write + fsync + unlink, one writer): ${fmt(fr)} per second`);
  say();
  let port = 24000 + Math.floor(Math.random() * 2000);
  for (const scenario of scenarios) await runScenario(scenario, () => port++);
  say('Notes: Haraka has no Maildir agent; it is compared on acceptance only (its queue plugin writes each message to a file and fsyncs before 250; its configuration is the same in both scenarios). Postfix runs with its default process limit (100), Postern with default_process_limit = 20000 sessions (a session costs memory, not a process). A run counts only when every message sent was accepted and, for Postern and Postfix, delivered to Maildir (Haraka: written to its spool); otherwise the row says FAILED.');
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.md'), out.join('\n') + '\n');
  rmSync(base, { recursive: true, force: true });
}

main().catch(async (e) => {
  process.stderr.write(`bench failed: ${e.stack}\n`);
  process.exitCode = 1;
});
