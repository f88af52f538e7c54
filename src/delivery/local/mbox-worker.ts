/**
 * Child-process entry for mbox appends: started by the local agent with the target's
 * uid/gid, so every file-system check is made with those rights (Node cannot switch the
 * effective uid of one operation in a process that has other threads at work).
 * argv: <path> <size limit>; the message (already in mbox form) on standard input; one
 * JSON MboxResult line on standard output.
 */

import { readFileSync } from 'node:fs';
import { appendMbox } from './mbox.js';

async function main(): Promise<void> {
  const [path, limit] = process.argv.slice(2);
  const data = readFileSync(0);
  const r = await appendMbox(path!, data, { sizeLimit: Number(limit) || 0 });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ ok: false, dsn: '4.3.0', why: `mbox writer failed: ${(err as Error).message}`, warnings: [] })}\n`);
});
