/**
 * Typed DNS results. A lookup either has records, proves the name absent (nxdomain),
 * proves the type absent (nodata), or failed temporarily (tempfail: timeout, SERVFAIL,
 * refused). Callers must treat tempfail as "try later" (4xx), never as accept or reject.
 */

export type DnsResult<T> =
  | { readonly kind: 'records'; readonly records: readonly T[]; readonly ttl: number }
  | { readonly kind: 'nxdomain' }
  | { readonly kind: 'nodata' }
  | { readonly kind: 'tempfail'; readonly reason: string };

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

export interface Dns {
  ptr(ip: string): Promise<DnsResult<string>>;
  a(name: string): Promise<DnsResult<string>>;
  aaaa(name: string): Promise<DnsResult<string>>;
  mx(name: string): Promise<DnsResult<MxRecord>>;
  txt(name: string): Promise<DnsResult<string>>;
  /** Name servers of a zone (check_*_ns_access). */
  ns(name: string): Promise<DnsResult<string>>;
}
