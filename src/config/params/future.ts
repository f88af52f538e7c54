/**
 * Postfix parameters for features Postern does not have yet: accepted, with a `check`
 * warning naming the planned feature, so a seed config loads and the admin knows.
 */
import { declare } from '../declare.js';
import type { ParamDecl } from '../declare.js';

function planned(feature: string, names: [string, string][]): ParamDecl[] {
  return names.map(([name, def]) => ({ name, type: 'string', default: def, doc: `Planned: ${feature}.`, planned: feature }));
}

export const futureParams = declare([
  ...planned('milter header checks and milters for local submission', [['non_smtpd_milters', ''], ['milter_header_checks', '']]),
  ...planned('outbound SMTP delivery', [
    ['relay_recipient_maps', ''],
  ]),
  ...planned('delivery through a mailbox command', [['mailbox_command', '']]),
]);
