/**
 * Address resolution (Postfix's trivial-rewrite + the recipient tables). Input addresses
 * are untrusted (RCPT TO text); tables and parameters are the admin's. References:
 * ADDRESS_CLASS_README, LOCAL_RECIPIENT_README, VIRTUAL_README, aliases(5), virtual(5).
 *
 * classify(): the address class of the destination domain, in Postfix's order (local =
 * mydestination, virtual_alias_domains, virtual_mailbox_domains, relay_domains, default).
 * Domains are lower-cased and lose one trailing dot; a bare local part gets $myorigin.
 * A domain literal ("[192.0.2.1]") is local only when it is listed in mydestination.
 * Relay safety rule (never an open relay): a source route is stripped first; then a local
 * part that (unquoted) still holds "@", "%" (allow_percent_hack) or "!" (swap_bangpath)
 * is classified by that embedded destination — the right-most "@"/"%", or the site
 * before the first "!" — the way Postfix would route it. Such an address is never final:
 * "user%evil.example@ours", "evil.example!user@ours" and "\"user@evil.example\"@ours" are
 * class default (or relay when the embedded domain is in relay_domains) and fall to the
 * relay checks.
 *
 * checkRecipient(): does the recipient exist (virtual aliases first, then local users and
 * aliases / virtual mailboxes), with Postfix's 550 5.1.1 wording. postmaster (bare or at
 * any final domain) is always accepted. A table that cannot be read → 451 4.3.0.
 *
 * expand(): virtual_alias_maps first for any domain (recursive, at most 1000 levels and
 * 1000 results, an address that maps to itself is delivered as is), then per class:
 *  - local → alias_maps (aliases(5) text; values: local names, addresses; /path/Maildir/,
 *    /path/mbox and |command as allow_mail_to_files/commands permit for class alias —
 *    else bounced 5.7.1 as local(8) does; :include:/path lists are read as local(8) reads them) → the user's
 *    home_mailbox under the home directory from the passwd table, with the user's uid/gid.
 *    Postern's home_mailbox default is "Maildir/" (Postfix: "" = mbox in the spool).
 *    postmaster without an alias goes to root when Postern runs as root, else to the user
 *    Postern runs as; if that fails the copy is deferred, never dropped.
 *  - virtual_mailbox → virtual_mailbox_base + map value (trailing "/" = Maildir), uid/gid
 *    from virtual_uid_maps/virtual_gid_maps, or none (written as Postern's own user).
 *  - relay/default → a remote target. Unknown users at delivery time → bounce 5.1.1.
 * Missing alias files act as empty (many hosts have none); any other missing table makes
 * lookups fail (451 at RCPT, deferral at delivery) as a missing table does in Postfix.
 */

import { readFileSync } from 'node:fs';
import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { LookupTable } from '../tables/types.js';
import { lookupDomain } from '../tables/lookup-order.js';
import { splitAddress, normalizeDomain, stripSourceRoute, unquoteLocal } from '../protocol/address.js';
import { reply } from '../protocol/reply.js';
import { splitList } from '../config/params.js';
import type { AddressClass, AddressClassName, AddressResolver, DeliveryTarget, RecipientCheck } from './types.js';
import { splitAliasValues } from './aliases.js';
import { readIncludeFile } from './include.js';
import { TableError } from '../tables/types.js';
import { isAliasFileType } from '../tables/open.js';
import { createRouter, BUILTIN_TRANSPORT_COMMANDS, type Route } from './transport.js';

interface DomainList {
  plain: Set<string>;
  tables: LookupTable[];
}

/** Postfix's virtual_alias_recursion_limit and virtual_alias_expansion_limit defaults. */
const MAX_DEPTH = 1000;
const MAX_RESULTS = 1000;

/** A table that could not be opened: every lookup fails, so callers answer 4.3.0. */
class FailedTable implements LookupTable {
  readonly kind = 'exact' as const;
  constructor(readonly spec: string, private readonly why: string) {}
  async lookup(): Promise<string | undefined> {
    throw new Error(`${this.spec}: ${this.why}`);
  }
}

