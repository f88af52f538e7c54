/**
 * The daemon, wiring only: load the configuration, build the shared services in a visible
 * order (log → dns → tables → resolver → queue → delivery → scheduler → cleanup → one policy
 * engine and one listener per smtpd service), then wait for signals.
 *
 * SIGTERM/SIGINT: stop accepting, let sessions and deliveries finish, close the queue.
 * SIGHUP: reload main.cf/master.cf; on errors keep running with the old configuration.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from './config/load.js';
import type { LoadedConfig, Service } from './config/types.js';
import { MailLog, programName } from './log/maillog.js';
import { TableRegistry } from './tables/open.js';
import { dnsFromParams } from './dns/resolver.js';
import { lookupClientInfo } from './dns/client-name.js';
import { createResolver } from './resolve/resolver.js';
import { openQueueStore, type QueueStore } from './queue/store.js';
import { createMaildirAgent } from './delivery/maildir/agent.js';
import { createScheduler, type Scheduler } from './scheduler/scheduler.js';
import { createTransports } from './delivery/transports.js';
import { createSmtpAgent, type SmtpAgent } from './delivery/smtp/agent.js';
import { createNotifier } from './scheduler/notices.js';
import { createDiscardAgent, createErrorAgent } from './delivery/builtin/agents.js';
import { createPipeAgent } from './delivery/pipe/agent.js';
import { createLocalAgent } from './delivery/local/agent.js';
import { createCleanup } from './cleanup/cleanup.js';
import { createPolicyEngine } from './policy/engine.js';
import { startSmtpListener, type SmtpListener } from './listener/smtp-listener.js';
import { packageVersion, writePidFile } from './cli/main.js';
import { ensureSelfSigned } from './listener/tls.js';
import { dropPrivileges } from './privileges.js';
import { openState, type SharedState } from './state/shared.js';
import { Bans, banSettings } from './state/bans.js';
import { Anvil } from './listener/anvil.js';
import { ClientGuard, exceptionList } from './listener/guard.js';

interface Running {
  cfg: LoadedConfig;
  tables: TableRegistry;
  listeners: SmtpListener[];
  bans: Bans;
}

/** The delivery agent of each transport a configuration offers (built once, asked per recipient). */
function transportCommandOf(cfg: LoadedConfig): (transport: string) => string | undefined {
  const transports = createTransports(cfg, {});
  return (t) => transports.service(t)?.command;
}

/** Services that Postern runs an SMTP listener for. */
function smtpdServices(cfg: LoadedConfig): Service[] {
  return cfg.services.filter((s) => s.type === 'inet' && s.command === 'smtpd');
}

function printDiagnostics(cfg: LoadedConfig, onlyErrors: boolean): boolean {
  let errors = false;
  for (const d of cfg.diagnostics) {
    if (d.severity === 'error') errors = true;
    if (onlyErrors && d.severity !== 'error') continue;
    process.stderr.write(`postern: ${d.file}:${d.line}: ${d.severity}: ${d.message}\n`);
  }
  return errors;
}

