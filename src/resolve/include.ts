/**
 * ":include:/path" lists (aliases(5)): the file holds alias values — addresses, local
 * names, "|command", "/file" — one or more per line, separated by commas; lines that begin
 * with "#" are comments, blank lines are skipped (Postfix reads such a file line by line:
 * no continuation lines). "Name <addr>" gives addr. The resolver expands each value as it
 * would the right-hand side of an alias, with allow_mail_to_commands/files class
 * "include", and deliveries to commands/files from a file not owned by root run with the
 * file owner's rights (returned as `owner`).
 *
 * The file is the admin's or a list owner's: checked as local(8) checks it — an absolute
 * path, a regular file, not world-writable — with Postfix's outcome for each problem:
 * "mail system configuration error", bounced 5.3.5 (a read error defers 4.3.0), plus a
 * warning for the log.
 */

import { readFile, stat } from 'node:fs/promises';
import { splitAliasValues } from './aliases.js';
import { strerror } from '../log/strerror.js';

export type IncludeResult =
  | { readonly ok: true; readonly values: string[]; readonly owner: { readonly uid: number; readonly gid: number } }
  | { readonly ok: false; readonly status: 'bounce' | 'defer'; readonly dsn: string; readonly text: string; readonly warning: string };

const why = (e: unknown): string => strerror(e);

/** The values in an include file's text, in order. */
export function parseIncludeText(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    for (const v of splitAliasValues(line.replace(/\r$/, ''))) {
      const angle = /^[^"<]*<([^<>]*)>\s*$/.exec(v); // "Name <addr>" → addr
      const value = angle ? angle[1]!.trim() : v;
      if (value) out.push(value);
    }
  }
  return out;
}

export async function readIncludeFile(path: string): Promise<IncludeResult> {
  const config = (warning: string): IncludeResult => ({ ok: false, status: 'bounce', dsn: '5.3.5', text: 'mail system configuration error', warning });
  if (!path.startsWith('/')) return config(`:include:${path} uses a relative path`);
  let st;
  try {
    st = await stat(path); // a symlink to the list is allowed, as in Postfix
  } catch (e) {
    return config(`unable to lookup :include: file ${path}: ${why(e)}`);
  }
  if (!st.isFile()) return config(`:include: file ${path} is not a regular file`);
  if (st.mode & 0o002) return config(`:include: file ${path} is world writable`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EACCES' || err.code === 'ENOENT') return config(`cannot open include file ${path}: ${why(e)}`);
    return { ok: false, status: 'defer', dsn: '4.3.0', text: `error reading forwarding file: ${why(e)}`, warning: `cannot read include file ${path}: ${why(e)}` };
  }
  return { ok: true, values: parseIncludeText(text), owner: { uid: st.uid, gid: st.gid } };
}
