/**
 * Parameter declarations: every parameter Postern reads is declared exactly once, in one
 * of config/params/*.ts, with its type, default, bounds and a one-line doc. The loader
 * validates values against these, `postern check` reports against them and
 * docs/parameters.md is generated from them.
 */

export type ParamType = 'string' | 'int' | 'bool' | 'time' | 'list';

export interface ParamDecl {
  readonly name: string;
  readonly type: ParamType;
  /** Default as Postfix writes it, before `$name` expansion ("$myhostname", "10240000", "300s"). */
  readonly default: string;
  readonly min?: number;
  readonly max?: number;
  /** For time values written without a unit (Postfix's per-parameter default unit). */
  readonly timeUnit?: 's' | 'm' | 'h' | 'd' | 'w';
  /** One line for docs/parameters.md and `postern check`. */
  readonly doc: string;
  /**
   * A known Postfix parameter that Postern accepts but does not act on; the reason is
   * shown by `postern check` ("accepted, no effect in Postern: <reason>").
   */
  readonly noEffect?: string;
  /** A Postfix parameter for a feature Postern does not have yet: `check` warns with this. */
  readonly planned?: string;
  /** Names only Postern has (not in Postfix); flagged in the generated docs. */
  readonly posternOnly?: boolean;
}

/** Identity helper so each params file reads as a plain list with type checking. */
export function declare(decls: ParamDecl[]): ParamDecl[] {
  return decls;
}
