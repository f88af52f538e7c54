/** mailq / `postqueue -p` output for `postern queue`. */

import type { QueueListEntry } from './store.js';

function arrivalText(ms: number): string {
  const d = new Date(ms);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
  const t = d.toTimeString().slice(0, 8);
  return `${day} ${mon} ${String(d.getDate()).padStart(2, ' ')} ${t}`;
}

export function formatMailq(entries: readonly QueueListEntry[]): string {
  if (entries.length === 0) return 'Mail queue is empty\n';
  let out = '-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n';
  let bytes = 0;
  for (const e of entries) {
    bytes += e.size;
    const id = e.id + (e.held ? '!' : '');
    out += `${id.padEnd(12)}${String(e.size).padStart(8)} ${arrivalText(e.arrival)}  ${e.sender || 'MAILER-DAEMON'}\n`;
    const byReason = new Map<string, string[]>();
    for (const r of e.recipients) {
      if (r.status === 'done') continue;
      const key = r.reason ?? '';
      byReason.set(key, [...(byReason.get(key) ?? []), r.address]);
    }
    for (const [reason, addrs] of byReason) {
      if (reason) out += `(${reason})\n`;
      for (const a of addrs) out += `${' '.repeat(41)}${a}\n`;
    }
    out += '\n';
  }
  out += `-- ${Math.ceil(bytes / 1024)} Kbytes in ${entries.length} Request${entries.length === 1 ? '' : 's'}.\n`;
  return out;
}
