/**
 * What the rest of Postern sees of the configuration: typed, already-validated values.
 *
 * Modules read parameters only through `Params`, by their Postfix names; every name must
 * be declared in config/parameters*.ts (reading an undeclared name throws, so a typo is
 * a crash in tests rather than a silently ignored setting).
 */

export type Severity = 'error' | 'warning' | 'info';

/** A message from loading or checking the configuration, tied to a file and line. */
export interface Diagnostic {
  readonly severity: Severity;
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface Params {
  /** Raw value after `$name` expansion ("" when empty). */
  str(name: string): string;
  /** Integer value (bounds enforced at load time). */
  int(name: string): number;
  bool(name: string): boolean;
  /** Time value in milliseconds; Postfix units s, m, h, d, w (default unit per declaration). */
  timeMs(name: string): number;
  /** Comma- and/or whitespace-separated list, `$name`-expanded, empty items dropped. */
  list(name: string): string[];
  /**
   * A per-transport parameter such as "dovecot_destination_recipient_limit" (Postfix lets
   * any master.cf service name prefix these): its expanded value when set, else the value
   * of the declared `fallback` ("default_destination_recipient_limit").
   */
  byTransport(transport: string, suffix: string, fallback: string): string;
  /** True when the admin set this parameter (main.cf or a -o override), not just defaulted. */
  isSet(name: string): boolean;
  /** Where the value came from, for diagnostics from later stages. */
  origin(name: string): { file: string; line: number } | undefined;
}

/** One master.cf service line. */
export interface Service {
  /** First column as written: "smtp", "submission", "127.0.0.1:2525", "private/auth". */
  readonly name: string;
  readonly type: 'inet' | 'unix' | 'unix-dgram' | 'fifo' | 'pass';
  readonly private: boolean;
  readonly unprivileged: boolean;
  readonly chroot: boolean;
  readonly wakeup: string;
  /** Session/process limit: the maxproc column, or default_process_limit for "-". */
  readonly maxproc: number;
  /** First word of the command column: "smtpd", "pickup", "pipe", ... */
  readonly command: string;
  readonly args: readonly string[];
  /** main.cf merged with this service's -o overrides. */
  readonly params: Params;
  readonly file: string;
  readonly line: number;
}

export interface LoadedConfig {
  /** The config directory (-c DIR). */
  readonly dir: string;
  readonly main: Params;
  readonly services: readonly Service[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Thrown for configuration that cannot run; carries its diagnostics. */
export class ConfigError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map((d) => `${d.file}:${d.line}: ${d.severity}: ${d.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}
