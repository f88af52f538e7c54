/**
 * RFC 822 quoting of an address local part, as Postfix's quote_822_local() does for
 * headers it writes (Return-Path, Delivered-To, From_) and for pipe(8)'s "q" flag: a local
 * part that is not a dot-atom is put in double quotes with '"', '\' and CR backslashed.
 * 8-bit characters are left alone (Postfix's 8-bit-clean default). A source route
 * ("@a,@b:user@dom") is kept unquoted in front. Input is an envelope address (untrusted).
 */

const SPECIALS = new Set(['(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '[', ']']);

function isDotString(local: string): boolean {
  if (local === '' || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  for (const ch of local) {
    const c = ch.codePointAt(0)!;
    if (c === 0x20 || c < 0x20 || c === 0x7f || SPECIALS.has(ch)) return false;
  }
  return true;
}

export function quote822Local(address: string): string {
  let start = 0;
  if (address.startsWith('@')) {
    const colon = address.indexOf(':');
    if (colon >= 0) start = colon + 1;
  }
  const at = address.lastIndexOf('@');
  const end = at >= start ? at : address.length;
  const local = address.slice(start, end);
  if (isDotString(local)) return address;
  return `${address.slice(0, start)}"${local.replace(/["\\\r]/g, '\\$&')}"${address.slice(end)}`;
}
