import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { readSecret, waitForCondition, TestResources } from '../support/fixtures.js';
import { parseExposition, samplesOf, valueOf, type Sample } from '../support/prometheus.js';

const NAMESPACES = 3;
const USERNAME = 'metrics-robot';
// Unique, so finding it anywhere in a scrape can only mean it leaked there.
const PASSWORD = uniqueName('pw-metrics-secret');

let operator: OperatorProcess;
let metricsPort: number;
let healthPort: number;
const resources = new TestResources();

async function get(path: string): Promise<{ status: number; contentType: string | null; body: string }> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
}

async function scrape(): Promise<{ body: string; samples: Sample[] }> {
  const { status, body } = await get('/metrics');
  expect(status).toBe(200);
  return { body, samples: parseExposition(body) };
}

beforeAll(async () => {
  operator = startOperator();
  const metricsLine = await operator.waitForLog((l) => l.msg === 'metrics server listening');
  const healthLine = await operator.waitForLog((l) => l.msg === 'health server listening');
  metricsPort = metricsLine.port as number;
  healthPort = healthLine.port as number;
  await operator.waitForLog((l) => l.msg === 'caches synced');
});

afterAll(async () => {
  await resources.deleteCredentials();
  const code = await operator.stop();
  await resources.deleteSourcesAndNamespaces();
  // A clean shutdown, with the metrics port closed.
  expect(code).toBe(0);
  await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  expect(operator.rawOutput.join('\n')).not.toContain(PASSWORD);
}, 120_000);

describe('the /metrics endpoint of a running operator', () => {
  it('logs the ports it bound, each its own, and serves /metrics apart from the probes', async () => {
    expect(metricsPort).toBeGreaterThan(0);
    expect(healthPort).toBeGreaterThan(0);
    expect(metricsPort).not.toBe(healthPort);

    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect((await get('/healthz')).status).toBe(404);
    expect((await get('/')).status).toBe(404);
    const probe = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    expect(probe.status).toBe(200);
    await probe.text();
    const notThere = await fetch(`http://127.0.0.1:${healthPort}/metrics`);
    expect(notThere.status).toBe(404);
    await notThere.text();
  });

  it('reports the fan-out of a static credential: writes, mint, reconciles, status gauges, with no secret anywhere', async () => {
    const namespaces: string[] = [];
    for (let i = 0; i < NAMESPACES; i++) namespaces.push(await resources.namespace('metrics'));
    const source = await resources.source({ username: USERNAME, password: PASSWORD });
    const name = await resources.credential({
      static: { registry: 'registry.example.com', credentialsSecretRef: { name: source } },
      namespaces: { names: namespaces },
    });
    const ready = await waitForCondition(name, 'Ready', 'True');
    expect(ready.status).toMatchObject({ targetNamespaces: NAMESPACES, syncedNamespaces: NAMESPACES });
    for (const ns of namespaces) expect((await readSecret(ns, name))?.type).toBe('kubernetes.io/dockerconfigjson');

    // The gauges read the operator's informer cache, which sees the status write a moment after the API server.
    const { body, samples } = await waitFor(`${name} ready in /metrics`, async () => {
      const scraped = await scrape();
      return valueOf(scraped.samples, 'regcred_credential_ready', { credential: name }) === 1 ? scraped : undefined;
    });

    expect(valueOf(samples, 'regcred_credential_synced_namespaces', { credential: name })).toBe(NAMESPACES);
    expect(valueOf(samples, 'regcred_credential_target_namespaces', { credential: name })).toBe(NAMESPACES);
    expect(valueOf(samples, 'regcred_credential_failed_refresh_attempts', { credential: name })).toBe(0);
    // Static credentials do not expire.
    expect(valueOf(samples, 'regcred_credential_expiry_timestamp_seconds', { credential: name })).toBeUndefined();

    // One Secret created per namespace, by this operator, which started on a cluster with no other credential.
    expect(valueOf(samples, 'regcred_api_writes_total', { resource: 'secrets', verb: 'create', outcome: 'success' })).toBe(NAMESPACES);
    expect(samplesOf(samples, 'regcred_api_writes_total', { resource: 'secrets', verb: 'create' }).filter((s) => s.labels.outcome !== 'success' && s.value > 0)).toEqual([]);
    expect(valueOf(samples, 'regcred_api_writes_total', { resource: 'registrycredentials/status', verb: 'patch', outcome: 'success' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'regcred_api_writes_total', { resource: 'serviceaccounts', verb: 'patch', outcome: 'success' })).toBeGreaterThanOrEqual(1);

    // A static credential is read from its Secret in the cache: no provider call to count.
    expect(samplesOf(samples, 'regcred_provider_mint_calls_total', { provider: 'static' })).toEqual([]);
    expect(samplesOf(samples, 'regcred_provider_mint_duration_seconds_count', { provider: 'static' })).toEqual([]);
    expect(valueOf(samples, 'regcred_reconcile_total', { result: 'success' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'regcred_reconcile_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'regcred_workqueue_adds_total')).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'regcred_workqueue_depth')).toBeGreaterThanOrEqual(0);

    const informers = samplesOf(samples, 'regcred_informer_up');
    expect(informers.map((s) => s.labels.informer).sort()).toEqual(['managed-secrets', 'namespaces', 'registrycredentials', 'serviceaccounts', 'source-secrets']);
    expect(informers.every((s) => s.value === 1)).toBe(true);

    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);

    // Nothing secret, in any label or value: not the password, not the auth string, not its base64.
    const auth = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64');
    for (const secret of [PASSWORD, auth, Buffer.from(PASSWORD).toString('base64')]) expect(body).not.toContain(secret);
    // Labels name credentials, never anything else from them.
    for (const sample of samples.filter((s) => s.name.startsWith('regcred_credential_'))) expect(Object.keys(sample.labels)).toEqual(['credential']);
  });
});
