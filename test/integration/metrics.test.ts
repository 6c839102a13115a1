import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { operatorWrites, readSecret, readServiceAccount, waitForCondition, TestResources } from '../support/fixtures.js';
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

/** The sum of a counter's samples over all their labels. */
function total(samples: readonly Sample[], name: string): number {
  return samplesOf(samples, name).reduce((sum, s) => sum + s.value, 0);
}

/** A scrape once the operator is idle: no reconcile has finished for 1.5 s (longer than any status write it holds back). */
async function idleScrape(): Promise<{ body: string; samples: Sample[] }> {
  let last = -1;
  let stableSince = Date.now();
  return waitFor(
    'the operator to be idle',
    async () => {
      const scraped = await scrape();
      const reconciles = total(scraped.samples, 'regcred_reconcile_total');
      if (reconciles !== last) {
        last = reconciles;
        stableSince = Date.now();
        return undefined;
      }
      return Date.now() - stableSince >= 1500 ? scraped : undefined;
    },
    60_000,
    250,
  );
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

  it('reports the fan-out of a static credential: writes, no provider call, reconciles, status gauges, with no secret anywhere', async () => {
    const namespaces: string[] = [];
    for (let i = 0; i < NAMESPACES; i++) namespaces.push(await resources.namespace('metrics'));
    // Every default ServiceAccount exists before the credential does, so that each is patched once.
    for (const ns of namespaces) await waitFor(`${ns}/default`, () => readServiceAccount(ns));
    const source = await resources.source({ username: USERNAME, password: PASSWORD });
    const before = (await idleScrape()).samples;
    const writesBefore = operatorWrites().length;
    const name = await resources.credential({
      static: { registry: 'registry.example.com', credentialsSecretRef: { name: source } },
      namespaces: { names: namespaces },
    });
    const ready = await waitForCondition(name, 'Ready', 'True');
    expect(ready.status).toMatchObject({ targetNamespaces: NAMESPACES, syncedNamespaces: NAMESPACES });
    for (const ns of namespaces) expect((await readSecret(ns, name))?.type).toBe('kubernetes.io/dockerconfigjson');

    // The gauges read the operator's informer cache, which sees the status write a moment after the API server.
    await waitFor(`${name} ready in /metrics`, async () => valueOf((await scrape()).samples, 'regcred_credential_ready', { credential: name }) === 1);
    const { body, samples } = await idleScrape();
    /** How much a sample rose since `before` (a sample not there yet counts from 0). */
    const delta = (metric: string, labels: Record<string, string> = {}): number => (valueOf(samples, metric, labels) ?? 0) - (valueOf(before, metric, labels) ?? 0);

    // This credential is the only one the operator knows.
    expect(samplesOf(samples, 'regcred_credential_ready').map((s) => [s.labels.credential, s.value])).toEqual([[name, 1]]);
    expect(valueOf(samples, 'regcred_credential_synced_namespaces', { credential: name })).toBe(NAMESPACES);
    expect(valueOf(samples, 'regcred_credential_target_namespaces', { credential: name })).toBe(NAMESPACES);
    expect(valueOf(samples, 'regcred_credential_failed_refresh_attempts', { credential: name })).toBe(0);
    // Static credentials do not expire.
    expect(valueOf(samples, 'regcred_credential_expiry_timestamp_seconds', { credential: name })).toBeUndefined();

    // Writes: one Secret created and one ServiceAccount patched per namespace, the finalizer added once;
    // nothing else written to Secrets, and no write failed.
    expect(delta('regcred_api_writes_total', { resource: 'secrets', verb: 'create', outcome: 'success' })).toBe(NAMESPACES);
    expect(delta('regcred_api_writes_total', { resource: 'serviceaccounts', verb: 'patch', outcome: 'success' })).toBe(NAMESPACES);
    expect(delta('regcred_api_writes_total', { resource: 'registrycredentials', verb: 'patch', outcome: 'success' })).toBe(1);
    expect(delta('regcred_api_writes_total', { resource: 'secrets', verb: 'update', outcome: 'success' })).toBe(0);
    expect(delta('regcred_api_writes_total', { resource: 'secrets', verb: 'delete', outcome: 'success' })).toBe(0);
    const failedWrites = samplesOf(samples, 'regcred_api_writes_total').filter((s) => s.labels.outcome !== 'success' && delta(s.name, s.labels) !== 0);
    expect(failedWrites).toEqual([]);
    // Each write counted is one the API server answered, and the other way round: the counter agrees
    // with the audit log, kind by kind (status patches and Events included, whatever their number).
    const audited: Record<string, number> = {};
    for (const e of operatorWrites().slice(writesBefore)) {
      const resource = e.objectRef?.subresource ? `${e.objectRef.resource}/${e.objectRef.subresource}` : e.objectRef?.resource;
      const outcome = (e.responseStatus?.code ?? 0) < 300 ? 'success' : `failed ${e.responseStatus?.code}`;
      const key = `${resource} ${e.verb} ${outcome}`;
      audited[key] = (audited[key] ?? 0) + 1;
    }
    const counted: Record<string, number> = {};
    for (const s of samplesOf(samples, 'regcred_api_writes_total')) {
      const rose = delta(s.name, s.labels);
      if (rose !== 0) counted[`${s.labels.resource} ${s.labels.verb} ${s.labels.outcome}`] = rose;
    }
    expect(counted).toEqual(audited);
    expect(audited['registrycredentials/status patch success']).toBeGreaterThanOrEqual(1);
    expect(audited['events create success']).toBeGreaterThanOrEqual(1);

    // Reconciles: none failed, none retried; each key the queue took in was reconciled once (the queue is
    // idle), each timed once. A static credential is read from its Secret in the cache: no provider call.
    const reconciles = delta('regcred_reconcile_total', { result: 'success' }) + delta('regcred_reconcile_total', { result: 'requeue' });
    expect(reconciles).toBeGreaterThanOrEqual(1);
    expect(delta('regcred_reconcile_total', { result: 'error' })).toBe(0);
    expect(delta('regcred_workqueue_retries_total')).toBe(0);
    expect(delta('regcred_workqueue_adds_total')).toBe(reconciles);
    expect(delta('regcred_reconcile_duration_seconds_count')).toBe(reconciles);
    expect(samplesOf(samples, 'regcred_provider_mint_calls_total', { provider: 'static' })).toEqual([]);
    expect(samplesOf(samples, 'regcred_provider_mint_duration_seconds_count', { provider: 'static' })).toEqual([]);
    // Since the operator started, too: the histograms count exactly what the counters count.
    expect(valueOf(samples, 'regcred_reconcile_duration_seconds_count')).toBe(total(samples, 'regcred_reconcile_total'));
    expect(valueOf(samples, 'regcred_reconcile_duration_seconds_bucket', { le: '+Inf' })).toBe(total(samples, 'regcred_reconcile_total'));
    // Idle: no key waiting.
    expect(valueOf(samples, 'regcred_workqueue_depth')).toBe(0);

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
