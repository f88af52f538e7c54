/**
 * Address resolution (Postfix's trivial-rewrite + the recipient tables).
 *
 * classify(): the address class of the destination domain. Relay safety rule: a source
 * route is stripped first; then a local part that still holds "@", "%" (allow_percent_hack)
 * or "!" (swap_bangpath) is classified by that embedded destination — the way Postfix
 * would route it — so "user%evil.example@ours", "evil.example!user@ours" and
 * "\"user@evil.example\"@ours" are NOT final and fall to the relay checks.
 *
 * checkRecipient(): does the recipient exist (virtual aliases, local users and aliases,
 * virtual mailboxes), with Postfix's 550 5.1.1 wording. postmaster is always accepted.
 *
 * expand(): virtual aliases, then per class: local → aliases → the user's home_mailbox;
 * virtual mailbox → virtual_mailbox_base + map value; others → remote.
 */

import type { Params } from '../config/types.js';
import type { TableRegistry } from '../tables/open.js';
import type { LookupTable } from '../tables/types.js';
import { TableError } from '../tables/types.js';
import { lookupDomain } from '../tables/lookup-order.js';
import { splitAddress, normalizeDomain, stripSourceRoute, unquoteLocal, isDomainLiteral } from '../protocol/address.js';
import { reply } from '../protocol/reply.js';
import { splitList } from '../config/params.js';
import type { AddressClass, AddressClassName, AddressResolver, DeliveryTarget, RecipientCheck } from './types.js';
import { AliasTable, splitAliasValues } from './aliases.js';

interface DomainList {
  plain: Set<string>;
  tables: LookupTable[];
}

const MAX_DEPTH = 100;

