import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLOSE_GRACE_MS } from '../close.js';

/** A server that is listening, with the port it actually bound (the one asked for, or a free one for 0). */
export interface ListeningServer {
  readonly server: Server;
  readonly port: number;
  /** Stops accepting, drops idle keep-alive connections (a scraper's, a prober's), resolves once closed. */
  close(): Promise<void>;
}

/** Listens on `port` on every interface (0: any free port); rejects if it cannot (e.g. EADDRINUSE). */
export function listen(server: Server, port: number): Promise<ListeningServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as AddressInfo).port, close: () => closeServer(server) });
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections();
    // A request still being answered gets a moment, then its connection goes too (src/close.ts).
    setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  });
}
