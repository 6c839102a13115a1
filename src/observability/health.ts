import { createServer } from 'node:http';
import { listen, type ListeningServer } from './http.js';

/** A probe's answer; `reason` says why not, in the response body, for whoever curls it. */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason?: string };

export interface HealthChecks {
  /** The process can make progress: its loops run and none is wedged. Failing makes the kubelet restart it. */
  live(): ProbeResult;
  /** Every cache has listed and every watch is up. Failing takes the pod out of service, nothing more. */
  ready(): ProbeResult;
}

/** /healthz (liveness) and /readyz (readiness) for the kubelet's probes; nothing else is served. */
export function startHealthServer(port: number, checks: HealthChecks): Promise<ListeningServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const probe =
      path === '/healthz' ? { name: 'not live', check: () => checks.live() } : path === '/readyz' ? { name: 'not ready', check: () => checks.ready() } : undefined;
    if (probe === undefined) {
      res.writeHead(404).end();
      return;
    }
    let result: ProbeResult;
    try {
      result = probe.check();
    } catch (err) {
      result = { ok: false, reason: `the check failed: ${(err as Error).message}` };
    }
    const body = result.ok ? 'ok\n' : `${probe.name}${result.reason ? `: ${result.reason}` : ''}\n`;
    res.writeHead(result.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(body);
  });
  return listen(server, port);
}