export function createResolver(params: Params, deps: { tables: TableRegistry }): AddressResolver {
  const open = (spec: string): LookupTable | undefined => {
    try {
      return deps.tables.open(spec);
    } catch (err) {
      if (err instanceof TableError && /does not exist/.test(err.message)) return undefined; // XXX: a missing table acts as empty; `postern check` reports it
      throw err;
    }
  };
  const aliasSpecs = new Set(params.list('alias_maps'));
  const aliasCache = new Map<string, LookupTable | undefined>();
  const openAlias = (spec: string): LookupTable | undefined => {
    if (!aliasCache.has(spec)) {
      const file = spec.replace(/^(proxy:)*[a-z]+:/, '');
      let t: LookupTable | undefined;
      try {
        t = new AliasTable(spec, file);
      } catch {
        t = undefined;
      }
      aliasCache.set(spec, t);
    }
    return aliasCache.get(spec);
  };
  const tableList = (name: string): LookupTable[] =>
    params.list(name).map((spec) => (aliasSpecs.has(spec) ? openAlias(spec) : open(spec))).filter((t): t is LookupTable => !!t);
  const domainList = (name: string): DomainList => {
    const plain = new Set<string>();
    const tables: LookupTable[] = [];
    for (const item of params.list(name)) {
      if (/^[a-z]+:/i.test(item) && !isDomainLiteral(item)) {
        const t = open(item);
        if (t) tables.push(t);
      } else plain.add(normalizeDomain(item));
    }
    return { plain, tables };
  };

  const myorigin = normalizeDomain(params.str('myorigin'));
  const delimiter = params.str('recipient_delimiter');
  const percentHack = params.bool('allow_percent_hack');
  const bangPath = params.bool('swap_bangpath');
  const parentMatch = (name: string): boolean => params.list('parent_domain_matches_subdomains').includes(name);
  const classes: [AddressClassName, DomainList, boolean][] = [
    ['local', domainList('mydestination'), false],
    ['virtual_alias', domainList('virtual_alias_domains'), false],
    ['virtual_mailbox', domainList('virtual_mailbox_domains'), false],
    ['relay', domainList('relay_domains'), parentMatch('relay_domains')],
  ];
  const localRecipientMaps = tableList('local_recipient_maps');
  const localMapsEmpty = params.isSet('local_recipient_maps') && params.str('local_recipient_maps') === '';
  const aliasMaps = tableList('alias_maps');
  const passwd = open('unix:passwd.byname');
  const virtualAliasMaps = tableList('virtual_alias_maps');
  const virtualMailboxMaps = tableList('virtual_mailbox_maps');
  const virtualUidMaps = tableList('virtual_uid_maps');
  const virtualGidMaps = tableList('virtual_gid_maps');
  const mailboxBase = params.str('virtual_mailbox_base');
  const homeMailbox = params.str('home_mailbox');

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

  function baseLocal(local: string): string {
    if (!delimiter) return local;
    for (let i = 1; i < local.length; i++) if (delimiter.includes(local[i]!)) return local.slice(0, i);
    return local;
  }

  /** Keys for virtual(5)-style maps: user+ext@domain, user@domain, @domain. */
  function virtualKeys(local: string, domain: string): string[] {
    const lc = local.toLowerCase();
    const base = baseLocal(lc);
    return [...new Set([`${lc}@${domain}`, `${base}@${domain}`, `@${domain}`])];
  }

  async function firstHit(tables: LookupTable[], keys: string[]): Promise<string | undefined> {
    for (const key of keys) for (const t of tables) {
      const v = await t.lookup(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  async function checkRecipient(address: string): Promise<RecipientCheck> {
    const cls = await classify(address);
    if (!cls.isFinal) return { known: true };
    const { local } = effectiveDomain(address);
    const lc = local.toLowerCase();
    const base = baseLocal(lc);
    if (base === 'postmaster') return { known: true };
    try {
      if (await firstHit(virtualAliasMaps, virtualKeys(local, cls.domain))) return { known: true };
      if (cls.className === 'local') {
        if (localMapsEmpty) return { known: true };
        if (await firstHit(localRecipientMaps, [`${lc}@${cls.domain}`, `${base}@${cls.domain}`, lc, base])) return { known: true };
        const code = params.int('unknown_local_recipient_reject_code');
        return { known: false, reply: reply(code, '5.1.1', `<${address}>: Recipient address rejected: User unknown in local recipient table`) };
      }
      if (cls.className === 'virtual_mailbox') {
        if (await firstHit(virtualMailboxMaps, virtualKeys(local, cls.domain))) return { known: true };
        const code = params.int('unknown_virtual_mailbox_reject_code');
        return { known: false, reply: reply(code, '5.1.1', `<${address}>: Recipient address rejected: User unknown in virtual mailbox table`) };
      }
      const code = params.int('unknown_virtual_alias_reject_code');
      return { known: false, reply: reply(code, '5.1.1', `<${address}>: Recipient address rejected: User unknown in virtual alias table`) };
    } catch (err) {
      return { known: 'tempfail', reply: reply(451, '4.3.0', `<${address}>: Temporary lookup failure`) };
    }
  }

  async function expandLocalUser(user: string, rcpt: string, orig: string): Promise<DeliveryTarget[]> {
    const pw = passwd ? await passwd.lookup(user) : undefined;
    if (!pw) {
      return [{ kind: 'bounce', recipient: rcpt, originalRecipient: orig, dsn: '5.1.1', text: `unknown user: "${user}"` }];
    }
    const f = pw.split(':');
    const home = f[5] ?? '/';
    if (!homeMailbox.endsWith('/')) {
      return [{ kind: 'defer', recipient: rcpt, originalRecipient: orig, dsn: '4.3.0', text: `home_mailbox "${homeMailbox}" is an mbox file; Postern delivers to Maildir only (end it with /)` }];
    }
    const path = homeMailbox.startsWith('/') ? homeMailbox : `${home.replace(/\/$/, '')}/${homeMailbox}`;
    return [{ kind: 'maildir', via: 'local', path, uid: Number(f[2]), gid: Number(f[3]), recipient: rcpt, originalRecipient: orig }];
  }

  async function expand(address: string, orig = address, depth = 0, seen = new Set<string>()): Promise<DeliveryTarget[]> {
    if (depth > MAX_DEPTH) return [{ kind: 'bounce', recipient: address, originalRecipient: orig, dsn: '5.4.6', text: 'alias expansion too deep (loop?)' }];
    const cls = await classify(address);
    const { local, domain } = effectiveDomain(address);
    const key = `${local.toLowerCase()}@${domain}`;
    if (cls.isFinal && !seen.has(key)) {
      const va = await firstHit(virtualAliasMaps, virtualKeys(local, domain));
      if (va !== undefined) {
        const next = new Set(seen).add(key);
        const out: DeliveryTarget[] = [];
        for (const v of splitList(va)) out.push(...(await expand(v, orig, depth + 1, next)));
        return out;
      }
    }
    if (cls.className === 'local') {
      const base = baseLocal(local.toLowerCase());
      if (!seen.has(`alias:${base}`)) {
        const alias = await firstHit(aliasMaps, [base]);
        if (alias !== undefined) {
          const next = new Set(seen).add(`alias:${base}`).add(key);
          const out: DeliveryTarget[] = [];
          for (const v of splitAliasValues(alias)) {
            const val = v.replace(/^"(.*)"$/, '$1');
            if (val.startsWith('/') && val.endsWith('/')) out.push({ kind: 'maildir', via: 'local', path: val, recipient: address, originalRecipient: orig });
            else if (val.startsWith('/')) out.push({ kind: 'defer', recipient: address, originalRecipient: orig, dsn: '4.3.0', text: `alias ${base}: delivery to mbox file ${val} is not supported yet` });
            else if (val.startsWith('|') || val.startsWith(':include:')) out.push({ kind: 'defer', recipient: address, originalRecipient: orig, dsn: '4.3.0', text: `alias ${base}: ${val.startsWith('|') ? 'delivery to a command' : ':include: lists'} not supported yet` });
            else if (val.toLowerCase() === base) out.push(...(await expandLocalUser(base, address, orig)));
            else out.push(...(await expand(val.includes('@') ? val : `${val}@${domain}`, orig, depth + 1, next)));
          }
          return out;
        }
      }
      // postmaster without an alias goes to root, as Postfix's stock aliases file does.
      return expandLocalUser(base === 'postmaster' ? 'root' : base, address, orig);
    }
    if (cls.className === 'virtual_mailbox') {
      const keys = virtualKeys(local, domain);
      const box = await firstHit(virtualMailboxMaps, keys);
      if (box === undefined) return [{ kind: 'bounce', recipient: address, originalRecipient: orig, dsn: '5.1.1', text: `unknown user: "${address}"` }];
      if (!box.endsWith('/')) return [{ kind: 'defer', recipient: address, originalRecipient: orig, dsn: '4.3.0', text: `virtual mailbox ${box} is an mbox file; Postern delivers to Maildir only (end it with /)` }];
      const uid = await firstHit(virtualUidMaps, keys);
      const gid = await firstHit(virtualGidMaps, keys);
      const path = box.startsWith('/') && !mailboxBase ? box : `${mailboxBase.replace(/\/$/, '')}/${box.replace(/^\//, '')}`;
      return [{ kind: 'maildir', via: 'virtual', path, uid: uid !== undefined ? Number(uid) : undefined, gid: gid !== undefined ? Number(gid) : undefined, recipient: address, originalRecipient: orig }];
    }
    if (cls.className === 'virtual_alias') return [{ kind: 'bounce', recipient: address, originalRecipient: orig, dsn: '5.1.1', text: `unknown user: "${address}"` }];
    return [{ kind: 'remote', recipient: address, originalRecipient: orig }];
  }

  return { classify, checkRecipient, expand: (a) => expand(a) };
}
