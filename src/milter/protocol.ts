/**
 * The Sendmail milter protocol's vocabulary (libmilter's mfdef.h, protocol version 6 as
 * Postfix speaks it): packet framing, command and reply codes, the action and protocol
 * flags exchanged at option negotiation, and the decoding of a milter's replies. Pure
 * functions over Buffers; connection.ts does the I/O.
 *
 * Wire format: each packet is a 4-byte big-endian length (counting the command byte),
 * one command byte, then the data; strings are NUL-terminated.
 * Trust: replies come from a configured milter, but every length and string is checked,
 * so a broken milter yields an error, never an exception deep in cleanup.
 */

/** Commands the MTA sends (SMFIC_*). */
export const CMD = {
  abort: 'A', body: 'B', connect: 'C', macro: 'D', eob: 'E', helo: 'H', quitNc: 'K', header: 'L',
  mail: 'M', eoh: 'N', optneg: 'O', quit: 'Q', rcpt: 'R', data: 'T', unknown: 'U',
} as const;
export type Command = (typeof CMD)[keyof typeof CMD];

/** Human names for log lines, as Postfix's milter8.c names them. */
export const CMD_NAME: Record<string, string> = {
  A: 'SMFIC_ABORT', B: 'SMFIC_BODY', C: 'SMFIC_CONNECT', D: 'SMFIC_MACRO', E: 'SMFIC_BODYEOB', H: 'SMFIC_HELO',
  K: 'SMFIC_QUIT_NC', L: 'SMFIC_HEADER', M: 'SMFIC_MAIL', N: 'SMFIC_EOH', O: 'SMFIC_OPTNEG', Q: 'SMFIC_QUIT',
  R: 'SMFIC_RCPT', T: 'SMFIC_DATA', U: 'SMFIC_UNKNOWN',
};

/** Action flags (SMFIF_*): what the MTA lets the milter change. */
export const ACT = {
  addHeaders: 0x01, changeBody: 0x02, addRcpt: 0x04, delRcpt: 0x08, changeHeaders: 0x10,
  quarantine: 0x20, changeFrom: 0x40, addRcptPar: 0x80, setSymList: 0x100,
} as const;
export const ALL_ACTIONS = 0x1ff;

/** Protocol flags (SMFIP_*): steps the milter does not want, or will not answer. */
export const PROTO = {
  noConnect: 0x1, noHelo: 0x2, noMail: 0x4, noRcpt: 0x8, noBody: 0x10, noHeaders: 0x20, noEoh: 0x40,
  noReplyHeader: 0x80, noUnknown: 0x100, noData: 0x200, skip: 0x400, rcptRejected: 0x800,
  noReplyConnect: 0x1000, noReplyHelo: 0x2000, noReplyMail: 0x4000, noReplyRcpt: 0x8000,
  noReplyData: 0x10000, noReplyUnknown: 0x20000, noReplyEoh: 0x40000, noReplyBody: 0x80000, headerLeadingSpace: 0x100000,
} as const;
/**
 * What Postern offers: every "don't send" and "no reply" step, and SKIP. Not RCPT_REJ
 * (Postern never shows a milter the recipients it refused) nor HDR_LEADSPC (headers are
 * sent with the space after the colon removed, and added headers get one, as Sendmail does).
 */
export const OFFERED_PROTOCOL = 0x1fffff & ~PROTO.rcptRejected & ~PROTO.headerLeadingSpace;

/** Which protocol flag means "don't send", and which "no reply", for each command. */
export const SKIP_FLAG: Partial<Record<Command, number>> = {
  C: PROTO.noConnect, H: PROTO.noHelo, M: PROTO.noMail, R: PROTO.noRcpt, B: PROTO.noBody, L: PROTO.noHeaders,
  N: PROTO.noEoh, U: PROTO.noUnknown, T: PROTO.noData,
};
export const NOREPLY_FLAG: Partial<Record<Command, number>> = {
  C: PROTO.noReplyConnect, H: PROTO.noReplyHelo, M: PROTO.noReplyMail, R: PROTO.noReplyRcpt, B: PROTO.noReplyBody,
  L: PROTO.noReplyHeader, N: PROTO.noReplyEoh, U: PROTO.noReplyUnknown, T: PROTO.noReplyData,
};

/** Macro stages in SMFIR_SETSYMLIST (SMFIM_*). */
export const MACRO_STAGE = ['connect', 'helo', 'mail', 'rcpt', 'data', 'eom', 'eoh'] as const;
export type MacroStage = (typeof MACRO_STAGE)[number];

/** Largest body chunk in one SMFIC_BODY packet (MILTER_CHUNK_SIZE). */
export const BODY_CHUNK = 65535;
/** Largest packet Postern accepts from a milter (a replaced body comes in chunks of this size). */
export const MAX_PACKET = 1024 * 1024;

export function packet(cmd: string, ...parts: (string | Buffer)[]): Buffer {
  const data = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(data.length + 1, 0);
  head.write(cmd, 4, 'latin1');
  return Buffer.concat([head, data]);
}

export const z = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

/** SMFIC_OPTNEG: version, actions, protocol flags. */
export function optneg(version: number, actions: number, protocol: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(version >>> 0, 0);
  b.writeUInt32BE(actions >>> 0, 4);
  b.writeUInt32BE(protocol >>> 0, 8);
  return packet(CMD.optneg, b);
}

/** SMFIC_MACRO for the command that follows: "{name}" NUL value NUL pairs. */
export function macroPacket(forCmd: Command, macros: readonly (readonly [string, string])[]): Buffer {
  return packet(CMD.macro, forCmd, ...macros.flatMap(([n, v]) => [z(n), z(v)]));
}

