/**
 * Address resolution (Postfix's trivial-rewrite plus the recipient tables): which address
 * class a domain is in, whether a recipient exists, and where a message for it goes.
 * Used by policy/ (reject_unlisted_recipient, reject_unauth_destination) and scheduler/.
 */

import type { Reply } from '../protocol/reply.js';

/** Postfix's address classes (ADDRESS_CLASS_README). */
export type AddressClassName = 'local' | 'virtual_alias' | 'virtual_mailbox' | 'relay' | 'default';

export interface AddressClass {
  readonly className: AddressClassName;
  /** Lower-cased domain part ("" for a bare local part; "[1.2.3.4]" for literals). */
  readonly domain: string;
  /** Postern itself is the final destination (local, virtual alias, virtual mailbox). */
  readonly isFinal: boolean;
}

export type RecipientCheck =
  | { readonly known: true }
  | { readonly known: false; readonly reply: Reply }
  | { readonly known: 'tempfail'; readonly reply: Reply };

/** Where one recipient's copy goes after alias expansion. */
export type DeliveryTarget =
  | { readonly kind: 'maildir'; readonly via: 'local' | 'virtual'; readonly path: string; readonly uid?: number; readonly gid?: number; readonly recipient: string; readonly originalRecipient: string }
  | { readonly kind: 'remote'; readonly recipient: string; readonly originalRecipient: string }
  /** Routed to a master.cf transport (smtp, lmtp, pipe, discard, error) and next hop. */
  | { readonly kind: 'transport'; readonly transport: string; readonly nexthop: string; readonly recipient: string; readonly originalRecipient: string }
  /** local(8) alias to "|command": run with the shell as uid/gid (default_privs for alias files). */
  | { readonly kind: 'command'; readonly command: string; readonly uid?: number; readonly gid?: number; readonly home?: string; readonly recipient: string; readonly originalRecipient: string }
  /** local(8) alias to "/path/file": append in mbox format (a path ending in "/" is Maildir, kind maildir). */
  | { readonly kind: 'file'; readonly path: string; readonly uid?: number; readonly gid?: number; readonly recipient: string; readonly originalRecipient: string }
  | { readonly kind: 'bounce'; readonly recipient: string; readonly originalRecipient: string; readonly dsn: string; readonly text: string }
  | { readonly kind: 'defer'; readonly recipient: string; readonly originalRecipient: string; readonly dsn: string; readonly text: string };

export interface AddressResolver {
  classify(address: string): Promise<AddressClass>;
  /** Does this recipient exist (local users, aliases, virtual maps)? Builds Postfix's 550 5.1.1 wording. */
  checkRecipient(address: string): Promise<RecipientCheck>;
  /** Expand aliases/virtual aliases and return where each copy is delivered. */
  expand(address: string, opts?: { sender?: string }): Promise<DeliveryTarget[]>;
}
