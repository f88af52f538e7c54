/**
 * SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms: decoding the
 * client's responses, one step at a time. The password check itself belongs to the
 * backend (auth/); this module only turns lines into (user, password) and replies.
 * Untrusted input: every decode failure is a 501, never an exception.
 */

import { reply, type Reply } from '../protocol/reply.js';

export type AuthStep =
  | { kind: 'reply'; reply: Reply }
  | { kind: 'challenge'; reply: Reply }
  | { kind: 'credentials'; mech: string; user: string; password: string };

const ABORTED = reply(501, '5.7.0', 'Authentication aborted');
const UNDECODABLE = reply(501, '5.5.2', 'Cannot decode response');

function b64(line: string): string | undefined {
  const t = line.trim();
  if (t === '=') return '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, 'base64').toString('utf8');
}

export class AuthDialog {
  private user?: string;

  constructor(readonly mech: 'PLAIN' | 'LOGIN') {}

  /** Start with the optional initial response of "AUTH MECH [initial]". */
  start(initial: string | undefined): AuthStep {
    if (this.mech === 'PLAIN') {
      if (initial === undefined) return { kind: 'challenge', reply: reply(334, '', '') };
      return this.plain(initial);
    }
    if (initial !== undefined) return this.next(initial);
    return { kind: 'challenge', reply: reply(334, '', 'VXNlcm5hbWU6') }; // "Username:"
  }

  /** The client's answer to a 334 challenge. */
  next(line: string): AuthStep {
    if (line.trim() === '*') return { kind: 'reply', reply: ABORTED };
    if (this.mech === 'PLAIN') return this.plain(line);
    const v = b64(line);
    if (v === undefined) return { kind: 'reply', reply: UNDECODABLE };
    if (this.user === undefined) {
      this.user = v;
      return { kind: 'challenge', reply: reply(334, '', 'UGFzc3dvcmQ6') }; // "Password:"
    }
    return { kind: 'credentials', mech: 'LOGIN', user: this.user, password: v };
  }

  private plain(line: string): AuthStep {
    if (line.trim() === '*') return { kind: 'reply', reply: ABORTED };
    const v = b64(line);
    if (v === undefined) return { kind: 'reply', reply: UNDECODABLE };
    const parts = v.split('\0');
    if (parts.length !== 3 || !parts[1]) return { kind: 'reply', reply: reply(501, '5.5.2', 'Invalid authentication response') };
    const [authz, authc, password] = parts as [string, string, string];
    // Acting for another identity (authzid) is not allowed.
    if (authz && authz !== authc) return { kind: 'reply', reply: reply(535, '5.7.8', 'Error: authentication failed: authorization identity not allowed') };
    return { kind: 'credentials', mech: 'PLAIN', user: authc, password };
  }
}

/** The mechanisms offered, after the security options (noplaintext) for this session. */
export function offeredMechanisms(securityOptions: string[]): ('PLAIN' | 'LOGIN')[] {
  return securityOptions.includes('noplaintext') ? [] : ['PLAIN', 'LOGIN'];
}
