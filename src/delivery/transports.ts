/**
 * The transports a configuration offers: master.cf services whose command is a delivery
 * agent (smtp, lmtp, pipe, discard, error, local, virtual), plus the built-in ones Postern
 * provides without a master.cf line (smtp, relay, lmtp, local, virtual, discard, error,
 * retry — Postfix's stock master.cf has them all, Postern's demo master.cf need not).
 */

import type { LoadedConfig } from '../config/types.js';
import type { TransportAgent } from './types.js';
import type { Transports, TransportService } from '../scheduler/transports.js';
import { BUILTIN_TRANSPORT_COMMANDS } from '../resolve/transport.js';

const AGENT_COMMANDS = new Set(['smtp', 'lmtp', 'pipe', 'discard', 'error', 'local', 'virtual']);

export function createTransports(cfg: LoadedConfig, agents: Partial<Record<string, TransportAgent>>): Transports {
  const services = new Map<string, TransportService>();
  for (const [name, command] of Object.entries(BUILTIN_TRANSPORT_COMMANDS)) services.set(name, { name, command, params: cfg.main, args: [] });
  for (const s of cfg.services) {
    if (s.type === 'inet' || !AGENT_COMMANDS.has(s.command)) continue;
    services.set(s.name, { name: s.name, command: s.command, params: s.params, args: s.args });
  }
  return {
    service: (name) => services.get(name),
    agent: (command) => agents[command],
  };
}
