/**
 * DNS lists, DNS-based client/address checks and policy delegation (see config/declare.ts).
 * Read by policy/checks/dnsbl.ts, unknown.ts, policy-service.ts and policy/delegation/.
 */
import { declare } from '../declare.js';

export const dnsblParams = declare([
  { name: 'maps_rbl_domains', type: 'list', default: '', doc: 'Obsolete: DNS lists used by reject_maps_rbl (use reject_rbl_client instead).' },
  { name: 'maps_rbl_reject_code', type: 'int', default: '554', min: 400, max: 599, doc: 'Reply code ($rbl_code) when reject_rbl_client, reject_rhsbl_* or reject_maps_rbl match.' },
  {
    name: 'default_rbl_reply', type: 'string', default: '$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}',
    doc: 'Reply template for DNS list rejections; $rbl_code, $rbl_class, $rbl_what, $rbl_domain, $rbl_reason, $client, $helo_name, $sender, $recipient… (one level, not main.cf parameters).',
  },
  { name: 'rbl_reply_maps', type: 'list', default: '', doc: 'Tables of reply templates indexed by the DNS list as written in the restriction ("zen.example=127.0.0.[2..11]"), then by its bare domain.' },
  {
    name: 'postern_rbl_tempfail_action', type: 'string', default: 'dunno',
    doc: 'When a DNS list lookup times out, fails or the list refuses our resolver: dunno (not listed, Postfix\'s behaviour), defer (450 4.7.1 at once) or defer_if_permit.', posternOnly: true,
  },
  {
    name: 'postern_rbl_blocked_replies', type: 'list', default: 'spamhaus.org=127.255.255.[252..255], spamhaus.net=127.255.255.[252..255], uribl.com=127.0.0.1, surbl.org=127.0.0.1',
    doc: 'Answers that mean "this list refuses your resolver", per list zone (and zones below it): logged as a warning, never a listing.', posternOnly: true,
  },
  { name: 'reject_tempfail_action', type: 'string', default: 'defer_if_permit', doc: 'What a reject-type restriction does when its lookup fails temporarily: defer_if_permit or defer.' },
  { name: 'unknown_address_tempfail_action', type: 'string', default: '$reject_tempfail_action', doc: 'reject_unknown_sender_domain / _recipient_domain on a temporary DNS failure: defer_if_permit or defer.' },
  { name: 'unknown_helo_hostname_tempfail_action', type: 'string', default: '$reject_tempfail_action', doc: 'reject_unknown_helo_hostname on a temporary DNS failure: defer_if_permit or defer.' },
  { name: 'smtpd_policy_service_default_action', type: 'string', default: '451 4.3.5 Server configuration problem', doc: 'Action (an access(5) result) when a policy service cannot be reached or answers garbage.' },
  { name: 'smtpd_policy_service_max_idle', type: 'time', default: '300s', timeUnit: 's', min: 1, doc: 'An idle policy service connection is closed after this time.' },
  { name: 'smtpd_policy_service_max_ttl', type: 'time', default: '1000s', timeUnit: 's', min: 1, doc: 'A policy service connection is closed (after its current request) once it is this old.' },
  { name: 'smtpd_policy_service_timeout', type: 'time', default: '100s', timeUnit: 's', min: 1, doc: 'Time limit to connect to, write to or read from a policy service.' },
  { name: 'smtpd_policy_service_try_limit', type: 'int', default: '2', min: 1, doc: 'Attempts to send one policy request before giving up.' },
  { name: 'smtpd_policy_service_retry_delay', type: 'time', default: '1s', timeUnit: 's', min: 0, doc: 'Delay between attempts to send a failed policy request.' },
  { name: 'smtpd_policy_service_request_limit', type: 'int', default: '0', min: 0, doc: 'Requests per policy service connection before it is closed (0: no limit).' },
  { name: 'smtpd_policy_service_policy_context', type: 'string', default: '', doc: 'Sent as the policy_context attribute of each policy request.' },
  {
    name: 'policy_time_limit', type: 'string', default: '1000s', doc: 'Postfix parameter; no effect in Postern.',
    noEffect: 'it limits the run time of a policy server started by spawn(8); Postern connects to policy servers that run on their own',
  },
]);
