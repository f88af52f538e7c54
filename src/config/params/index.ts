/**
 * Every declared parameter, from all areas. Each area's file is owned by the module that
 * reads those parameters; this index only joins them and refuses duplicates.
 */
import type { ParamDecl } from '../declare.js';
import { generalParams } from './general.js';
import { smtpdParams } from './smtpd.js';
import { policyParams } from './policy.js';
import { queueParams } from './queue.js';
import { deliveryParams } from './delivery.js';
import { dnsParams } from './dns.js';
import { tablesParams } from './tables.js';
import { noeffectParams } from './noeffect.js';
import { futureParams } from './future.js';
import { tlsParams } from './tls.js';
import { routingParams } from './routing.js';
import { dsnParams } from './dsn.js';
import { commandParams } from './commands.js';
import { smtpClientParams } from './smtp-client.js';
import { abuseParams } from './abuse.js';
import { dnsblParams } from './dnsbl.js';
import { contentParams } from './content.js';
import { authParams } from './auth.js';
import { milterParams } from './milter.js';

export const allParams: readonly ParamDecl[] = [
  ...generalParams, ...smtpdParams, ...policyParams, ...queueParams,
  ...deliveryParams, ...dnsParams, ...tablesParams, ...noeffectParams, ...futureParams, ...tlsParams, ...routingParams,
  ...dsnParams,
  ...commandParams,
  ...smtpClientParams,
  ...abuseParams,
  ...dnsblParams,
  ...contentParams,
  ...authParams,
  ...milterParams,
];

function index(decls: readonly ParamDecl[]): ReadonlyMap<string, ParamDecl> {
  const map = new Map<string, ParamDecl>();
  for (const d of decls) {
    if (map.has(d.name)) throw new Error(`internal: parameter ${d.name} declared twice`);
    map.set(d.name, d);
  }
  return map;
}

export const paramDecls: ReadonlyMap<string, ParamDecl> = index(allParams);
