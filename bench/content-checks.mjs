// The cost of header/body checks (issue 11): the same 10 KB base64 messages inspected with
// ten header and ten body rules, decoded (the default) and raw (postern_mime_decode_checks
// = no), next to no rules at all. In-process (dist/cleanup/content/inspect.js), so it
// measures cleanup's added CPU per message, not SMTP. `node bench/content-checks.mjs [N]`.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableRegistry } from '../dist/tables/open.js';
import { inspectContent } from '../dist/cleanup/content/inspect.js';

const n = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'postern-bench-content-'));
const header = Array.from({ length: 10 }, (_, i) => `/^Subject:.*(激安|viagra|casino)${i}/ REJECT spam ${i}`).join('\n') + '\n';
const body = Array.from({ length: 10 }, (_, i) => `/(本日限定|unsubscribe now|click here)${i}/ REJECT spam body ${i}`).join('\n') + '\n';
writeFileSync(join(dir, 'h'), header);
writeFileSync(join(dir, 'b'), body);
const reg = new TableRegistry({ baseDir: dir });
const log = { line() {}, warning() {} };
const ctx = { log, program: 'postfix/cleanup', queueId: 'Q', origin: 'x[192.0.2.1]', sender: 's@x' };
const text = 'こんにちは。打ち合わせの資料を送ります。よろしくお願いします。\n'.repeat(75) + 'Regards,\nAlice\n'.repeat(20);
const b64 = Buffer.from(text).toString('base64').replace(/.{76}/g, '$&\r\n');
const msg = Buffer.from(`From: a@example.org\r\nTo: b@example.test\r\nSubject: =?UTF-8?B?${Buffer.from('会議の資料').toString('base64')}?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`);
const withRules = { header: [reg.open(`regexp:${join(dir, 'h')}`)], mime: [], nested: [], body: [reg.open(`regexp:${join(dir, 'b')}`)] };
const none = { header: [], mime: [], nested: [], body: [] };

async function rate(tables, decode) {
  for (let i = 0; i < 50; i++) await inspectContent(msg, tables, { mime: true, decode, bodyLimit: 51200 }, ctx);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const o = await inspectContent(msg, tables, { mime: true, decode, bodyLimit: 51200 }, ctx);
    if (o.reject) throw new Error('unexpected reject');
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

console.log(`message: ${msg.length} bytes (base64 UTF-8 Japanese text), ${n} messages per run`);
console.log('| run | msgs/s |\n|---|---|');
console.log(`| no rules (MIME walk only; cleanup skips even that without tables) | ${(await rate(none, true)).toFixed(0)} |`);
console.log(`| 10 header + 10 body rules, raw (postern_mime_decode_checks = no) | ${(await rate(withRules, false)).toFixed(0)} |`);
console.log(`| 10 header + 10 body rules, decoded (default) | ${(await rate(withRules, true)).toFixed(0)} |`);
rmSync(dir, { recursive: true, force: true });
