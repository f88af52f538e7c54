/**
 * Prints docs/parameters.md from the declarations (config/params/*.ts): one table per area.
 * `npm run docs:params` regenerates it; a test fails when the committed file differs.
 */

import { pathToFileURL } from 'node:url';
import type { ParamDecl } from './declare.js';
import { generalParams } from './params/general.js';
import { smtpdParams } from './params/smtpd.js';
import { policyParams } from './params/policy.js';
import { queueParams } from './params/queue.js';
import { deliveryParams } from './params/delivery.js';
import { dnsParams } from './params/dns.js';
import { dnsblParams } from './params/dnsbl.js';
import { tablesParams } from './params/tables.js';
import { noeffectParams } from './params/noeffect.js';
import { futureParams } from './params/future.js';
import { tlsParams } from './params/tls.js';
import { dsnParams } from './params/dsn.js';
import { milterParams } from './params/milter.js';
import { contentParams } from './params/content.js';
import { authParams } from './params/auth.js';
import { routingParams } from './params/routing.js';
import { commandParams } from './params/commands.js';
import { abuseParams } from './params/abuse.js';
import { smtpClientParams } from './params/smtp-client.js';
import { allParams } from './params/index.js';

const AREAS: [string, readonly ParamDecl[]][] = [
  ['General', generalParams], ['SMTP server', smtpdParams], ['TLS and SASL', tlsParams], ['Restrictions', policyParams], ['Abuse defences: limits, greylisting, bans, shared state', abuseParams], ['Addresses and local delivery', deliveryParams],
  ['Routing and transports', routingParams], ['SMTP and LMTP client', smtpClientParams],
  ['Delivery to commands and files (pipe, alias |command and /file)', commandParams],
  ['Queue and scheduler', queueParams], ['Bounces and delivery status notifications', dsnParams], ['Content inspection', contentParams], ['Milters', milterParams], ['Email authentication', authParams], ['DNS', dnsParams],
  ['DNS lists, DNS-based checks and policy services', dnsblParams], ['Lookup tables', tablesParams],
  ['Accepted without effect in Postern', noeffectParams], ['Postfix parameters for features not in Postern yet', futureParams],
];

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderParametersDoc(): string {
  const listed = new Set(AREAS.flatMap(([, decls]) => decls.map((d) => d.name)));
  const unlisted = allParams.filter((d) => !listed.has(d.name)).map((d) => d.name);
  if (unlisted.length > 0) throw new Error(`parameters in no docs section (add their file to AREAS): ${unlisted.join(', ')}`);
  let out = '# Parameters\n\nGenerated from `src/config/params/*.ts` by `npm run docs:params`; do not edit by hand.\n' +
    'Every parameter Postern reads is declared once, with its type, default and bounds. Parameters marked *Postern only* are not in Postfix.\n';
  for (const [title, decls] of AREAS) {
    if (decls.length === 0) continue;
    out += `\n## ${title}\n\n| parameter | type | default | bounds | meaning |\n|---|---|---|---|---|\n`;
    for (const d of [...decls].sort((a, b) => a.name.localeCompare(b.name))) {
      const bounds = [d.min !== undefined ? `≥ ${d.min}` : '', d.max !== undefined ? `≤ ${d.max}` : ''].filter(Boolean).join(', ');
      const notes = [d.doc, d.noEffect ? `No effect: ${d.noEffect}.` : '', d.posternOnly ? '*Postern only.*' : ''].filter(Boolean).join(' ');
      out += `| \`${d.name}\` | ${d.type} | ${d.default ? `\`${cell(d.default)}\`` : '(empty)'} | ${bounds} | ${cell(notes)} |\n`;
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write(renderParametersDoc());
