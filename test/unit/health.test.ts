import { afterEach, describe, expect, it } from '@jest/globals';
import { startHealthServer, type HealthChecks, type ProbeResult } from '../../src/observability/health.js';
import type { ListeningServer } from '../../src/observability/http.js';

let server: ListeningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function probe(checks: HealthChecks, path: string): Promise<{ status: number; body: string }> {
  server = await startHealthServer(0, checks);
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
  return { status: res.status, body: await res.text() };
}

const ok = (): ProbeResult => ({ ok: true });

describe('startHealthServer', () => {
  it.each([
    { name: 'live', path: '/healthz', checks: { live: ok, ready: (): ProbeResult => ({ ok: false }) }, status: 200, body: 'ok\n' },
    { name: 'ready', path: '/readyz', checks: { live: ok, ready: ok }, status: 200, body: 'ok\n' },
    {
      name: 'not live, with why',
      path: '/healthz',
      checks: { live: (): ProbeResult => ({ ok: false, reason: 'the reconcile of a has been in flight for 11m (limit 10m)' }), ready: ok },
      status: 503,
      body: 'not live: the reconcile of a has been in flight for 11m (limit 10m)\n',
    },
    {
      name: 'not ready, with why',
      path: '/readyz',
      checks: { live: ok, ready: (): ProbeResult => ({ ok: false, reason: 'caches not synced yet: namespaces' }) },
      status: 503,
      body: 'not ready: caches not synced yet: namespaces\n',
    },
    { name: 'not ready, no reason', path: '/readyz', checks: { live: ok, ready: (): ProbeResult => ({ ok: false }) }, status: 503, body: 'not ready\n' },
    {
      name: 'a check that throws',
      path: '/healthz',
      checks: {
        live: (): ProbeResult => {
          throw new Error('boom');
        },
        ready: ok,
      },
      status: 503,
      body: 'not live: the check failed: boom\n',
    },
    { name: 'anything else', path: '/metrics', checks: { live: ok, ready: ok }, status: 404, body: '' },
  ])('$name: $path → $status', async ({ path, checks, status, body }) => {
    expect(await probe(checks, path)).toEqual({ status, body });
  });
});
