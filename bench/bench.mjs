// `npm run bench`: Postern, Postfix and Haraka side by side, in one run, interleaved, with
// smtp-source as the client and smtp-sink as the protocol floor, in each configuration
// scenario of servers.mjs (virtual mailboxes; local aliases through regexp tables). Prints
// tables of absolute numbers and Postern/Postfix, Postern/Haraka ratios to stdout and to
// bench/results/latest.md. Every load is bounded in count and time. A run in which a server
// that delivers did not deliver every message it was sent (or smtp-source failed) is a
// failure, shown as such and left out of the figures.
// Three more scenarios measure what is not a plain inbound load (each against Postfix
// configured the same way):
//  - outbound: messages submitted from mynetworks and relayed to smtp-sink through
//    `relayhost = [127.0.0.1]:PORT`; msgs/s from the first submission to the last message
//    the sink received (its own counter); a message the sink did not get fails the run;
//  - dnsbl: three `reject_rbl_client` lists and `reject_unknown_client_hostname` answered by
//    bench/dns-server.mjs, every connection from a fresh loopback address (bench/smtp-load.mjs),
//    next to the same load without DNS checks; Postfix's resolver is pointed at that server
//    through a private mount namespace (servers.mjs);
//  - abuse: a legitimate client's msgs/s and p99 latency alone and while bench/abusers.mjs
//    probes unknown recipients from 200 addresses (tarpitted, then banned by Postern) and
//    keeps reconnecting.
// Options: `--quick` (one run, 10 KB × 20 sessions); `--scenario=alias,outbound` (virtual,
// alias, outbound, dnsbl, abuse; default all); `--loads=10240x20,10240x100` (size × sessions;
// inbound and outbound); `--runs=N`; `--no-abuse` (neither the idle-connection test nor the
// abuse scenario).
import { spawn } from 'node:child_process';
import { mkdtempSync, chmodSync, writeFileSync, openSync, writeSync, fsyncSync, closeSync, unlinkSync, rmSync, readFileSync } from 'node:fs';
import { cpus, tmpdir, release } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { postern, postfix, haraka, smtpSink, DOMAINS, USERS, SCENARIOS } from './servers.mjs';
import { tree, memory, cpuSeconds, sampler } from './measure.mjs';

