/**
 * `postern greylist [clear]`: the built-in greylisting's state (policy/checks/greylist.ts) —
 * triplets still waiting, triplets that passed, auto-whitelisted clients — and `clear`, which
 * forgets them all (every new triplet is then greylisted again). Reads the state store the
 * daemon uses (SQLite in data_directory, or the shared Redis).
 */

import { loadConfig } from '../config/load.js';
import { programName } from '../log/maillog.js';
import { openState } from '../state/shared.js';
import { Greylist, greylistSettings } from '../state/greylist.js';
import { openToolLog } from './tool-context.js';

export async function runGreylistCommand(dir: string, args: string[]): Promise<number> {
  const [sub = 'status', ...extra] = args;
  if (extra.length || !['status', 'clear'].includes(sub)) {
    process.stderr.write('usage: postern greylist [status | clear]\n');
    return 2;
  }
  const cfg = loadConfig(dir);
  const errors: string[] = [];
  const state = await openState(cfg.main, { warning: (m) => errors.push(m), info: () => undefined });
  try {
    const gl = new Greylist(state.primary, greylistSettings(cfg.main));
    if (sub === 'clear') {
      const n = await gl.clear();
      const log = openToolLog(cfg);
      log?.line(programName(cfg.main.str('syslog_name'), 'greylist'), `cleared ${n} greylist entries`);
      log?.close();
      process.stdout.write(`greylist cleared: ${n} entries removed\n`);
      return 0;
    }
    const c = await gl.counts();
    process.stdout.write([
      `Built-in greylisting (state: ${state.primary.name})`,
      `|- Triplets pending:\t${c.pending}`,
      `|- Triplets passed:\t${c.passed}`,
      `\`- Auto-whitelisted clients:\t${c.autoWhitelisted}${c.awlCandidates ? ` (${c.awlCandidates} more on their way)` : ''}`,
    ].join('\n') + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`postern: greylist: ${(err as Error).message}${errors.length ? ` (${errors.join('; ')})` : ''}\n`);
    return 1;
  } finally {
    await state.close();
  }
}
