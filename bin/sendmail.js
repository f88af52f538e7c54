#!/usr/bin/env node
// sendmail(1) for cron jobs and scripts: `postern sendmail` with the configuration in
// $POSTERN_CONFIG (or $POSTERN_CONFIG_DIR), else /etc/postern. Install as /usr/sbin/sendmail:
//   ln -s /path/to/postern/bin/sendmail.js /usr/sbin/sendmail
// (package.json's `postern-sendmail` bin entry points here too).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('sendmail: Postern is not built (dist/ is missing); run `npm run build` first\n');
  process.exit(75); // EX_TEMPFAIL: the caller may retry later
}
const { main } = await import(entry.href);
const config = process.env.POSTERN_CONFIG || process.env.POSTERN_CONFIG_DIR || '/etc/postern';
process.exitCode = await main(['-c', config, 'sendmail', ...process.argv.slice(2)]);
