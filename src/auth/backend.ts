/** Picks the SASL backend a listener uses (smtpd_sasl_type / smtpd_sasl_path). */
import type { Params } from '../config/types.js';
import type { AuthBackend } from './types.js';
import { createDovecotBackend, parseSaslPath } from './dovecot.js';
import { createPasswdFileBackend } from './passwd-file.js';

export function createAuthBackend(p: Params): AuthBackend | undefined {
  if (!p.bool('smtpd_sasl_auth_enable')) return undefined;
  const type = p.str('smtpd_sasl_type').toLowerCase();
  const path = p.str('smtpd_sasl_path');
  if (type === 'dovecot') return createDovecotBackend(parseSaslPath(path, p.str('queue_directory')));
  if (type === 'passwd-file') return createPasswdFileBackend(path, { localDomain: p.str('smtpd_sasl_local_domain') || undefined });
  throw new Error(`smtpd_sasl_type = ${type} is not supported (use dovecot or passwd-file)`);
}
