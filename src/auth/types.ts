/** What a SASL backend answers for one user name and password. */
export type AuthResult =
  | { readonly kind: 'ok'; readonly user: string }
  | { readonly kind: 'fail'; readonly reason: string }
  | { readonly kind: 'tempfail'; readonly reason: string };

export interface AuthRequestInfo {
  readonly mech: string;
  readonly clientAddr: string;
  readonly localPort: number;
  readonly secured: boolean;
  readonly service: string;
}

export interface AuthBackend {
  verify(user: string, password: string, info: AuthRequestInfo): Promise<AuthResult>;
  close(): void;
}
