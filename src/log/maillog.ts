/**
 * The mail log writer: Postfix's syslog line format, so pflogsumm, logwatch and fail2ban
 * read Postern's log unchanged.
 *
 *   "Nov 22 08:07:31 mx postfix/smtpd[646]: 3D3072281D5: client=localhost[127.0.0.1]"
 *
 * Lines go to `maillog_file` (appended) or to stdout when it is empty or "/dev/stdout".
 * Lines logged during one turn of the event loop are written together when it ends
 * (setImmediate: one write(2) for many lines under load, no delay a reader would notice);
 * `flush()` is called on shutdown and after a fatal line.
 * Event-specific wording lives in log/*-events.ts, one function per event.
 */

import { openSync, writeSync, closeSync, fsyncSync } from 'node:fs';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Nov  2 08:07:31" — syslog's RFC 3164 timestamp, day padded with a space. */
export function syslogTime(d: Date): string {
  const day = String(d.getDate()).padStart(2, ' ');
  const hh = String(d.getHours()).padStart(2, '0');
  const mm = String(d.getMinutes()).padStart(2, '0');
  const ss = String(d.getSeconds()).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${day} ${hh}:${mm}:${ss}`;
}

export interface MailLogOptions {
  /** File path, or "" / "/dev/stdout" for standard output. */
  file: string;
  /** Short host name shown after the time (Postfix's myhostname up to the first dot). */
  hostname: string;
  /** Also copy every line to stderr (start-fg with -v). */
  echo?: boolean;
}

export class MailLog {
  private fd: number;
  private readonly ownsFd: boolean;
  private pending: string[] = [];
  private scheduled = false;
  private hostname: string;
  private readonly echo: boolean;
  // The timestamp changes once a second: formatted once per second, not once per line.
  private stampSecond = -1;
  private stamp = '';

  constructor(opts: MailLogOptions) {
    this.hostname = opts.hostname.split('.')[0] || 'localhost';
    this.echo = opts.echo ?? false;
    if (!opts.file || opts.file === '/dev/stdout') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      this.fd = openSync(opts.file, 'a', 0o640);
      this.ownsFd = true;
    }
  }

  /** Write one line for `program` ("postfix/smtpd"); pid defaults to ours. */
  line(program: string, message: string, pid = process.pid): void {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.stampSecond) {
      this.stampSecond = second;
      this.stamp = syslogTime(new Date(now));
    }
    const text = `${this.stamp} ${this.hostname} ${program}[${pid}]: ${message}\n`;
    this.pending.push(text);
    if (this.echo) process.stderr.write(text);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** "warning: …" line, as Postfix's msg_warn(). */
  warning(program: string, message: string): void {
    this.line(program, `warning: ${message}`);
  }

  /** "error: …" line: something failed that an admin must look at. */
  error(program: string, message: string): void {
    this.line(program, `error: ${message}`);
  }

  /** "fatal: …" line. */
  fatal(program: string, message: string): void {
    this.line(program, `fatal: ${message}`);
    this.flush();
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending.join(''));
    this.pending = [];
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off);
    } catch {
      // XXX: a full or broken log disk must not take mail down; the lines are dropped.
    }
  }

  close(): void {
    this.flush();
    if (this.ownsFd) {
      try {
        fsyncSync(this.fd);
        closeSync(this.fd);
      } catch {
        /* closing a log at shutdown: nothing useful to do on failure */
      }
    }
  }
}

/** Program name for a stage, Postfix style: syslog_name "postfix/submission" + "smtpd". */
export function programName(syslogName: string, process: string): string {
  return `${syslogName}/${process}`;
}
