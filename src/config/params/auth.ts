/** Email authentication (SPF, DKIM, DMARC, ARC) and DKIM signing (see config/declare.ts, docs/content-checks.md). */
import { declare } from '../declare.js';

export const authParams = declare([
  { name: 'postern_authentication', type: 'bool', default: 'yes', doc: 'Verify SPF, DKIM, DMARC and ARC of mail from other servers (never for SASL-authenticated or mynetworks clients) and add one Authentication-Results: header; forged ones naming $myhostname are removed. Off when postern_dns_lookups = no.', posternOnly: true },
  { name: 'postern_dmarc_enforce', type: 'bool', default: 'yes', doc: 'Apply the sender domain\'s DMARC policy when DMARC fails: p=reject → "550 5.7.1 Message rejected per DMARC policy of DOMAIN"; p=quarantine → postern_dmarc_quarantine_action. "no": record the result only.', posternOnly: true },
  { name: 'postern_dmarc_quarantine_action', type: 'string', default: 'header', doc: 'What p=quarantine does: "header" delivers with X-Postern-Quarantine: DMARC DOMAIN (for a mail filter to file it), "hold" puts the message on hold.', posternOnly: true },
  { name: 'postern_dkim_keys', type: 'string', default: '', doc: 'A table "domain  selector:/path/to/key.pem": mail from SASL-authenticated and mynetworks clients whose From: domain (or a parent) is listed is DKIM-signed (RSA or Ed25519 key; `postern dkim keygen` makes one). Relative paths are under the config directory.', posternOnly: true },
]);
