import { createServer } from 'node:http';
import { listen, type ListeningServer } from './http.js';

export interface HealthChecks {
  /** The process is alive and its loops are running. */
  live(): boolean;
  /** Every cache has listed and every watch is up. */
  ready(): boolean;
}

/** /healthz and /readyz for the kubelet's probes; nothing else is served. */
export function startHealthServer(port: number, checks: HealthChecks): Promise<ListeningServer> {
  const server = createServer((req, res) => {
    const ok = req.url === '/healthz' ? checks.live() : req.url === '/readyz' ? checks.ready() : undefined;
    if (ok === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
  });
  return listen(server, port);
}