export async function runForeground(dir: string, opts: { verbose: boolean }): Promise<number> {
  let cfg: LoadedConfig;
  try {
    cfg = loadConfig(dir);
  } catch (err) {
    process.stderr.write(`postern: ${(err as Error).message}\n`);
    return 1;
  }
  if (printDiagnostics(cfg, !opts.verbose)) {
    process.stderr.write('postern: fatal: configuration errors, not starting (see `postern check`)\n');
    return 1;
  }
  const main = cfg.main;
  const master = programName(main.str('syslog_name'), 'master');
  // Read now: after dropping privileges the install directory may not be readable.
  const version = packageVersion();
  for (const key of ['queue_directory', 'data_directory'] as const) mkdirSync(main.str(key), { recursive: true, mode: 0o700 });
  const log = new MailLog({ file: main.str('maillog_file'), hostname: main.str('myhostname'), echo: opts.verbose });
  // `postern queue …` and `postern sendmail` send SIGUSR1 after changing the queue
  // (cli/daemon-wake.ts). The handler goes in before the pid file exists: without one,
  // Node answers SIGUSR1 by starting its inspector.
  let wakeScheduler = (): void => undefined;
  let flushScheduler = (): void => undefined;
  process.on('SIGUSR1', () => wakeScheduler());
  process.on('SIGUSR2', () => flushScheduler());
  const removePid = writePidFile(join(main.str('data_directory'), 'postern.pid'));

  const dns = dnsFromParams(main);
  try {
    for (const svc of cfg.services) if (svc.params.bool('postern_tls_self_signed')) ensureSelfSigned(svc.params);
  } catch (err) {
    process.stderr.write(`postern: fatal: cannot create the self-signed certificate: ${(err as Error).message}\n`);
    removePid();
    return 1;
  }
  let store: QueueStore;
  try {
    store = openQueueStore(main.str('queue_directory'), { groupCommitMax: main.int('postern_queue_group_commit_max') });
  } catch (err) {
    log.fatal(master, `cannot open the queue in ${main.str('queue_directory')}: ${(err as Error).message}`);
    process.stderr.write(`postern: fatal: cannot open the queue: ${(err as Error).message}\n`);
    removePid();
    return 1;
  }

  // What outlives sessions (bans, rate windows, greylist triplets): SQLite here, or a shared Redis.
  const stateProgram = programName(main.str('syslog_name'), 'state');
  let state: SharedState;
  try {
    state = await openState(main, { warning: (m) => log.warning(stateProgram, m), info: (m) => log.line(stateProgram, m) });
  } catch (err) {
    log.fatal(master, `cannot open the state store: ${(err as Error).message}`);
    process.stderr.write(`postern: fatal: cannot open the state store: ${(err as Error).message}\n`);
    store.close();
    removePid();
    return 1;
  }
  const anvil = new Anvil({ store: state.resilient, log, program: programName(main.str('syslog_name'), 'anvil'), statusMs: main.timeMs('anvil_status_update_time') });

  let running: Running;
  let scheduler: Scheduler;
  let smtp: SmtpAgent | undefined;
  let lmtp: SmtpAgent | undefined;
  try {
    const tables = new TableRegistry({ baseDir: dir });
    const queueDirectory = main.str('queue_directory');
    smtp = createSmtpAgent({ dns, log, lmtp: false, queueDirectory, tables });
    lmtp = createSmtpAgent({ dns, log, lmtp: true, queueDirectory, tables });
    const transports = createTransports(cfg, { smtp, lmtp, discard: createDiscardAgent(), error: createErrorAgent(), pipe: createPipeAgent({ log }) });
    const resolver = createResolver(main, { tables, transportCommand: (t) => transports.service(t)?.command });
    const maildir = createMaildirAgent({ log, params: main });
    const notify = createNotifier({ store, log, params: main, submitted: (m) => scheduler.submitted(m) });
    const commandsAndFiles = createLocalAgent({ log, params: main });
    scheduler = createScheduler({ store, resolver, agents: { maildir, command: commandsAndFiles, file: commandsAndFiles }, transports, notify, log, params: main });
    const cleanup = createCleanup({ store, log, params: main, scheduler, tables, dns, configDir: dir });
    const bans = new Bans(state.resilient, banSettings(main));
    const listeners = await startListeners(cfg, { tables, resolver, dns, log, cleanup, bans });
    running = { cfg, tables, listeners, bans };
  } catch (err) {
    process.stderr.write(`postern: fatal: ${(err as Error).message}\n`);
    log.fatal(master, (err as Error).message);
    store.close();
    await state.close();
    log.close();
    removePid();
    return 1;
  }
  try {
    const user = dropPrivileges(main);
    if (user) log.line(master, `running as ${user} (uid ${process.getuid?.()}) after binding the listeners`);
  } catch (err) {
    process.stderr.write(`postern: fatal: cannot drop privileges: ${(err as Error).message}\n`);
    log.fatal(master, `cannot drop privileges: ${(err as Error).message}`);
    await Promise.allSettled(running.listeners.map((l) => l.close(0)));
    store.close();
    await state.close();
    log.close();
    removePid();
    return 1;
  }
  scheduler.start();
  wakeScheduler = () => scheduler.wake();
  flushScheduler = () => scheduler.flush();
  log.line(master, `daemon started -- version ${version}, configuration ${dir}`);
  process.stderr.write(`postern: ready (${running.listeners.flatMap((l) => l.addresses.map((a) => `${a.address}:${a.port}`)).join(', ')})\n`);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.line(master, `terminating on signal ${signal === 'SIGTERM' ? 15 : 2}`);
      void (async () => {
        await Promise.allSettled(running.listeners.map((l) => l.close()));
        await scheduler.stop();
        await Promise.allSettled([smtp?.close(), lmtp?.close()]);
        store.close();
        anvil.close();
        await state.close();
        await running.tables.closeAll();
        log.close();
        removePid();
        resolveExit(0);
      })();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      void reload(dir, running, log, master).then((next) => {
        if (next) running = next;
      });
    });
  });

  async function startListeners(c: LoadedConfig, deps: {
    tables: TableRegistry; resolver: ReturnType<typeof createResolver>; dns: ReturnType<typeof dnsFromParams>;
    log: MailLog; cleanup: ReturnType<typeof createCleanup>; bans: Bans;
  }): Promise<SmtpListener[]> {
    const out: SmtpListener[] = [];
    try {
      for (const service of smtpdServices(c)) {
        const policy = createPolicyEngine(service.params, { tables: deps.tables, resolver: deps.resolver, dns: deps.dns, state });
        const peername = service.params.bool('smtpd_peername_lookup');
        const guard = new ClientGuard({
          anvil, bans: deps.bans, params: service.params, service: service.name, log: deps.log, program: programName(service.params.str('syslog_name'), 'smtpd'),
          limitExceptions: exceptionList(service.params, deps.tables, 'smtpd_client_event_limit_exceptions'),
          banExceptions: exceptionList(c.main, deps.tables, 'postern_ban_exceptions'),
        });
        out.push(await startSmtpListener(service, {
          log: deps.log,
          policy,
          cleanup: deps.cleanup,
          clientInfo: (addr, port) => lookupClientInfo(deps.dns, addr, port, { peernameLookup: peername }),
          guard,
        }));
      }
    } catch (err) {
      await Promise.allSettled(out.map((l) => l.close()));
      throw err;
    }
    return out;
  }

  /**
   * Reload: build everything new first; only when that works, swap listeners. Open
   * sessions finish on the old listener objects with the old policy.
   * XXX: between closing an old listener and binding the new one on the same port there is
   * a window of a few milliseconds in which a connection can be refused (Node 20 has no
   * SO_REUSEPORT); the queue and open sessions are not affected.
   */
  async function reload(d: string, old: Running, l: MailLog, prog: string): Promise<Running | undefined> {
    let next: LoadedConfig;
    try {
      next = loadConfig(d);
    } catch (err) {
      l.warning(prog, `reload failed, keeping the old configuration: ${(err as Error).message}`);
      return undefined;
    }
    const errs = next.diagnostics.filter((x) => x.severity === 'error');
    if (errs.length > 0) {
      for (const e of errs) l.warning(prog, `reload refused: ${e.file}:${e.line}: ${e.message}`);
      return undefined;
    }
    const tables = new TableRegistry({ baseDir: d });
    const resolver = createResolver(next.main, { tables, transportCommand: transportCommandOf(next) });
    const cleanup = createCleanup({ store, log: l, params: next.main, scheduler, tables, dns: dnsFromParams(next.main), configDir: d });
    const bans = new Bans(state.resilient, banSettings(next.main));
    await Promise.allSettled(old.listeners.map((x) => x.stopAccepting()));
    try {
      const listeners = await startListeners(next, { tables, resolver, dns: dnsFromParams(next.main), log: l, cleanup, bans });
      l.line(prog, 'reload -- configuration ' + d);
      return { cfg: next, tables, listeners, bans };
    } catch (err) {
      l.error(prog, `reload failed to start listeners: ${(err as Error).message}; restoring the old ones`);
      const listeners = await startListeners(old.cfg, { tables: old.tables, resolver: createResolver(old.cfg.main, { tables: old.tables, transportCommand: transportCommandOf(old.cfg) }), dns: dnsFromParams(old.cfg.main), log: l, cleanup, bans: old.bans });
      return { cfg: old.cfg, tables: old.tables, listeners, bans: old.bans };
    }
  }
}