/** SMFIC_CONNECT: host name, family ('4', '6', 'U' or 'L' unknown), port, address. */
export function connectPacket(hostname: string, addr: string, port: number): Buffer {
  if (!addr) return packet(CMD.connect, z(hostname), 'U');
  const family = addr.includes(':') ? '6' : '4';
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port & 0xffff, 0);
  return packet(CMD.connect, z(hostname), family, p, z(addr));
}

/** One packet read from a milter. */
export interface Packet {
  readonly cmd: string;
  readonly data: Buffer;
}

/** Splits the byte stream from a milter into packets. */
export class PacketReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** The next whole packet, undefined when more bytes are needed; throws on a bad length. */
  next(): Packet | undefined {
    if (this.buf.length < 4) return undefined;
    const len = this.buf.readUInt32BE(0);
    if (len < 1 || len > MAX_PACKET) throw new Error(`bad packet length ${len}`);
    if (this.buf.length < 4 + len) return undefined;
    const p = { cmd: String.fromCharCode(this.buf[4]!), data: this.buf.subarray(5, 4 + len) };
    this.buf = this.buf.subarray(4 + len);
    return p;
  }
}

/** NUL-terminated strings of a packet's data (a missing final NUL is tolerated). */
export function strings(data: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      out.push(data.subarray(start, i).toString('utf8'));
      start = i + 1;
    }
  }
  if (start < data.length) out.push(data.subarray(start).toString('utf8'));
  return out;
}

/** The milter's answer to SMFIC_OPTNEG. */
export interface Negotiated {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
  /** Macros the milter asked for per stage (SMFIR_SETSYMLIST data), replacing ours. */
  readonly macros: Partial<Record<MacroStage, string[]>>;
}

export function parseOptneg(p: Packet): Negotiated {
  if (p.cmd !== CMD.optneg || p.data.length < 12) throw new Error(`unexpected reply "${p.cmd}" to SMFIC_OPTNEG`);
  const version = p.data.readUInt32BE(0);
  const actions = p.data.readUInt32BE(4);
  const protocol = p.data.readUInt32BE(8);
  const macros: Partial<Record<MacroStage, string[]>> = {};
  let off = 12;
  while (off + 4 < p.data.length) {
    const stage = MACRO_STAGE[p.data.readUInt32BE(off)];
    const end = p.data.indexOf(0, off + 4);
    const list = p.data.subarray(off + 4, end < 0 ? p.data.length : end).toString('utf8');
    if (stage) macros[stage] = list.split(/[\s,]+/).filter(Boolean);
    off = end < 0 ? p.data.length : end + 1;
  }
  return { version, actions, protocol, macros };
}

/** A milter's reply to one command, decoded. */
export type MilterReply =
  | { readonly kind: 'continue' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'tempfail' }
  | { readonly kind: 'discard' }
  | { readonly kind: 'skip' }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'connfail' }
  | { readonly kind: 'replycode'; readonly text: string };

/** An end-of-message modification (SMFIR_* before the final reply). */
export type Modification =
  | { readonly kind: 'addheader'; readonly name: string; readonly value: string }
  | { readonly kind: 'insheader'; readonly index: number; readonly name: string; readonly value: string }
  | { readonly kind: 'chgheader'; readonly index: number; readonly name: string; readonly value: string }
  | { readonly kind: 'addrcpt'; readonly address: string; readonly args?: string }
  | { readonly kind: 'delrcpt'; readonly address: string }
  | { readonly kind: 'chgfrom'; readonly address: string; readonly args?: string }
  | { readonly kind: 'replbody'; readonly chunk: Buffer }
  | { readonly kind: 'quarantine'; readonly reason: string };

/** Decode a packet as a final reply, a modification, or 'progress'; throws on anything else. */
export function decodeReply(p: Packet): MilterReply | Modification | { readonly kind: 'progress' } {
  const s = (): string[] => strings(p.data);
  const indexed = (): { index: number; name: string; value: string } => {
    if (p.data.length < 4) throw new Error(`short "${p.cmd}" packet`);
    const [name = '', value = ''] = strings(p.data.subarray(4));
    return { index: p.data.readUInt32BE(0), name, value };
  };
  switch (p.cmd) {
    case 'c': return { kind: 'continue' };
    case 'a': return { kind: 'accept' };
    case 'r': return { kind: 'reject' };
    case 't': return { kind: 'tempfail' };
    case 'd': return { kind: 'discard' };
    case 's': return { kind: 'skip' };
    case '4': return { kind: 'shutdown' };
    case 'f': return { kind: 'connfail' };
    case 'p': return { kind: 'progress' };
    case 'y': return { kind: 'replycode', text: s()[0] ?? '' };
    case 'h': { const [name = '', value = ''] = s(); return { kind: 'addheader', name, value }; }
    case 'i': return { kind: 'insheader', ...indexed() };
    case 'm': return { kind: 'chgheader', ...indexed() };
    case '+': return { kind: 'addrcpt', address: s()[0] ?? '' };
    case '2': { const [address = '', args] = s(); return { kind: 'addrcpt', address, args }; }
    case '-': return { kind: 'delrcpt', address: s()[0] ?? '' };
    case 'e': { const [address = '', args] = s(); return { kind: 'chgfrom', address, args }; }
    case 'b': return { kind: 'replbody', chunk: Buffer.from(p.data) };
    case 'q': return { kind: 'quarantine', reason: s()[0] ?? '' };
    default: throw new Error(`unexpected reply code "${p.cmd}"`);
  }
}

/** Final replies end a command's answer; everything else is a modification or progress. */
export function isFinal(r: { kind: string }): r is MilterReply {
  return ['continue', 'accept', 'reject', 'tempfail', 'discard', 'skip', 'shutdown', 'connfail', 'replycode'].includes(r.kind);
}
