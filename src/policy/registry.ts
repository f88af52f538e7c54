/**
 * The restriction registry: Postfix restriction names → implementations, looked up
 * case-insensitively like Postfix's strcasecmp(). Names Postfix has but Postern does not
 * implement yet are listed separately so `check` can say so plainly. No name is looked up
 * by building strings; everything is here. Later work (DNS lists, SASL, TLS, policy
 * services) moves names from `notYet` into a checks/ file and the registry.
 */

import type { RestrictionDef } from './context.js';
import { basicRestrictions } from './checks/basic.js';
import { nameRestrictions } from './checks/names.js';
import { destinationRestrictions } from './checks/destination.js';
import { accessRestrictions } from './checks/access.js';
import { loginRestrictions } from './checks/login.js';
import { spfRestrictions } from './checks/spf.js';

export const registry: ReadonlyMap<string, RestrictionDef> = new Map(Object.entries({
  ...basicRestrictions,
  ...nameRestrictions,
  ...destinationRestrictions,
  ...accessRestrictions,
  ...loginRestrictions,
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
  ...later(['reject_rbl_client', 'reject_rbl', 'reject_rhsbl_client', 'reject_rhsbl_sender', 'reject_rhsbl_helo', 'reject_rhsbl_recipient',
    'reject_rhsbl_reverse_client', 'permit_dnswl_client', 'permit_rhswl_client'], 'DNS blacklists', true),
  ...later(['reject_maps_rbl'], 'DNS blacklists', false),
  ...later(['reject_unknown_client_hostname', 'reject_unknown_client', 'reject_unknown_reverse_client_hostname',
    'reject_unknown_helo_hostname', 'reject_unknown_hostname', 'reject_unknown_sender_domain', 'reject_unknown_recipient_domain',
    'reject_unknown_address'], 'DNS-based checks', false),
  ...later(['check_client_mx_access', 'check_client_ns_access', 'check_client_a_access', 'check_helo_mx_access', 'check_helo_ns_access',
    'check_helo_a_access', 'check_sender_mx_access', 'check_sender_ns_access', 'check_sender_a_access', 'check_recipient_mx_access',
    'check_recipient_ns_access', 'check_recipient_a_access', 'check_reverse_client_hostname_access', 'check_reverse_client_hostname_mx_access',
    'check_reverse_client_hostname_ns_access', 'check_reverse_client_hostname_a_access', 'check_ccert_access', 'check_sasl_access'],
  'DNS/TLS/SASL access tables', true),
  ...later(['check_policy_service'], 'policy delegation (postgrey, policyd-spf)', true),
  ...later(['permit_tls_clientcerts', 'permit_tls_all_clientcerts', 'reject_plaintext_session'], 'TLS and SASL', false),
  ...later(['reject_unverified_sender', 'reject_unverified_recipient'], 'address verification', false),
  ...later(['permit_mx_backup', 'reject_multi_recipient_bounce', 'permit_inet_interfaces', 'check_relay_domains'], 'later restriction work', false),
]);
