/**
 * What header_checks, mime_header_checks, nested_header_checks and body_checks look at, in
 * message order (Postfix's cleanup(8) with mime_state), plus every original byte kept in
 * "pieces" so IGNORE / REPLACE / PREPEND can rebuild the message around the lines they touch.
 *
 * In: the message as received (CRLF, dot-unstuffed). Out: items (logical headers with their
 * class, body lines) and pieces. Untrusted input: the MIME structure comes from
 * @zone-eu/mailsplit (byte-exact, bounded by maxChildNodes and maxHeadSize); a message it
 * cannot split is inspected as Postfix does with disable_mime_input_processing.
 *
 * Decoding (on unless postern_mime_decode_checks = no): header values are RFC 2047 decoded
 * (libmime); text/* leaf parts are transfer-decoded (base64, quoted-printable: the
 * splitter's own decoders, RFC 2045 §6) and converted to UTF-8 from their charset (charset.ts);
 * text/html parts are matched on their text (html-to-text). Other parts (attachments) are
 * matched on their raw lines, as in Postfix, so rules written against base64 signatures work.
 */

import type { MimeNode, SplitterChunk } from '@zone-eu/mailsplit';
import type { Transform } from 'node:stream';
import { splitMessage } from '../headers.js';
import { decodeCharset } from './charset.js';

export type HeaderClass = 'header' | 'mime' | 'nested';

/** One unit of original bytes; edits are attached here and applied by rebuild(). */
export interface Piece {
  bytes: Buffer;
  /** Lines (without line ends) inserted before the piece (PREPEND). */
  before?: string[];
  /** Replacement line (REPLACE), or null to delete the piece (IGNORE). */
  replace?: string | null;
}

export interface HeaderItem {
  readonly kind: 'header';
  readonly cls: HeaderClass;
  /** Index into pieces of the logical header (first line and continuations). */
  readonly piece: number;
  /** The logical header, unfolded, as text to match: decoded when decoding is on. */
  readonly text: string;
  /** The logical header, unfolded, raw bytes read as UTF-8 (what Postfix matches). */
  readonly rawText: string;
}

export interface BodyItem {
  readonly kind: 'body';
  readonly text: string;
  /** The raw line's piece; undefined for a line of a decoded part (it has no raw line of its own). */
  readonly piece?: number;
}

export type ContentItem = HeaderItem | BodyItem;

export interface WalkOptions {
  /** false: disable_mime_input_processing = yes (one header section, then raw body lines). */
  readonly mime: boolean;
  /** postern_mime_decode_checks. */
  readonly decode: boolean;
  /** body_checks_size_limit: raw bytes of each body part that are inspected. */
  readonly bodyLimit: number;
  /** false when no body_checks table is configured: body lines are not itemised at all. */
  readonly wantBody: boolean;
}

export interface Walk {
  readonly pieces: Piece[];
  readonly items: ContentItem[];
  /** Why MIME processing was abandoned (the message is then walked without MIME). */
  readonly mimeError?: string;
}

/** Postfix's HDR_OPT_MIME headers (header_opts.c): always mime_header_checks. */
const MIME_HEADERS = new Set(['content-description', 'content-disposition', 'content-id', 'content-transfer-encoding', 'content-type', 'mime-version']);

function unfold(latin1: string): string {
  return latin1.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n$/, '');
}

/**
 * The MIME libraries (about 40 MB of memory together) are loaded the first time a message is
 * walked: servers without header/body checks never pay for them.
 */
interface Libs {
  Splitter: typeof import('@zone-eu/mailsplit').Splitter;
  decodeWords: (s: string) => string;
  htmlToText: typeof import('html-to-text').convert;
}
let libs: Libs | undefined;
let loadingLibs: Promise<Libs> | undefined;
async function loadLibs(): Promise<Libs> {
  loadingLibs ??= Promise.all([import('@zone-eu/mailsplit'), import('libmime'), import('html-to-text')]).then(([m, l, h]) => ({
    Splitter: m.Splitter, decodeWords: (x: string) => l.default.decodeWords(x), htmlToText: h.convert,
  }));
  libs = await loadingLibs;
  return libs;
}

