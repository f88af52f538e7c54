/** Ports and sockets for tests: a free TCP port, and whether something accepts connections. */
import { createServer, connect } from 'node:net';

/** A free TCP port on 127.0.0.1 (bind :0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a connection: a UNIX socket path, or a TCP port (on `host`, default 127.0.0.1). */
export function canConnect(target: string | number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = typeof target === 'string' ? connect(target) : connect({ port: target, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