export interface ResolverDeps {
  tables: TableRegistry;
  /** The passwd database (default: unix:passwd.byname from the registry). Tests inject one. */
  passwd?: LookupTable;
  /** The uid Postern runs as (default: process.getuid()); picks postmaster's fallback mailbox. */
  uid?: number;
  /** The delivery agent (master.cf command) of a transport name; default: the built-in transports only. */
  transportCommand?: (transport: string) => string | undefined;
}

export function createResolver(params: Params, deps: ResolverDeps): AddressResolver {
  const open = (spec: string): LookupTable => {
    try {
      return deps.tables.open(spec);
    } catch (err) {
      return new FailedTable(spec, (err as Error).message);
    }
  };
  const aliasSpecs = new Set(params.list('alias_maps'));
  // alias_maps entries keep their table type's syntax; only hash-family files are aliases(5)
  // text (TableRegistry.openAliases). The same spec reached through $alias_maps in
  // local_recipient_maps is the same table.
  const openAlias = (spec: string): LookupTable | undefined => {
    try {
      return deps.tables.openAliases(spec);
    } catch (err) {
      // XXX: a missing aliases(5) file acts as empty (many hosts have none); `postern check`
      // reports it. Any other table that cannot be opened fails its lookups (4.3.0).
      if (err instanceof TableError && /does not exist/.test(err.message) && isAliasFileType(spec)) return undefined;
      return new FailedTable(spec, (err as Error).message);
    }
  };
  const tableList = (name: string): LookupTable[] =>
    params.list(name).map((spec) => (aliasSpecs.has(spec) ? openAlias(spec) : open(spec))).filter((t): t is LookupTable => !!t);
  const domainList = (name: string): DomainList => {
    const plain = new Set<string>();
    const tables: LookupTable[] = [];
    for (const item of params.list(name)) {
      if (/^[a-z0-9]+:/i.test(item)) {
        const t = aliasSpecs.has(item) ? openAlias(item) : open(item);
        if (t) tables.push(t);
      }
      else plain.add(normalizeDomain(item));
    }
    return { plain, tables };
  };

  const myorigin = normalizeDomain(params.str('myorigin'));
  const delimiter = params.str('recipient_delimiter');
  const percentHack = params.bool('allow_percent_hack');
  const bangPath = params.bool('swap_bangpath');
  const propagateVirtual = params.list('propagate_unmatched_extensions').includes('virtual');
  const parentMatch = (name: string): boolean => params.list('parent_domain_matches_subdomains').includes(name);
  const classes: [AddressClassName, DomainList, boolean][] = [
    ['local', domainList('mydestination'), false],
    ['virtual_alias', domainList('virtual_alias_domains'), false],
    ['virtual_mailbox', domainList('virtual_mailbox_domains'), false],
    ['relay', domainList('relay_domains'), parentMatch('relay_domains')],
  ];
  const localRecipientMaps = tableList('local_recipient_maps');
  // Postfix: an explicitly empty local_recipient_maps accepts every local part.
  const localMapsEmpty = params.list('local_recipient_maps').length === 0;
  const aliasMaps = tableList('alias_maps');
  const passwd = deps.passwd ?? open('unix:passwd.byname');
  const virtualAliasMaps = tableList('virtual_alias_maps');
  const virtualMailboxMaps = tableList('virtual_mailbox_maps');
  const virtualUidMaps = tableList('virtual_uid_maps');
  const virtualGidMaps = tableList('virtual_gid_maps');
  const minUid = params.int('virtual_minimum_uid');
  const mailboxBase = params.str('virtual_mailbox_base');
  const homeMailbox = params.str('home_mailbox');
  const myUid = deps.uid ?? process.getuid?.() ?? 0;
  const allowCommands = params.list('allow_mail_to_commands').map((c) => c.toLowerCase());
  const allowFiles = params.list('allow_mail_to_files').map((c) => c.toLowerCase());
  const router = createRouter(params, deps.tables);
  const commandOf = deps.transportCommand ?? ((t: string) => BUILTIN_TRANSPORT_COMMANDS[t]);
  const toTransport = (route: Route, rcpt: string, orig: string): DeliveryTarget =>
    ({ kind: 'transport', transport: route.transport, nexthop: route.nexthop, recipient: rcpt, originalRecipient: orig });

  async function inDomainList(list: DomainList, domain: string, parents: boolean): Promise<boolean> {
    if (list.plain.has(domain)) return true;
    if (parents) {
      const labels = domain.split('.');
      for (let i = 1; i < labels.length; i++) if (list.plain.has(labels.slice(i).join('.'))) return true;
    }
    for (const t of list.tables) if (await lookupDomain(t, domain, { delimiter: '', parentMatches: parents })) return true;
    return false;
  }

  /** The domain mail for this address would really go to, after routing tricks. */
  function effectiveDomain(address: string): { local: string; domain: string; tricky: boolean } {
    const a = stripSourceRoute(address.trim());
    const { local: rawLocal, domain } = splitAddress(a);
    const local = unquoteLocal(rawLocal);
    if (local.includes('@')) return { local, domain: normalizeDomain(local.slice(local.lastIndexOf('@') + 1)), tricky: true };
    if (percentHack && local.includes('%')) return { local, domain: normalizeDomain(local.slice(local.lastIndexOf('%') + 1)), tricky: true };
    if (bangPath && local.includes('!')) return { local, domain: normalizeDomain(local.slice(0, local.indexOf('!'))), tricky: true };
    return { local, domain: domain ? normalizeDomain(domain) : myorigin, tricky: false };
  }

  async function classify(address: string): Promise<AddressClass> {
    const { domain, tricky } = effectiveDomain(address);
    for (const [className, list, parents] of classes) {
      if (await inDomainList(list, domain, parents)) {
        // A routing trick that points back at us is still not a final recipient we know.
        if (tricky && className !== 'relay') return { className: 'default', domain, isFinal: false };
        return { className, domain, isFinal: className !== 'relay' };
      }
    }
    return { className: 'default', domain, isFinal: false };
  }

  /** Split "user+ext" at the first recipient_delimiter character (not at position 0). */
  function splitExt(local: string): { base: string; ext: string } {
    if (delimiter) for (let i = 1; i < local.length; i++) if (delimiter.includes(local[i]!)) return { base: local.slice(0, i), ext: local.slice(i) };
    return { base: local, ext: '' };
  }

  /** Keys for virtual(5)-style maps: user+ext@domain, user@domain, @domain (exact tables only). */
  function virtualKeys(table: LookupTable, local: string, domain: string): string[] {
    const lc = local.toLowerCase();
    if (table.kind !== 'exact') return [`${lc}@${domain}`];
    const { base } = splitExt(lc);
    return [...new Set([`${lc}@${domain}`, `${base}@${domain}`, `@${domain}`])];
  }

  /** First hit over the tables, in key order per table (Postfix asks each table in turn). */
  async function firstHit(tables: LookupTable[], keys: (t: LookupTable) => string[]): Promise<{ key: string; value: string } | undefined> {
    for (const t of tables) for (const key of keys(t)) {
      const value = await t.lookup(key);
      if (value !== undefined) return { key, value };
    }
    return undefined;
  }

  async function checkRecipient(address: string): Promise<RecipientCheck> {
    try {
      const cls = await classify(address);
      if (!cls.isFinal) return { known: true };
      const { local } = effectiveDomain(address);
      const lc = local.toLowerCase();
      const { base } = splitExt(lc);
      if (base === 'postmaster') return { known: true };
      if (await firstHit(virtualAliasMaps, (t) => virtualKeys(t, local, cls.domain))) return { known: true };
      if (cls.className === 'local') {
        if (localMapsEmpty) return { known: true };
        if (await firstHit(localRecipientMaps, (t) => (t.kind === 'exact' ? [...new Set([`${lc}@${cls.domain}`, `${base}@${cls.domain}`, lc, base])] : [`${lc}@${cls.domain}`]))) return { known: true };
        const code = params.int('unknown_local_recipient_reject_code');
        return { known: false, reply: reply(code, `${String(code)[0]}.1.1`, `<${address}>: Recipient address rejected: User unknown in local recipient table`) };
      }
      if (cls.className === 'virtual_mailbox') {
        if (await firstHit(virtualMailboxMaps, (t) => virtualKeys(t, local, cls.domain))) return { known: true };
        const code = params.int('unknown_virtual_mailbox_reject_code');
        return { known: false, reply: reply(code, `${String(code)[0]}.1.1`, `<${address}>: Recipient address rejected: User unknown in virtual mailbox table`) };
      }
      const code = params.int('unknown_virtual_alias_reject_code');
      return { known: false, reply: reply(code, `${String(code)[0]}.1.1`, `<${address}>: Recipient address rejected: User unknown in virtual alias table`) };
    } catch {
      return { known: 'tempfail', reply: reply(451, '4.3.0', `<${address}>: Temporary lookup failure`) };
    }
  }

  async function userMailbox(user: string, rcpt: string, orig: string): Promise<DeliveryTarget> {
    const pw = await passwd.lookup(user);
    if (!pw) {
      // local(8): a name that is not a UNIX user goes to fallback_transport when there is one.
      if (router.fallbackTransport) return toTransport(withNexthop(router.fallbackTransport), rcpt, orig);
      return { kind: 'bounce', recipient: rcpt, originalRecipient: orig, dsn: '5.1.1', text: `unknown user: "${user}"` };
    }
    if (router.mailboxTransport) return toTransport(withNexthop(router.mailboxTransport), rcpt, orig);
    const f = pw.split(':');
    const home = f[5] || '/';
    if (!homeMailbox.endsWith('/')) {
      return { kind: 'defer', recipient: rcpt, originalRecipient: orig, dsn: '4.3.0', text: `home_mailbox "${homeMailbox}" is an mbox file; Postern delivers to Maildir only (end it with /)` };
    }
    const path = `${home.replace(/\/+$/, '')}/${homeMailbox.replace(/^\/+/, '')}`;
    return { kind: 'maildir', via: 'local', path, uid: Number(f[2]), gid: Number(f[3]), recipient: rcpt, originalRecipient: orig };
  }

  /** local(8) hands over with $myhostname as next hop when the transport names none. */
  function withNexthop(r: Route): Route {
    return r.nexthop ? r : { transport: r.transport, nexthop: params.str('myhostname') };
  }

  /** The passwd name for our own uid (postmaster's fallback mailbox). */
  function ownUserName(): string | undefined {
    if (myUid === 0) return 'root';
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const f = line.split(':');
        if (f[0] && Number(f[2]) === myUid) return f[0];
      }
    } catch {
      /* no passwd file: deferred below */
    }
    return undefined;
  }

  interface Walk {
    seen: Set<string>;
    budget: { left: number };
    /** The envelope sender, for sender_dependent_relayhost_maps. */
    sender?: string;
  }

  /**
   * local(8): "/file", "/dir/" (Maildir) and "|command" from an alias file (class "alias") or
   * an :include: file (class "include"), if allow_mail_to_files/commands list that class.
   * Commands and file appends run with default_privs, or as the owner of a non-root
   * :include: file (`owner`).
   */
  function aliasValueTarget(val: string, rcpt: string, orig: string, cls: 'alias' | 'include', owner?: { uid: number; gid: number }): DeliveryTarget | undefined {
    const ids = owner && owner.uid !== 0 ? { uid: owner.uid, gid: owner.gid } : {};
    if (val.startsWith('/')) {
      if (!allowFiles.includes(cls)) return { kind: 'bounce', recipient: rcpt, originalRecipient: orig, dsn: '5.7.1', text: 'mail to file is restricted' };
      if (val.endsWith('/')) return { kind: 'maildir', via: 'local', path: val, recipient: rcpt, originalRecipient: orig };
      return { kind: 'file', path: val, recipient: rcpt, originalRecipient: orig, ...ids };
    }
    if (val.startsWith('|')) {
      if (!allowCommands.includes(cls)) return { kind: 'bounce', recipient: rcpt, originalRecipient: orig, dsn: '5.7.1', text: 'mail to command is restricted' };
      return { kind: 'command', command: val.slice(1), recipient: rcpt, originalRecipient: orig, ...ids };
    }
    return undefined;
  }

  /** Expand alias values (from an alias table or an :include: file) for local name `base`. */
  async function expandValues(values: string[], base: string, address: string, domain: string, orig: string, depth: number, w: Walk, cls: 'alias' | 'include', owner?: { uid: number; gid: number }): Promise<DeliveryTarget[]> {
    const out: DeliveryTarget[] = [];
    for (const v of values) {
      const val = v.replace(/^"(.*)"$/s, '$1').trim();
      if (val.toLowerCase().startsWith(':include:')) {
        const path = val.slice(':include:'.length).trim();
        if (w.seen.has(`include:${path}`) || depth > MAX_DEPTH) continue;
        const inc = await readIncludeFile(path);
        if (!inc.ok) {
          out.push({ kind: inc.status, recipient: address, originalRecipient: orig, dsn: inc.dsn, text: inc.text });
          continue;
        }
        out.push(...(await expandValues(inc.values, base, address, domain, orig, depth + 1, { ...w, seen: new Set(w.seen).add(`include:${path}`) }, 'include', inc.owner)));
        continue;
      }
      const direct = aliasValueTarget(val, address, orig, cls, owner);
      if (direct) out.push(direct);
      else if (!val.includes('@') && splitExt(val.toLowerCase()).base === base) out.push(await userMailbox(base, address, orig)); // "root: root, …" delivers to the user itself
      else out.push(...(await walk(val.includes('@') ? val : `${val}@${domain}`, orig, depth + 1, w)));
    }
    return out;
  }

  async function expandLocal(address: string, local: string, domain: string, orig: string, depth: number, w: Walk): Promise<DeliveryTarget[]> {
    const lc = local.toLowerCase();
    const { base } = splitExt(lc);
    for (const name of [...new Set([lc, base])]) {
      if (w.seen.has(`alias:${name}`)) continue;
      const hit = await firstHit(aliasMaps, () => [name]);
      if (!hit) continue;
      const seen = new Set(w.seen).add(`alias:${name}`);
      return expandValues(splitAliasValues(hit.value), base, address, domain, orig, depth, { ...w, seen }, 'alias');
    }
    if (base === 'postmaster') {
      // No postmaster alias: root (or our own user) receives it; never dropped.
      const who = ownUserName();
      if (!who) return [{ kind: 'defer', recipient: address, originalRecipient: orig, dsn: '4.3.0', text: 'no alias for postmaster and no mailbox for the Postern user' }];
      const t = await userMailbox(who, address, orig);
      return [t.kind === 'bounce' ? { kind: 'defer', recipient: address, originalRecipient: orig, dsn: '4.3.0', text: `no alias for postmaster and ${t.text}` } : t];
    }
    return [await userMailbox(base, address, orig)];
  }

  async function expandVirtualMailbox(address: string, local: string, domain: string, orig: string): Promise<DeliveryTarget[]> {
    const box = await firstHit(virtualMailboxMaps, (t) => virtualKeys(t, local, domain));
    if (!box) return [{ kind: 'bounce', recipient: address, originalRecipient: orig, dsn: '5.1.1', text: `unknown user: "${address.toLowerCase()}"` }];
    const value = box.value.trim();
    if (!value.endsWith('/')) return [{ kind: 'defer', recipient: address, originalRecipient: orig, dsn: '4.3.0', text: `virtual mailbox ${value} is an mbox file; Postern delivers to Maildir only (end it with /)` }];
    const uidHit = await firstHit(virtualUidMaps, (t) => virtualKeys(t, local, domain));
    const gidHit = await firstHit(virtualGidMaps, (t) => virtualKeys(t, local, domain));
    const uid = uidHit ? Number(uidHit.value) : undefined;
    const gid = gidHit ? Number(gidHit.value) : undefined;
    if (uid !== undefined && (!Number.isInteger(uid) || uid < minUid)) {
      return [{ kind: 'defer', recipient: address, originalRecipient: orig, dsn: '4.3.5', text: `bad uid ${uidHit!.value} in virtual_uid_maps (below virtual_minimum_uid ${minUid})` }];
    }
    if (gid !== undefined && (!Number.isInteger(gid) || gid <= 0)) {
      return [{ kind: 'defer', recipient: address, originalRecipient: orig, dsn: '4.3.5', text: `bad gid ${gidHit!.value} in virtual_gid_maps` }];
    }
    const path = mailboxBase ? `${mailboxBase.replace(/\/+$/, '')}/${value.replace(/^\/+/, '')}` : value;
    return [{ kind: 'maildir', via: 'virtual', path, uid, gid, recipient: address, originalRecipient: orig }];
  }

  async function walk(address: string, orig: string, depth: number, w: Walk): Promise<DeliveryTarget[]> {
    if (depth > MAX_DEPTH || --w.budget.left < 0) return [{ kind: 'bounce', recipient: address, originalRecipient: orig, dsn: '5.4.6', text: 'alias expansion limit exceeded (loop?)' }];
    const cls = await classify(address);
    const { local, domain, tricky } = effectiveDomain(address);
    const key = `${local.toLowerCase()}@${domain}`;
    if (!tricky && !w.seen.has(key)) {
      const va = await firstHit(virtualAliasMaps, (t) => virtualKeys(t, local, domain));
      if (va) {
        const seen = new Set(w.seen).add(key);
        const { ext } = splitExt(local);
        // propagate_unmatched_extensions=virtual: user+ext matched as user → results get +ext.
        const addExt = propagateVirtual && ext && va.key !== key ? ext : '';
        const out: DeliveryTarget[] = [];
        for (const v of splitList(va.value)) {
          const p = splitAddress(v);
          const next = addExt && p.domain ? `${p.local}${addExt}@${p.domain}` : v;
          out.push(...(await walk(next, orig, depth + 1, { ...w, seen })));
        }
        return out;
      }
    }
    if (cls.className === 'virtual_alias') return [{ kind: 'bounce', recipient: address, originalRecipient: orig, dsn: '5.1.1', text: `unknown user: "${address.toLowerCase()}"` }];
    const route = await router.route(`${local}@${domain}`, cls.className, w.sender);
    const command = commandOf(route.transport);
    // An unknown transport is still a transport target: the scheduler defers it as Postfix's qmgr does.
    if (cls.className === 'local' && command === 'local') return expandLocal(address, local, domain, orig, depth, w);
    if (cls.className === 'virtual_mailbox' && command === 'virtual') return expandVirtualMailbox(address, local, domain, orig);
    if (command === 'local' || command === 'virtual') {
      // local/virtual for a domain that is not ours (a transport_maps entry): Postfix would bounce it as unknown.
      return [{ kind: 'bounce', recipient: address, originalRecipient: orig, dsn: '5.1.1', text: `unknown user: "${address.toLowerCase()}"` }];
    }
    return [toTransport(route, address, orig)];
  }

  return { classify, checkRecipient, expand: (a, opts) => walk(a, a, 0, { seen: new Set(), budget: { left: MAX_RESULTS }, sender: opts?.sender }) };
}
