import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Listens on a free loopback port; `close` drops open connections (keep-alive included) and stops. */
export async function listenOnLoopback(server: Server | HttpServer, sockets: Set<Socket> = new Set()): Promise<{ port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A tiny forward proxy that only tunnels (HTTP CONNECT), recording every target it was asked for.
 * `routes` maps a requested host:port to where the tunnel really goes: a name that only this proxy
 * resolves proves that a request went through it.
 */
export interface ConnectProxy {
  url: string;
  /** host:port of every CONNECT, in order. */
  connects: string[];
  stop(): Promise<void>;
}

export async function startConnectProxy(routes: Record<string, string> = {}): Promise<ConnectProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpServer((_req, res) => {
    res.writeHead(405);
    res.end('CONNECT only');
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    connects.push(target);
    sockets.add(client);
    const to = routes[target] ?? target;
    const colon = to.lastIndexOf(':');
    const upstream = connect(Number(to.slice(colon + 1)), to.slice(0, colon).replace(/^\[|\]$/g, ''));
    sockets.add(upstream);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once('error', () => {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    client.once('error', () => upstream.destroy());
    client.once('close', () => upstream.destroy());
  });
  const { port, close } = await listenOnLoopback(server, sockets);
  return { url: `http://127.0.0.1:${port}`, connects, stop: close };
}

/** A TCP black hole: accepts connections and never says a word. */
export async function startBlackHole(): Promise<{ host: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  const { port, close } = await listenOnLoopback(server, sockets);
  return { host: `127.0.0.1:${port}`, stop: close };
}
