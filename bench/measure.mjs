// Process-tree measurements from /proc: memory (RSS and PSS summed over a server's
// processes) and CPU seconds (utime+stime, plus reaped children of the root).
import { readFileSync, readdirSync } from 'node:fs';

const TICK = 100; // USER_HZ on Linux

function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return undefined;
  }
}

export function tree(root) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = stat(Number(d));
    if (!s) continue;
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(Number(d));
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

export function memory(pids) {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    try {
      const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(t)?.[1] ?? 0) * 1024;
      pss += Number(/^Pss:\s+(\d+)/m.exec(t)?.[1] ?? 0) * 1024;
    } catch {
      /* exited */
    }
  }
  return { rss, pss };
}

export function cpuSeconds(root) {
  let ticks = 0;
  for (const pid of tree(root)) {
    const s = stat(pid);
    if (!s) continue;
    ticks += s.utime + s.stime;
    if (pid === root) ticks += s.cutime + s.cstime;
  }
  return ticks / TICK;
}

/** Sample peak memory of a process tree every `ms` until stop() is called. */
export function sampler(root, ms = 100) {
  let peak = { rss: 0, pss: 0 };
  const t = setInterval(() => {
    const m = memory(tree(root));
    if (m.rss > peak.rss) peak = { ...peak, rss: m.rss };
    if (m.pss > peak.pss) peak = { ...peak, pss: m.pss };
  }, ms);
  return { stop: () => { clearInterval(t); return peak; } };
}
