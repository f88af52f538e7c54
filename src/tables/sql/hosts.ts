/**
 * The `hosts` list of MySQL and PostgreSQL tables and the failover between them.
 *
 * Forms (mysql_table(5)/pgsql_table(5)): "unix:/path" (a UNIX socket; for PostgreSQL the
 * socket directory, or the socket file itself), "inet:host:port", "host:port", "host",
 * "[ipv6]:port"; PostgreSQL also takes "postgresql://…" URIs. For MySQL a plain
 * "localhost" means the server's default socket, as libmysqlclient does.
 *
 * Failover: hosts are tried in the order written (Postfix shuffles them; Postern keeps
 * the order so the admin decides which is primary). A host that failed is tried after the
 * healthy ones for retry_interval — never skipped, so when every host had failed the next
 * lookup still tries them all and a restarted server is used again at once.
 */

export type Host =
  | { readonly kind: 'unix'; readonly path: string; readonly label: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number | undefined; readonly label: string }
  | { readonly kind: 'uri'; readonly uri: string; readonly label: string };

/** Parse one hosts item; throws Error for an unusable item. */
export function parseHost(item: string, dialect: 'mysql' | 'pgsql'): Host {
  if (/^postgres(ql)?:\/\//i.test(item)) {
    if (dialect !== 'pgsql') throw new Error(`"${item}": connection URIs are for pgsql tables`);
    return { kind: 'uri', uri: item, label: item.replace(/\/\/[^@/]*@/, '//…@') };
  }
  if (item.startsWith('unix:')) {
    const path = item.slice(5);
    if (!path.startsWith('/')) throw new Error(`"${item}": a UNIX socket needs an absolute path`);
    return { kind: 'unix', path, label: item };
  }
  const rest = item.startsWith('inet:') ? item.slice(5) : item;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(rest);
  if (!m) throw new Error(`"${item}": expected unix:/path, inet:host:port, host:port or host`);
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`"${item}": port out of range`);
  const host = m[1] ?? m[2]!;
  if (dialect === 'mysql' && host === 'localhost' && !item.startsWith('inet:')) return { kind: 'unix', path: '/run/mysqld/mysqld.sock', label: item };
  return { kind: 'tcp', host, port, label: item };
}

/** Tries an operation on each host in turn; remembers failures for `retryMs`. */
export class Failover<H extends { readonly label: string }> {
  private readonly downUntil = new Map<H, number>();

  constructor(private readonly hosts: readonly H[], private readonly retryMs: number, private readonly now: () => number = Date.now) {}

  /** Healthy hosts first (in order), then those that failed recently. */
  private order(): H[] {
    const t = this.now();
    const up = this.hosts.filter((h) => (this.downUntil.get(h) ?? 0) <= t);
    return [...up, ...this.hosts.filter((h) => !up.includes(h))];
  }

  /** The first success; when every host fails, an Error listing each host's reason. */
  async run<R>(op: (host: H) => Promise<R>): Promise<R> {
    const reasons: string[] = [];
    for (const h of this.order()) {
      try {
        const r = await op(h);
        this.downUntil.delete(h);
        return r;
      } catch (err) {
        this.downUntil.set(h, this.now() + this.retryMs);
        reasons.push(this.hosts.length > 1 ? `${h.label}: ${(err as Error).message}` : (err as Error).message);
      }
    }
    throw new Error(reasons.join('; '));
  }
}
