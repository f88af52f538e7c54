/**
 * Sendmail macros sent to milters before each command (SMFIC_MACRO), with Postfix's
 * meanings (MILTER_README "Sendmail macro emulation"): the names come from the
 * milter_*_macros parameters, or from the milter itself when it asked for its own list at
 * option negotiation. A macro with no value at that point (i before a queue ID exists,
 * {auth_authen} without AUTH) is not sent, as Postfix does.
 */

import type { SessionFacts } from '../policy/types.js';
import type { MacroStage } from './protocol.js';

/** The parameter naming each stage's macros. */
export const MACRO_PARAM: Record<MacroStage, string> = {
  connect: 'milter_connect_macros', helo: 'milter_helo_macros', mail: 'milter_mail_macros', rcpt: 'milter_rcpt_macros',
  data: 'milter_data_macros', eoh: 'milter_end_of_header_macros', eom: 'milter_end_of_data_macros',
};

/** What the macros may refer to beyond the session facts. */
export interface MacroExtra {
  readonly queueId?: string;
  readonly sender?: string;
  readonly recipient?: string;
}

function value(name: string, f: SessionFacts, x: MacroExtra): string | undefined {
  const p = f.params;
  const c = f.client;
  switch (name) {
    case 'j': return p.str('myhostname');
    case '_': {
      // Sendmail's "name [addr]", flagged when the PTR name did not verify.
      const forged = c.reverseName !== 'unknown' && c.name.toLowerCase() !== c.reverseName.toLowerCase();
      return `${c.reverseName} [${c.addr}]${forged ? ' (may be forged)' : ''}`;
    }
    case 'daemon_name': return p.str('milter_macro_daemon_name');
    case 'daemon_addr': return f.server?.addr || undefined;
    case 'daemon_port': return f.server ? String(f.server.port) : undefined;
    case 'v': return p.str('milter_macro_v');
    case 'client_addr': return c.addr;
    case 'client_port': return String(c.port);
    case 'client_name': return c.name;
    case 'client_ptr': return c.reverseName;
    case 'client_resolve': return c.nameStatus === 'ok' ? 'OK' : c.nameStatus === 'tempfail' ? 'TEMP' : c.reverseName !== 'unknown' ? 'FORGED' : 'FAIL';
    case 'tls_version': return f.tls ? f.tlsProtocol : undefined;
    case 'cipher': return f.tls ? f.tlsCipher : undefined;
    case 'cipher_bits': return f.tls && f.tlsBits !== undefined ? String(f.tlsBits) : undefined;
    case 'auth_type': return f.saslMethod;
    case 'auth_authen': return f.saslUsername;
    case 'i': return x.queueId ?? f.queueId;
    case 'mail_addr': return x.sender ?? f.sender;
    case 'mail_host': {
      const s = x.sender ?? f.sender;
      return s && s.includes('@') ? s.slice(s.lastIndexOf('@') + 1) : undefined;
    }
    case 'rcpt_addr': return x.recipient ?? f.recipient;
    case 'rcpt_host': {
      const r = x.recipient ?? f.recipient;
      return r && r.includes('@') ? r.slice(r.lastIndexOf('@') + 1) : undefined;
    }
    default: return undefined;
  }
}

/** The (name, value) pairs to send for these names; unknown or empty-for-now macros are left out. */
export function macroValues(names: readonly string[], f: SessionFacts, x: MacroExtra = {}): [string, string][] {
  const out: [string, string][] = [];
  for (const raw of names) {
    const bare = raw.replace(/^\{(.*)\}$/, '$1');
    const v = value(bare, f, x);
    if (v !== undefined) out.push([raw, v]);
  }
  return out;
}
