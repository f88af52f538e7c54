/**
 * Send raw messages with Python's smtplib (an independent SMTP client), one connection
 * each, and report where each transaction ended: the RCPT reply when the recipient was
 * refused, otherwise the reply to the end of DATA.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './server.js';

export interface Sent {
  readonly stage: 'rcpt' | 'data';
  readonly code: number;
  readonly text: string;
}

export interface Outgoing {
  readonly from: string;
  readonly to: string;
  readonly data: Buffer;
  readonly helo?: string;
}

const SCRIPT = `
import json, smtplib, sys
port, jobs = int(sys.argv[1]), json.loads(sys.argv[2])
out = []
for j in jobs:
    s = smtplib.SMTP('127.0.0.1', port, local_hostname=j['helo'], timeout=30)
    s.ehlo()
    s.mail(j['from'])
    code, text = s.rcpt(j['to'])
    if code >= 400:
        out.append({'stage': 'rcpt', 'code': code, 'text': text.decode()})
        s.quit()
        continue
    try:
        code, text = s.data(open(j['file'], 'rb').read())
    except smtplib.SMTPDataError as e:
        code, text = e.smtp_code, e.smtp_error
    out.append({'stage': 'data', 'code': code, 'text': text.decode()})
    s.quit()
print(json.dumps(out))
`;

export async function sendWithSmtplib(port: number, messages: readonly Outgoing[]): Promise<Sent[]> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-smtplib-'));
  const jobs = messages.map((m, i) => {
    const file = join(dir, `m${i}.eml`);
    writeFileSync(file, m.data);
    return { from: m.from, to: m.to, file, helo: m.helo ?? 'client.example.org' };
  });
  const r = await run('python3', ['-c', SCRIPT, String(port), JSON.stringify(jobs)], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`smtplib failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Sent[];
}
