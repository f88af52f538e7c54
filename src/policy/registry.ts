/**
 * The restriction registry: Postfix restriction names → implementations, looked up
 * case-insensitively like Postfix's strcasecmp(). Names Postfix has but Postern does not
 * implement yet are listed separately so `check` can say so plainly. No name is looked up
 * by building strings; everything is here. Later work (SASL and TLS access tables,
 * address verification) moves names from `notYet` into a checks/ file and the registry.
 */

import type { RestrictionDef } from './context.js';
import { basicRestrictions } from './checks/basic.js';
import { nameRestrictions } from './checks/names.js';
import { destinationRestrictions } from './checks/destination.js';
import { accessRestrictions } from './checks/access.js';
import { loginRestrictions } from './checks/login.js';
import { greylistRestrictions } from './checks/greylist.js';
import { dnsblRestrictions } from './checks/dnsbl.js';
import { unknownRestrictions } from './checks/unknown.js';
import { serverAccessRestrictions } from './checks/server-access.js';
import { policyServiceRestrictions } from './checks/policy-service.js';
import { spfRestrictions } from './checks/spf.js';

export const registry: ReadonlyMap<string, RestrictionDef> = new Map(Object.entries({
  ...basicRestrictions,
  ...nameRestrictions,
  ...destinationRestrictions,
  ...accessRestrictions,
  ...loginRestrictions,
  ...greylistRestrictions,
  ...dnsblRestrictions,
  ...unknownRestrictions,
  ...serverAccessRestrictions,
  ...policyServiceRestrictions,
  ...spfRestrictions,
}));

/** Handled by the engine itself: it changes how the next restriction's verdict is used. */
export const WARN_IF_REJECT = 'warn_if_reject';

/** Postfix restrictions that arrive in later issues: name → what they need, and whether they take an argument. */
export interface Later {
  readonly feature: string;
  readonly takesArg: boolean;
}
const later = (names: string[], feature: string, takesArg: boolean): [string, Later][] => names.map((n) => [n, { feature, takesArg }]);

export const notYet: ReadonlyMap<string, Later> = new Map<string, Later>([
  ...later(['check_ccert_access', 'check_sasl_access'], 'TLS/SASL access tables', true),
  ...later(['permit_tls_clientcerts', 'permit_tls_all_clientcerts', 'reject_plaintext_session'], 'TLS and SASL', false),
  ...later(['reject_unverified_sender', 'reject_unverified_recipient'], 'address verification', false),
  ...later(['permit_mx_backup', 'reject_multi_recipient_bounce', 'permit_inet_interfaces', 'check_relay_domains'], 'later restriction work', false),
]);