function utf8(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

function decodeHeader(raw: string): string {
  const colon = raw.indexOf(':');
  try {
    return raw.slice(0, colon + 1) + libs!.decodeWords(raw.slice(colon + 1));
  } catch {
    return raw; // an unknown charset: match the raw form
  }
}

class Builder {
  readonly pieces: Piece[] = [];
  readonly items: ContentItem[] = [];
  constructor(private readonly opts: WalkOptions) {}

  piece(bytes: Buffer): number {
    this.pieces.push({ bytes });
    return this.pieces.length - 1;
  }

  /** A header block: each logical field is a piece and an item; what follows the fields (the empty line) is a piece. */
  headers(block: Buffer, classOf: (name: string) => HeaderClass): void {
    const split = splitMessage(block);
    let consumed = 0;
    for (const f of split.fields) {
      const bytes = Buffer.from(f.raw, 'latin1');
      consumed += bytes.length;
      const piece = this.piece(bytes);
      const rawText = utf8(unfold(f.raw));
      const text = this.opts.decode ? decodeHeader(rawText) : rawText;
      this.items.push({ kind: 'header', cls: classOf(f.name.toLowerCase()), piece, text, rawText });
    }
    // The empty line ending the section, or (for a malformed section) the rest as body text.
    const rest = block.subarray(consumed);
    if (rest.length > 0) this.rawLines(rest, Infinity, this.opts.wantBody && !isBlankLine(rest));
  }

  /** Raw lines, each its own piece, itemised up to `limit` bytes; the rest is one piece. */
  rawLines(buf: Buffer, limit: number, itemise: boolean): void {
    if (!itemise) {
      this.piece(buf);
      return;
    }
    let pos = 0;
    while (pos < buf.length) {
      if (pos >= limit) {
        this.piece(buf.subarray(pos));
        return;
      }
      const nl = buf.indexOf(0x0a, pos);
      const end = nl < 0 ? buf.length : nl + 1;
      const line = buf.subarray(pos, end);
      const piece = this.piece(line);
      this.items.push({ kind: 'body', text: line.toString('utf8').replace(/\r?\n$/, ''), piece });
      pos = end;
    }
  }

  /** Lines of decoded text (no raw piece of their own). */
  textLines(text: string): void {
    for (const line of text.split(/\r?\n/)) this.items.push({ kind: 'body', text: line });
  }
}

function isBlankLine(b: Buffer): boolean {
  return b.length <= 2 && b.toString('latin1').replace(/\r?\n$/, '') === '';
}

/** The message without MIME: one header section (header_checks only), then raw body lines. */
function walkPlain(data: Buffer, opts: WalkOptions, b: Builder): void {
  const split = splitMessage(data);
  b.headers(data.subarray(0, data.length - split.body.length), () => 'header');
  b.rawLines(split.body, opts.bodyLimit, opts.wantBody);
}

function split(data: Buffer): Promise<SplitterChunk[]> {
  return new Promise((resolve, reject) => {
    const out: SplitterChunk[] = [];
    const splitter = new libs!.Splitter({ defaultInlineEmbedded: true, maxChildNodes: 1000 });
    splitter.on('data', (c: SplitterChunk) => out.push(c));
    const s = splitter as unknown as Transform;
    s.on('error', reject);
    s.on('end', () => resolve(out));
    s.end(data);
  });
}

function transferDecode(node: MimeNode, body: Buffer): Promise<Buffer> {
  const enc = (node.encoding || '').toLowerCase();
  if (enc !== 'base64' && enc !== 'quoted-printable') return Promise.resolve(body);
  return new Promise((resolve, reject) => {
    const dec = node.getDecoder() as unknown as Transform;
    const chunks: Buffer[] = [];
    dec.on('data', (c: Buffer) => chunks.push(c));
    dec.on('error', reject);
    dec.on('end', () => resolve(Buffer.concat(chunks)));
    dec.end(body);
  });
}

function headerClassFor(node: MimeNode): (name: string) => HeaderClass {
  const parent = node.parentNode;
  if (!parent) return (n) => (MIME_HEADERS.has(n) ? 'mime' : 'header');
  if (parent.messageNode) return (n) => (MIME_HEADERS.has(n) ? 'mime' : 'nested');
  return () => 'mime';
}

/** A text part whose decoded lines are its raw lines (no transfer encoding, UTF-8 or ASCII): its lines stay editable. */
function isIdentity(node: MimeNode): boolean {
  const enc = (node.encoding || '7bit').toLowerCase();
  const cs = (node.charset || 'us-ascii').toLowerCase();
  return ['7bit', '8bit', 'binary'].includes(enc) && /^(us-ascii|ascii|utf-?8)$/.test(cs) && node.contentType !== 'text/html';
}

async function leafBody(node: MimeNode, body: Buffer, opts: WalkOptions, b: Builder): Promise<void> {
  const isText = !node.contentType || node.contentType.startsWith('text/');
  if (!opts.decode || !isText || isIdentity(node) || !opts.wantBody) {
    b.rawLines(body, opts.bodyLimit, opts.wantBody);
    return;
  }
  b.piece(body);
  // body_checks_size_limit counts raw bytes: cut at a line end so no encoded unit is split.
  let raw = body;
  if (raw.length > opts.bodyLimit) {
    const nl = raw.lastIndexOf(0x0a, opts.bodyLimit);
    raw = raw.subarray(0, nl < 0 ? opts.bodyLimit : nl + 1);
  }
  let text = decodeCharset(await transferDecode(node, raw), node.charset || 'us-ascii');
  if (node.contentType === 'text/html') text = libs!.htmlToText(text, { wordwrap: false });
  b.textLines(text);
}

export async function walkMessage(data: Buffer, opts: WalkOptions): Promise<Walk> {
  await loadLibs();
  if (!opts.mime) {
    const b = new Builder(opts);
    walkPlain(data, opts, b);
    return { pieces: b.pieces, items: b.items };
  }
  let chunks: SplitterChunk[];
  try {
    chunks = await split(data);
  } catch (err) {
    const b = new Builder(opts);
    walkPlain(data, opts, b);
    return { pieces: b.pieces, items: b.items, mimeError: (err as Error).message };
  }
  const b = new Builder(opts);
  // Body chunks of one leaf arrive in several pieces; they are joined before the leaf is walked.
  let leaf: { node: MimeNode; parts: Buffer[] } | undefined;
  const flush = async (): Promise<void> => {
    if (!leaf) return;
    const l = leaf;
    leaf = undefined;
    await leafBody(l.node, Buffer.concat(l.parts), opts, b);
  };
  for (const c of chunks) {
    if (c.type === 'node') {
      await flush();
      b.headers(c.getHeaders(), headerClassFor(c));
      if (!c.multipart && !c.messageNode) leaf = { node: c, parts: [] };
    } else if (c.type === 'body' && leaf && c.node === leaf.node) {
      leaf.parts.push(c.value);
    } else {
      await flush();
      // Multipart structure (preamble, boundaries, epilogue): raw body lines, as Postfix sees them.
      b.rawLines(c.value, Infinity, opts.wantBody);
    }
  }
  await flush();
  return { pieces: b.pieces, items: b.items };
}

/** The message with the edits on its pieces applied (the original buffer when there are none). */
export function rebuild(data: Buffer, pieces: readonly Piece[]): Buffer {
  if (!pieces.some((p) => p.before || p.replace !== undefined)) return data;
  const out: Buffer[] = [];
  for (const p of pieces) {
    for (const line of p.before ?? []) out.push(Buffer.from(`${line}\r\n`, 'utf8'));
    if (p.replace === undefined) out.push(p.bytes);
    else if (p.replace !== null) out.push(Buffer.from(`${p.replace}\r\n`, 'utf8'));
  }
  return Buffer.concat(out);
}