const quick = process.argv.includes('--quick');
const option = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const abuseWanted = !process.argv.includes('--no-abuse');
const OTHER_SCENARIOS = {
  outbound: 'outbound: relayed to smtp-sink',
  dnsbl: 'DNS lists: 3 × reject_rbl_client + reject_unknown_client_hostname',
  abuse: 'abuse: tarpitted and banned clients hammering',
};
const ALL = { ...SCENARIOS, ...OTHER_SCENARIOS };
const scenarios = (option('scenario') ?? Object.keys(ALL).filter((s) => abuseWanted || s !== 'abuse').join(',')).split(',');
for (const s of scenarios) if (!(s in ALL)) throw new Error(`unknown scenario ${s} (${Object.keys(ALL).join(', ')})`);
const loadsOption = option('loads')?.split(',').map((l) => l.split('x').map(Number));
const runsOption = option('runs') ? Number(option('runs')) : undefined;
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
function smtpSource(port, load, timeoutMs) {
  const { size, count, sessions } = load;
  return new Promise((resolveP) => {
    const rcpt = load.rcpt ?? `${USERS[0]}@${DOMAINS[0]}`;
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

/** A node script of bench/ as a child process; resolves with the JSON of its last stdout line. */
function nodeJson(script, arg, timeoutMs) {
  let proc;
  const done = new Promise((resolveP) => {
    proc = spawn(process.execPath, [join(ROOT, 'bench', script), JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', () => {
      clearTimeout(timer);
      try { resolveP(JSON.parse(out.trim().split('\n').pop())); } catch { resolveP({ crashed: `${script}: ${err.trim().split('\n').slice(-2).join(' ') || 'no output'}` }); }
    });
  });
  return { done, stop: () => proc.kill('SIGTERM') };
}

/** bench/smtp-load.mjs as the client (fresh source addresses per connection, latencies). */
async function nodeClient(port, load, timeoutMs) {
  const t0 = process.hrtime.bigint();
  const r = await nodeJson('smtp-load.mjs', { port, count: load.count, sessions: load.sessions, size: load.size, rcpt: load.rcpt ?? `${USERS[0]}@${DOMAINS[0]}`, sources: load.sources, timeoutMs }, timeoutMs + 35_000).done;
  const seconds = r.seconds ?? Number(process.hrtime.bigint() - t0) / 1e9;
  const ok = !r.crashed && r.sent === load.count;
  return { seconds, ok, err: r.crashed ?? `${r.sent} of ${load.count} sent${r.firstError ? `, first error: ${r.firstError}` : ''}`, sent: r.sent ?? 0, p50: r.p50, p99: r.p99 };
}

async function oneRun(server, load, client = smtpSource) {
  const before = server.countDelivered();
  const root = server.rootPid();
  const cpu0 = cpuSeconds(root);
  const mem = sampler(root);
  const t0 = Date.now();
  const r = await client(server.port, load, load.timeoutMs ?? (quick ? 60_000 : 120_000));
  let drainSeconds;
  if (server.delivers) {
    const rest = await waitDrain(server, before + (r.sent ?? load.count), 120_000);
    drainSeconds = rest === undefined ? undefined : (Date.now() - t0) / 1000;
  }
  const cpu = cpuSeconds(root) - cpu0;
  const peak = mem.stop();
  const delivered = server.countDelivered() - before;
  // Every message sent must have been accepted and (for a server that delivers) delivered;
  // Haraka's count is its fsync'd spool files, so it is checked the same way.
  const counted = server.name !== 'smtp-sink';
  const ok = r.ok && (!counted || delivered === load.count);
  const err = !r.ok ? `${client === smtpSource ? 'smtp-source' : 'client'} failed: ${r.err}` : ok ? '' : `delivered ${delivered} of ${load.count} sent${server.delivers ? ` (${logReason(server) || 'no status lines'})` : ''}`;
  return { rate: load.count / r.seconds, ok, err, drain: drainSeconds, cpuPer1000: (cpu / load.count) * 1000, rss: peak.rss, pss: peak.pss, delivered, sent: r.sent, p50: r.p50, p99: r.p99, seconds: r.seconds };
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

/** Runs every load on every server, interleaved: results[key][name] = [run results]. */
async function interleaved(loads, servers, runs, label) {
  const results = new Map();
  for (const load of loads) {
    process.stderr.write(`bench: ${label}: ${load.key}\n`);
    for (let run = 0; run < runs; run++) {
      for (const [i, { server, client, prepare }] of servers.entries()) {
        const l = prepare ? prepare(load, run, i) : load;
        const r = await oneRun(server, l, client);
        if (!results.has(load.key)) results.set(load.key, new Map());
        const m = results.get(load.key);
        if (!m.has(server.name)) m.set(server.name, []);
        m.get(server.name).push(r);
        if (!r.ok) process.stderr.write(`bench: ${server.name} run ${run + 1} FAILED: ${r.err}\n`);
        await sleep(300);
      }
    }
  }
  return results;
}

/** The row for one server: figures from the medians, or FAILED with the first reason. */
function summarize(rs) {
  const failed = rs.filter((r) => !r.ok);
  const rates = rs.map((r) => r.rate);
  return {
    failed, delivered: rs.map((r) => r.delivered).join('/'),
    rate: median(rates), min: Math.min(...rates), max: Math.max(...rates),
    drain: median(rs.map((r) => r.drain ?? NaN)), rss: Math.max(...rs.map((r) => r.rss)), pss: Math.max(...rs.map((r) => r.pss)),
    cpu: median(rs.map((r) => r.cpuPer1000)), p99: median(rs.map((r) => r.p99 ?? NaN)), p50: median(rs.map((r) => r.p50 ?? NaN)),
  };
}
const failedCell = (sm) => `**FAILED** (${sm.failed.length} of ${sm.delivered.split('/').length} runs): ${sm.failed[0].err}`;

async function startAll(list) {
  const started = [];
  for (const s of list) {
    try { await s.start(); started.push(s); } catch (e) { say(`- ${s.name} failed to start: ${e.message}`); }
  }
  return started;
}

/** Outbound (issue 8): submitted from mynetworks, relayed through relayhost to smtp-sink. */
async function runOutbound(nextPort) {
  say(`# Scenario: ${OTHER_SCENARIOS.outbound}`);
  say();
  const pairs = ['Postern', 'Postfix'].map((name) => {
    const sink = smtpSink(nextPort(), { name: `smtp-sink for ${name}` });
    const extra = [`relayhost = [127.0.0.1]:${sink.port}`];
    const server = name === 'Postern' ? postern(base, nextPort(), { label: 'postern-outbound', extra }) : postfix(base, nextPort(), { label: 'postfix-outbound', extra });
    // The run counts the messages the sink received, not files in a Maildir.
    server.countDelivered = () => sink.received();
    return { sink, server };
  });
  const started = await startAll(pairs.flatMap((p) => [p.sink, p.server]));
  const servers = pairs.filter((p) => started.includes(p.server) && started.includes(p.sink)).map((p) => ({ server: p.server }));
  const loads = (loadsOption ?? (quick ? [[10240, 20]] : [[10240, 20], [10240, 100]])).map(([size, sessions]) => {
    const count = quick ? 600 : 2000;
    return { size, sessions, count, rcpt: 'someone@remote.test', key: `${size / 1024} KB × ${sessions} sessions, ${count} messages` };
  });
  const results = await interleaved(loads, servers, runsOption ?? (quick ? 1 : 3), 'outbound');
  for (const [key, m] of results) {
    say(`## ${OTHER_SCENARIOS.outbound}: ${key}`);
    say();
    say('| server | msgs/s relayed, first submission → last message at the sink (median [min–max]) | msgs/s accepted (median) | received by the sink | peak RSS MB | CPU s / 1000 msgs |');
    say('|---|---|---|---|---|---|');
    const rel = {};
    for (const [name, rs] of m) {
      const sm = summarize(rs);
      if (sm.failed.length) { say(`| ${name} | ${failedCell(sm)} | — | ${sm.delivered} | ${mb(sm.rss)} | — |`); continue; }
      const relayed = rs.map((r) => r.delivered / r.drain);
      rel[name] = median(relayed);
      say(`| ${name} | ${fmt(rel[name])} [${fmt(Math.min(...relayed))}–${fmt(Math.max(...relayed))}] | ${fmt(sm.rate)} | ${sm.delivered} | ${mb(sm.rss)} | ${fmt(sm.cpu, 2)} |`);
    }
    say();
    say(`Ratio: Postern/Postfix relayed ${ratio(rel.Postern, rel.Postfix)} (target ≥ 1×).`);
    say();
  }
  for (const s of [...started].reverse()) await s.stop();
}

/** DNS lists (issue 9): the same load with and without three DNSBLs and reject_unknown_client_hostname. */
async function runDnsbl(nextPort) {
  say(`# Scenario: ${OTHER_SCENARIOS.dnsbl}`);
  say();
  const dnsHost = '127.0.53.1';
  const dns = spawn(process.execPath, [join(ROOT, 'bench', 'dns-server.mjs'), dnsHost, '53'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let queries = 0;
  let ready;
  const readyP = new Promise((r) => (ready = r));
  let dnsErr = '';
  dns.stderr.on('data', (d) => (dnsErr += d));
  dns.stdout.on('data', (d) => {
    if (String(d).includes('ready')) ready(true);
    const all = [...String(d).matchAll(/queries=(\d+)/g)];
    if (all.length) queries = Number(all[all.length - 1][1]);
  });
  dns.on('exit', () => ready(false));
  if (!(await Promise.race([readyP, sleep(5000).then(() => false)]))) {
    say(`- the DNS server did not start on ${dnsHost}:53: ${dnsErr.trim().split('\n').pop() ?? ''}`);
    dns.kill('SIGKILL');
    return;
  }
  const resolvConf = join(base, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver ${dnsHost}\noptions attempts:2 timeout:5\n`);
  const checks = 'smtpd_client_restrictions = reject_unknown_client_hostname, reject_rbl_client rbl1.bench.test, reject_rbl_client rbl2.bench.test, reject_rbl_client rbl3.bench.test';
  const withDns = ['smtpd_peername_lookup = yes', checks];
  const noDns = ['smtpd_peername_lookup = no'];
  const list = [
    postern(base, nextPort(), { label: 'postern-nodns', extra: noDns }),
    postern(base, nextPort(), { label: 'postern-dns', extra: [...withDns, `dns_servers = ${dnsHost}:53`] }),
    postfix(base, nextPort(), { label: 'postfix-nodns', extra: noDns, resolvConf }),
    postfix(base, nextPort(), { label: 'postfix-dns', extra: withDns, resolvConf }),
  ];
  const names = ['Postern, no DNS checks', 'Postern, DNS checks', 'Postfix, no DNS checks', 'Postfix, DNS checks'];
  list.forEach((s, i) => (s.name = names[i]));
  const started = await startAll(list);
  // Every connection from a fresh address: run r uses 127.(10+r).x.y, so Postern's DNS cache
  // (60 s for negative answers) never answers for a client of an earlier run.
  const queriesBy = new Map();
  const servers = started.map((server) => ({
    server, client: async (port, load, t) => {
      const q0 = queries;
      const r = await nodeClient(port, load, t);
      await sleep(600); // the DNS server prints its counter twice a second
      if (!queriesBy.has(server.name)) queriesBy.set(server.name, []);
      queriesBy.get(server.name).push((queries - q0) / load.count);
      return r;
    },
    prepare: (load, run) => ({ ...load, sources: { a: 10 + run } }),
  }));
  const count = quick ? 600 : 2000;
  const loads = [{ size: 10240, sessions: 20, count, key: `10 KB × 20 sessions, ${count} messages, each connection from a new address` }];
  const results = await interleaved(loads, servers, runsOption ?? (quick ? 1 : 3), 'dnsbl');
  for (const [key, m] of results) {
    say(`## ${OTHER_SCENARIOS.dnsbl}: ${key}`);
    say();
    say('| server | msgs/s accepted (median [min–max]) | p50 / p99 ms per message | DNS queries per message | delivered | drain s | peak RSS MB | CPU s / 1000 msgs |');
    say('|---|---|---|---|---|---|---|---|');
    const med = {};
    for (const [name, rs] of m) {
      const sm = summarize(rs);
      const q = fmt(median(queriesBy.get(name) ?? []), 1);
      if (sm.failed.length) { say(`| ${name} | ${failedCell(sm)} | — | ${q} | ${sm.delivered} | — | ${mb(sm.rss)} | — |`); continue; }
      med[name] = sm.rate;
      say(`| ${name} | ${fmt(sm.rate)} [${fmt(sm.min)}–${fmt(sm.max)}] | ${fmt(sm.p50)} / ${fmt(sm.p99)} | ${q} | ${sm.delivered} | ${fmt(sm.drain, 2)} | ${mb(sm.rss)} | ${fmt(sm.cpu, 2)} |`);
    }
    say();
    say(`With DNS checks / without: Postern ${ratio(med[names[1]], med[names[0]])}, Postfix ${ratio(med[names[3]], med[names[2]])}; Postern/Postfix with DNS checks ${ratio(med[names[1]], med[names[3]])}.`);
    say();
  }
  for (const s of [...started].reverse()) await s.stop();
  dns.kill('SIGTERM');
  await new Promise((r) => { const t = setTimeout(() => { dns.kill('SIGKILL'); r(); }, 3000); dns.once('exit', () => { clearTimeout(t); r(); }); });
}

/** Abuse (issue 10): a legitimate client alone, then while abusers hammer. */
async function runAbuse(nextPort) {
  say(`# Scenario: ${OTHER_SCENARIOS.abuse}`);
  say();
  // The legitimate client is 127.0.0.1, the only address in mynetworks (so never banned or
  // limited); the abusers come from 127.(30+).x.y.
  const extra = ['mynetworks = 127.0.0.1/32'];
  const list = [postern(base, nextPort(), { label: 'postern-abuse', extra }), postfix(base, nextPort(), { label: 'postfix-abuse', extra })];
  const started = await startAll(list);
  const workers = quick ? 100 : 200;
  const count = quick ? 300 : 1000;
  const load = { size: 10240, sessions: 10, count, rcpt: `${USERS[1]}@${DOMAINS[1]}`, timeoutMs: 45_000 };
  const rows = new Map();
  const runs = runsOption ?? (quick ? 1 : 3);
  for (let run = 0; run < runs; run++) {
    for (const [i, server] of started.entries()) {
      for (const abused of [false, true]) {
        process.stderr.write(`bench: abuse: ${server.name} run ${run + 1}${abused ? ` with ${workers} abusers` : ' alone'}\n`);
        // Fresh abuser addresses every run, so each run starts with the tarpit, then the bans.
        const ab = abused ? nodeJson('abusers.mjs', { port: server.port, workers, a: 30 + run * 2 + i, probes: 20, pauseMs: 100, durationMs: 90_000, domain: DOMAINS[0] }, 120_000) : undefined;
        if (ab) await sleep(1000);
        const r = await oneRun(server, load, nodeClient);
        if (ab) { ab.stop(); r.abuse = await ab.done; }
        const key = `${server.name}|${abused}`;
        if (!rows.has(key)) rows.set(key, []);
        rows.get(key).push(r);
        if (!r.ok) process.stderr.write(`bench: ${server.name} abuse run ${run + 1} FAILED: ${r.err}\n`);
        await sleep(1000);
      }
    }
  }
  say(`## ${OTHER_SCENARIOS.abuse}: legitimate client 10 KB × 10 sessions, ${count} messages (45 s at most); ${workers} abusive addresses`);
  say();
  say('| server | abusers | legitimate msgs/s (median [min–max]) | sent | p50 / p99 ms | abuser connections/s | refused at greeting | RCPT probes refused | peak RSS MB | CPU s / 1000 msgs |');
  say('|---|---|---|---|---|---|---|---|---|---|');
  for (const [key, rs] of rows) {
    const [name, abused] = key.split('|');
    const rates = rs.map((r) => (r.sent ?? 0) / r.seconds);
    const sm = summarize(rs);
    const a = rs.map((r) => r.abuse).filter(Boolean);
    const conn = a.length ? fmt(median(a.map((x) => x.connections / x.seconds))) : '—';
    const refused = a.length ? fmt(median(a.map((x) => x.refusedAtGreeting))) : '—';
    const probes = a.length ? fmt(median(a.map((x) => x.rcptRefused))) : '—';
    const status = sm.failed.length ? ` (**FAILED** in ${sm.failed.length} of ${rs.length} runs: ${sm.failed[0].err})` : '';
    say(`| ${name} | ${abused === 'true' ? workers : 'none'} | ${fmt(median(rates))} [${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}]${status} | ${rs.map((r) => r.sent ?? 0).join('/')} | ${fmt(sm.p50)} / ${fmt(sm.p99)} | ${conn} | ${refused} | ${probes} | ${mb(sm.rss)} | ${fmt(sm.cpu, 2)} |`);
  }
  say();
  say('Abusers: each address connects, EHLO, MAIL, then probes 20 unknown recipients (550 5.1.1; past smtpd_soft_error_limit = 10 each refusal waits smtpd_error_sleep_time = 1s), QUITs and reconnects at once; refused at the greeting, it reconnects after 100 ms. Postern bans an address after postern_ban_maxretry = 5 unknown-recipient refusals (defaults). Postfix (no fail2ban, no postscreen) has no bans: every abusive session holds one of its 100 smtpd processes.');
  say();
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
  const runners = { outbound: runOutbound, dnsbl: runDnsbl, abuse: runAbuse };
  for (const scenario of scenarios) await (runners[scenario] ?? ((next) => runScenario(scenario, next)))(() => port++);
  say('Notes: Haraka has no Maildir agent; it is compared on acceptance only (its queue plugin writes each message to a file and fsyncs before 250; its configuration is the same in both scenarios). Postfix runs with its default process limit (100), Postern with default_process_limit = 20000 sessions (a session costs memory, not a process). A run counts only when every message sent was accepted and, for Postern and Postfix, delivered to Maildir (Haraka: written to its spool); otherwise the row says FAILED.');
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.md'), out.join('\n') + '\n');
  rmSync(base, { recursive: true, force: true });
}

main().catch(async (e) => {
  process.stderr.write(`bench failed: ${e.stack}\n`);
  process.exitCode = 1;
});
