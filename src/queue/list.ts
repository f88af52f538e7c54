/**
 * mailq / `postqueue -p` output for `postern queue`, column for column as Postfix's
 * showq_compat.c prints it (scripts parse this): "%-11s %7ld %20.20s %s" for the message
 * line (ID with "!" when held; arrival in asctime(3) form, local time), the deferral
 * reason right-aligned to column 76 in parentheses, recipients indented by 41 columns,
 * a blank line after each message and "-- N Kbytes in M Requests." (N rounded down).
 */

import type { QueueListEntry } from './store.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The first 20 characters of asctime(3): "Sun Nov 22 08:07:31 ". */
export function asctime20(ms: number): string {
  const d = new Date(ms);
  const t = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  return `${DAYS[d.getDay()]} ${MONS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${t} `;
}

export function formatMailq(entries: readonly QueueListEntry[]): string {
  if (entries.length === 0) return 'Mail queue is empty\n';
  let out = `${'-Queue ID-'.padEnd(11)} ${'--Size--'.padStart(7)} ${'----Arrival Time----'.padEnd(20)} -Sender/Recipient-------\n`;
  let bytes = 0;
  for (const e of entries) {
    bytes += e.size;
    const id = e.id + (e.held ? '!' : '');
    out += `${id.padEnd(11)} ${String(e.size).padStart(7)} ${asctime20(e.arrival)} ${e.sender || 'MAILER-DAEMON'}\n`;
    // Postfix prints a reason line whenever the reason differs from the previous
    // recipient's ("" at first); an empty reason after a real one is "reason unavailable".
    let saved = '';
    for (const r of e.recipients) {
      if (r.status === 'done') continue;
      const why = r.status === 'deferred' ? r.reason ?? '' : '';
      if (why !== saved) {
        saved = why;
        const show = why || 'reason unavailable';
        out += `${' '.repeat(Math.max(0, 76 - show.length))}(${show})\n`;
      }
      out += `${' '.repeat(41)}${r.address}\n`;
    }
    out += '\n';
  }
  out += `-- ${Math.floor(bytes / 1024)} Kbytes in ${entries.length} Request${entries.length === 1 ? '' : 's'}.\n`;
  return out;
}
