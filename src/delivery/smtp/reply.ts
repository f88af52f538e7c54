/**
 * Server replies as the SMTP/LMTP client reads them (RFC 5321 §4.2, RFC 3463 enhanced
 * codes, RFC 2034): a line parser that joins "250-…" continuation lines into one reply,
 * the DSN code of a reply, and the one-line text Postfix puts in the log ("550 5.1.1 <x>:
 * Recipient address rejected: User unknown", continuation lines joined with a space).
 *
 * Input is untrusted peer text: lines are capped in length and count, and a line without a
 * three-digit code becomes a temporary failure (code 0 → DSN 4.0.0), never an exception.
 */

export interface ServerReply {
  /** Three-digit code; 0 when the peer sent something that is not a reply. */
  readonly code: number;
  /** Each line without its "250-"/"250 " prefix. */
  readonly lines: readonly string[];
  /** The lines as received, for the log ("250-a 250 b" after joining). */
  readonly raw: readonly string[];
}

const MAX_LINE = 2048;
const MAX_LINES = 1000;

/** Feed it raw text lines (CRLF already stripped); it returns complete replies. */
export class ReplyParser {
  private raw: string[] = [];
  private lines: string[] = [];

  /** One line from the peer; returns the finished reply when this line ended one. */
  push(line: string): ServerReply | undefined {
    const text = line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line;
    const m = /^(\d{3})([ -]?)(.*)$/s.exec(text);
    if (!m) {
      // Not a reply line: whatever was collected so far ends here as a malformed reply.
      this.raw.push(text);
      this.lines.push(text);
      return this.finish(0);
    }
    if (this.raw.length < MAX_LINES) {
      this.raw.push(text);
      this.lines.push(m[3]!);
    }
    if (m[2] === '-') return undefined;
    return this.finish(Number(m[1]));
  }

  private finish(code: number): ServerReply {
    const r: ServerReply = { code, lines: this.lines, raw: this.raw };
    this.raw = [];
    this.lines = [];
    return r;
  }
}

/** The reply on one line, as Postfix logs it: raw lines joined with a space. */
export function replyText(r: ServerReply): string {
  return r.raw.join(' ');
}

/**
 * The RFC 3463 code of a reply: the enhanced code at the start of the first line when its
 * class agrees with the basic code, else "<class>.0.0" (Postfix does the same).
 */
export function replyDsn(r: ServerReply): string {
  const cls = r.code >= 200 && r.code < 600 ? String(r.code)[0]! : '4';
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)/.exec(r.lines[0] ?? '');
  if (m && m[1] === cls) return `${m[1]}.${m[2]}.${m[3]}`;
  return `${cls}.0.0`;
}

/** 2xx. */
export const positive = (r: ServerReply): boolean => r.code >= 200 && r.code < 300;
/** 3xx (354 after DATA). */
export const intermediate = (r: ServerReply): boolean => r.code >= 300 && r.code < 400;

/**
 * EHLO/LHLO keywords: "SIZE 1000" → SIZE → "1000". Keys upper-cased. The first line is
 * the greeting text, not a keyword.
 */
export function ehloKeywords(r: ServerReply): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of r.lines.slice(1)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(line.trim());
    if (m) out.set(m[1]!.toUpperCase(), (m[2] ?? '').trim());
  }
  return out;
}
