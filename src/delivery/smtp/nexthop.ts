/**
 * Next-hop syntax of Postfix's smtp(8) and lmtp(8): what routing hands the agent, turned
 * into destinations to connect to.
 *
 *   example.com            MX lookup (SMTP only), port smtp_tcp_port
 *   example.com:587        MX lookup, port 587
 *   [mx.example.com]:587   no MX lookup: the host's own addresses
 *   [192.0.2.1], [ipv6:2001:db8::1]:25, [2001:db8::1]
 *   inet:host:port         LMTP style; the "inet:" prefix is accepted by both clients
 *   unix:/run/dovecot/lmtp, unix:private/dovecot-lmtp (relative to queue_directory)
 *
 * LMTP never looks up MX records (lmtp(8)). A next hop may be a list ("a, b"): each is tried
 * in turn, as Postfix does. Input comes from the admin's configuration; errors are returned
 * as text for a "configuration problem" deferral, never thrown.
 */

import { isAbsolute, join } from 'node:path';
import { isIP } from 'node:net';

export type Destination =
  | { readonly kind: 'unix'; readonly path: string; readonly written: string }
  | {
      readonly kind: 'inet';
      /** Host name or address to look up / connect to (brackets and "ipv6:" removed). */
      readonly host: string;
      readonly port: number;
      /** Look up MX records for host (SMTP, not bracketed). */
      readonly mx: boolean;
      /** The next hop as written ("[mx.example]:587"): the connection cache and TLS policy key. */
      readonly written: string;
    };

const SERVICES: Record<string, number> = { smtp: 25, lmtp: 24, submission: 587, smtps: 465, submissions: 465 };

/** "25" or a service name → port number; undefined when neither. */
export function servicePort(s: string): number | undefined {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n > 0 && n < 65536 ? n : undefined;
  }
  return SERVICES[s.toLowerCase()];
}

export interface NexthopOptions {
  readonly lmtp: boolean;
  /** smtp_tcp_port / lmtp_tcp_port, already resolved to a number. */
  readonly defaultPort: number;
  /** Base for relative unix: paths (queue_directory). */
  readonly queueDirectory: string;
}

/** One next hop (not a list). */
export function parseDestination(text: string, opts: NexthopOptions): Destination | { error: string } {
  let s = text.trim();
  if (!s) return { error: 'empty next-hop destination' };
  if (/^unix:/i.test(s)) {
    const path = s.slice(5);
    if (!path) return { error: `bad next-hop destination "${text}": no socket path` };
    return { kind: 'unix', path: isAbsolute(path) ? path : join(opts.queueDirectory, path), written: path };
  }
  if (/^inet:/i.test(s)) s = s.slice(5);
  let host: string;
  let portText: string | undefined;
  let bracketed = false;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return { error: `bad next-hop destination "${text}": missing "]"` };
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest && !rest.startsWith(':')) return { error: `bad next-hop destination "${text}"` };
    portText = rest ? rest.slice(1) : undefined;
    bracketed = true;
    if (/^ipv6:/i.test(host)) host = host.slice(5);
  } else {
    // A bare IPv6 address cannot carry a port without brackets; take it whole.
    if (isIP(s) === 6) {
      host = s;
    } else {
      const colon = s.lastIndexOf(':');
      host = colon < 0 ? s : s.slice(0, colon);
      portText = colon < 0 ? undefined : s.slice(colon + 1);
    }
  }
  if (!host) return { error: `bad next-hop destination "${text}": no host` };
  let port = opts.defaultPort;
  if (portText !== undefined) {
    const p = servicePort(portText);
    if (p === undefined) return { error: `bad next-hop destination "${text}": unknown port or service "${portText}"` };
    port = p;
  }
  const literal = isIP(host) !== 0;
  return { kind: 'inet', host: host.replace(/\.$/, ''), port, mx: !opts.lmtp && !bracketed && !literal, written: s };
}

/** A next-hop list ("a, b" or "a b") → destinations, or the first error. */
export function parseNexthop(text: string, opts: NexthopOptions): Destination[] | { error: string } {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return { error: 'empty next-hop destination' };
  const out: Destination[] = [];
  for (const p of parts) {
    const d = parseDestination(p, opts);
    if ('error' in d) return d;
    out.push(d);
  }
  return out;
}
