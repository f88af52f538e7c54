/**
 * `postern bans` — the built-in auto-ban's status and controls, in the spirit of
 * `fail2ban-client status postfix-sasl` / `set postfix-sasl banip|unbanip`:
 *   postern bans [status]             failed/banned counts, the banned addresses, why and until when
 *   postern bans ban ADDR [--time T]  ban now (T: a Postfix time, default postern_ban_bantime)
 *   postern bans unban ADDR           lift a ban
 * It changes the state store the daemon reads at every connection (SQLite in data_directory,
 * or the shared Redis), so the running server — every MX host on that Redis — acts at once.
 * The CLI may run while the daemon runs: SQLite is in WAL mode.
 */

import { isIP } from 'node:net';
import { loadConfig } from '../config/load.js';
import { parseTimeMs } from '../config/params.js';
import { TableRegistry } from '../tables/open.js';
import { exceptionList } from '../listener/guard.js';
import { normalizeAddr } from '../policy/networks.js';
import { programName } from '../log/maillog.js';
import { printable } from '../log/smtpd-events.js';
import { openState } from '../state/shared.js';
import { Bans, banSettings, formatBanStatus, formatTime } from '../state/bans.js';
import { openToolLog } from './tool-context.js';

const USAGE = 'usage: postern bans [status] | ban ADDR [--time T] | unban ADDR\n';

export async function runBansCommand(dir: string, args: string[], opts: { time?: string }): Promise<number> {
  const [sub = 'status', addrArg, ...extra] = args;
  if (extra.length || (sub === 'status' && addrArg) || ((sub === 'ban' || sub === 'unban') && !addrArg) || !['status', 'ban', 'unban'].includes(sub)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const cfg = loadConfig(dir);
  const main = cfg.main;
  let duration: number | undefined;
  if (opts.time !== undefined) {
    duration = parseTimeMs(opts.time, 's');
    if (!duration || sub !== 'ban') {
      process.stderr.write(`postern: bans: ${sub !== 'ban' ? '--time goes with "ban"' : `bad time "${opts.time}" (e.g. 3600, 90m, 12h, 7d)`}\n`);
      return 2;
    }
  }
  let addr = '';
  if (addrArg !== undefined) {
    addr = normalizeAddr(addrArg.replace(/^\[(.*)\]$/, '$1'));
    if (!isIP(addr)) {
      process.stderr.write(`postern: bans: "${addrArg}" is not an IPv4 or IPv6 address\n`);
      return 2;
    }
  }
  const errors: string[] = [];
  const state = await openState(main, { warning: (m) => errors.push(m), info: () => undefined });
  try {
    const bans = new Bans(state.primary, banSettings(main));
    const log = openToolLog(cfg);
    const program = programName(main.str('syslog_name'), 'bans');
    if (sub === 'status') {
      const st = await bans.status();
      st.stale = st.stale.map((s) => ({ ...s, user: printable(s.user) }));
      process.stdout.write(formatBanStatus(st, state.primary.name));
      return 0;
    }
    if (sub === 'unban') {
      const was = await bans.unban(addr);
      log?.line(program, `unban ${addr}${was ? '' : ' (was not banned)'}`);
      log?.close();
      process.stdout.write(was ? `${addr}: unbanned\n` : `${addr}: was not banned\n`);
      return 0;
    }
    const tables = new TableRegistry({ baseDir: dir });
    try {
      if (await exceptionList(main, tables, 'postern_ban_exceptions').matches({ name: 'unknown', addr })) {
        process.stderr.write(`postern: bans: ${addr} is in postern_ban_exceptions (default $mynetworks) and is never banned\n`);
        return 1;
      }
    } finally {
      await tables.closeAll();
    }
    const rec = await bans.ban(addr, duration, 'banned by the administrator');
    log?.line(program, `ban ${addr} until ${formatTime(rec.until)} (${rec.reason})`);
    log?.close();
    process.stdout.write(`${addr}: banned until ${formatTime(rec.until)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`postern: bans: ${(err as Error).message}${errors.length ? ` (${errors.join('; ')})` : ''}\n`);
    return 1;
  } finally {
    await state.close();
  }
}
