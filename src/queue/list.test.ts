/**
 * `postern queue` output, compared column for column with what Postfix's showq_compat.c
 * prints ("%-11s %7ld %20.20s %s", reasons right-aligned to column 76, 41-column indent).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMailq, asctime20 } from './list.js';
import type { QueueListEntry } from './store.js';

test('an empty queue says so, like mailq', () => {
  assert.equal(formatMailq([]), 'Mail queue is empty\n');
});

test('asctime20 is the first 20 characters of asctime(3), day padded with a space', () => {
  const d = new Date(2026, 10, 2, 8, 7, 31); // local time, as mailq shows it
  assert.equal(asctime20(d.getTime()), `${['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()]} Nov  2 08:07:31 `);
  assert.equal(asctime20(new Date(2026, 10, 22, 23, 59, 5).getTime()).slice(4), 'Nov 22 23:59:05 ');
});

test('messages, held mark, reasons per run of recipients, blank lines and the Kbytes summary', () => {
  const arrival = new Date(2026, 10, 22, 8, 7, 31).getTime();
  const t = asctime20(arrival);
  const entries: QueueListEntry[] = [
    {
      id: '32A4C2711B0', size: 481, arrival, sender: 'kit-sender@sender.example', held: false,
      recipients: [
        { address: 'done@kit.test', status: 'done' },
        { address: 'a@remote.example', status: 'deferred', reason: 'delivery to remote domains not available yet' },
        { address: 'b@remote.example', status: 'deferred', reason: 'delivery to remote domains not available yet' },
        { address: 'fresh@kit.test', status: 'pending' },
      ],
    },
    // A held ID is 12 characters: printf's %-11s widens and the columns shift, as in Postfix.
    { id: '32A4C2711D0', size: 2000, arrival, sender: '', held: true, recipients: [{ address: 'alice@kit.test', status: 'pending' }] },
  ];
  const reason = '(delivery to remote domains not available yet)';
  const expected = [
    '-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------',
    `32A4C2711B0     481 ${t} kit-sender@sender.example`,
    `${' '.repeat(76 - reason.length + 2)}${reason}`,
    `${' '.repeat(41)}a@remote.example`,
    `${' '.repeat(41)}b@remote.example`,
    `${' '.repeat(76 - 'reason unavailable'.length)}(reason unavailable)`,
    `${' '.repeat(41)}fresh@kit.test`,
    '',
    `32A4C2711D0!    2000 ${t} MAILER-DAEMON`,
    `${' '.repeat(41)}alice@kit.test`,
    '',
    '-- 2 Kbytes in 2 Requests.',
    '',
  ].join('\n');
  assert.equal(formatMailq(entries), expected);
  // The reason ends at column 78 (76 columns of padding+text, then the parentheses).
  assert.equal(formatMailq(entries).split('\n')[2]!.length, 78);
});

test('one request, sizes rounded down to Kbytes', () => {
  const out = formatMailq([{ id: 'ABCDEF01234', size: 1023, arrival: Date.now(), sender: 's@x', held: false, recipients: [{ address: 'r@y', status: 'pending' }] }]);
  assert.ok(out.endsWith('\n\n-- 0 Kbytes in 1 Request.\n'));
});
