#!/usr/bin/env node
// The `postern` command. The TypeScript sources are compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// File system work (Maildir writes, fsyncs) runs on libuv's thread pool; 4 threads
// serialise fsyncs of parallel deliveries. Must be set before the pool is first used.
process.env.UV_THREADPOOL_SIZE ??= '16';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('postern: dist/ is missing; run `npm run build` first\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
