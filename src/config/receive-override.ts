/**
 * receive_override_options (postconf(5)): per-listener switches that turn off work already
 * done before a content filter re-injects a message. Read by cleanup/ (header/body checks,
 * milters and Postern's authentication and spam checks) and policy/ (unknown recipients).
 */

import type { Params } from './types.js';

export type ReceiveOverride = 'no_unknown_recipient_checks' | 'no_address_mappings' | 'no_header_body_checks' | 'no_milters';

export const RECEIVE_OVERRIDES: readonly ReceiveOverride[] = ['no_unknown_recipient_checks', 'no_address_mappings', 'no_header_body_checks', 'no_milters'];

export function receiveOverride(params: Params, option: ReceiveOverride): boolean {
  return params.list('receive_override_options').some((o) => o.toLowerCase() === option);
}
