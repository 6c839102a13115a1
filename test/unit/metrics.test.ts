import { afterEach, describe, expect, it } from '@jest/globals';
import type { V1Secret } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { Gauge, Histogram, register as globalRegistry } from 'prom-client';
import type { RegistryCredential, RegistryCredentialStatus } from '../../src/api/types.js';
import { observeReconcile, type ControllerObserver, type ControllerState, type ReconcileOutcome } from '../../src/controller/observer.js';
import { ExponentialRateLimiter } from '../../src/controller/rate-limiter.js';
import { WorkQueue } from '../../src/controller/work-queue.js';
import { KubeApiError, type ApiErrorKind } from '../../src/kube/errors.js';
import type { KubeWriter } from '../../src/kube/writer.js';
import type { ListeningServer } from '../../src/observability/http.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  createMetrics,
  credentialGaugeValues,
  instrumentProvider,
  instrumentWriter,
  startMetricsServer,
  writeOutcome,
  type CredentialGaugeValues,
  type OperatorMetrics,
  type WriteLabels,
} from '../../src/observability/metrics.js';
import { ProviderError, type ProviderCredential, type Provider } from '../../src/providers/types.js';
import { FakeClock } from '../support/fake-clock.js';
import { parseExposition, samplesOf, valueOf, type Sample } from '../support/prometheus.js';

const GENERATION = 3;

function credential(name: string, status?: RegistryCredentialStatus, generation = GENERATION): RegistryCredential {
  return { apiVersion: 'regcred.io/v1alpha1', kind: 'RegistryCredential', metadata: { name, generation }, spec: {}, status };
}

function ready(status: 'True' | 'False', observedGeneration = GENERATION): NonNullable<RegistryCredentialStatus['conditions']>[number] {
  return { type: 'Ready', status, reason: status === 'True' ? 'Synced' : 'SecretConflict', message: '', observedGeneration, lastTransitionTime: '2026-11-22T01:00:00Z' };
}

async function scrape(metrics: OperatorMetrics): Promise<Sample[]> {
  return parseExposition(await metrics.registry.metrics());
}

function state(partial: Partial<ControllerState>): ControllerState {
  return { queueDepth: 0, informers: [], credentials: [], ...partial };
}

describe('credentialGaugeValues', () => {
  it.each<{ name: string; credential: RegistryCredential; want: CredentialGaugeValues }>([
    {
      name: 'no status yet: not ready, nothing else known',
      credential: credential('fresh'),
      want: { ready: 0, expiryTimestampSeconds: undefined, nextRefreshTimestampSeconds: undefined, targetNamespaces: undefined, syncedNamespaces: undefined, failedRefreshAttempts: undefined },
    },
    {
      name: 'a ready static credential: no expiry, no refresh time',
      credential: credential('ghcr', { observedGeneration: GENERATION, provider: 'static', targetNamespaces: 12, syncedNamespaces: 12, failedRefreshAttempts: 0, conditions: [ready('True')] }),
      want: { ready: 1, expiryTimestampSeconds: undefined, nextRefreshTimestampSeconds: undefined, targetNamespaces: 12, syncedNamespaces: 12, failedRefreshAttempts: 0 },
    },
    {
      name: 'a ready ECR credential: expiry and next refresh in epoch seconds',
      credential: credential('ecr', {
        observedGeneration: GENERATION,
        expiresAt: '2026-11-22T13:00:00Z',
        nextRefreshTime: '2026-11-22T07:12:31Z',
        targetNamespaces: 43,
        syncedNamespaces: 42,
        failedRefreshAttempts: 0,
        conditions: [ready('True')],
      }),
      want: {
        ready: 1,
        expiryTimestampSeconds: Date.UTC(2026, 10, 22, 13, 0, 0) / 1000,
        nextRefreshTimestampSeconds: Date.UTC(2026, 10, 22, 7, 12, 31) / 1000,
        targetNamespaces: 43,
        syncedNamespaces: 42,
        failedRefreshAttempts: 0,
      },
    },
    {
      name: 'failing refreshes are counted; Ready=False is 0',
      credential: credential('failing', { observedGeneration: GENERATION, failedRefreshAttempts: 4, targetNamespaces: 2, syncedNamespaces: 2, conditions: [ready('False')] }),
      want: { ready: 0, expiryTimestampSeconds: undefined, nextRefreshTimestampSeconds: undefined, targetNamespaces: 2, syncedNamespaces: 2, failedRefreshAttempts: 4 },
    },
    {
      name: 'Ready=True from an older generation is not ready for the current spec',
      credential: credential('stale', { observedGeneration: GENERATION - 1, conditions: [ready('True', GENERATION - 1)] }),
      want: { ready: 0, expiryTimestampSeconds: undefined, nextRefreshTimestampSeconds: undefined, targetNamespaces: undefined, syncedNamespaces: undefined, failedRefreshAttempts: 0 },
    },
    {
      name: 'a status without failedRefreshAttempts counts 0; an unparsable time gives no sample',
      credential: credential('odd', { observedGeneration: GENERATION, expiresAt: 'not a time', conditions: [ready('True')] }),
      want: { ready: 1, expiryTimestampSeconds: undefined, nextRefreshTimestampSeconds: undefined, targetNamespaces: undefined, syncedNamespaces: undefined, failedRefreshAttempts: 0 },
    },
  ])('$name', ({ credential: c, want }) => {
    expect(credentialGaugeValues(c)).toEqual(want);
  });
});

describe('createMetrics: per-credential gauges, computed at scrape time', () => {
  it('shows each cached credential by name, and drops one that is gone', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let credentials: RegistryCredential[] = [
      credential('ghcr', { observedGeneration: GENERATION, targetNamespaces: 3, syncedNamespaces: 3, failedRefreshAttempts: 0, conditions: [ready('True')] }),
      credential('ecr', {
        observedGeneration: GENERATION,
        expiresAt: '2026-11-22T13:00:00Z',
        nextRefreshTime: '2026-11-22T07:00:00Z',
        targetNamespaces: 5,
        syncedNamespaces: 4,
        failedRefreshAttempts: 2,
        conditions: [ready('False')],
      }),
    ];
    metrics.readStateFrom(() => state({ credentials }));

    let samples = await scrape(metrics);
    expect(samplesOf(samples, 'regcred_credential_ready').map((s) => [s.labels, s.value])).toEqual([
      [{ credential: 'ghcr' }, 1],
      [{ credential: 'ecr' }, 0],
    ]);
    expect(valueOf(samples, 'regcred_credential_synced_namespaces', { credential: 'ecr' })).toBe(4);
    expect(valueOf(samples, 'regcred_credential_target_namespaces', { credential: 'ecr' })).toBe(5);
    expect(valueOf(samples, 'regcred_credential_failed_refresh_attempts', { credential: 'ecr' })).toBe(2);
    expect(valueOf(samples, 'regcred_credential_expiry_timestamp_seconds', { credential: 'ecr' })).toBe(Date.UTC(2026, 10, 22, 13) / 1000);
    expect(valueOf(samples, 'regcred_credential_next_refresh_timestamp_seconds', { credential: 'ecr' })).toBe(Date.UTC(2026, 10, 22, 7) / 1000);
    // A static credential never expires: no sample rather than a 0 that reads as "expired in 1970".
    expect(valueOf(samples, 'regcred_credential_expiry_timestamp_seconds', { credential: 'ghcr' })).toBeUndefined();

    credentials = credentials.slice(0, 1);
    samples = await scrape(metrics);
    expect(samplesOf(samples, 'regcred_credential_ready').map((s) => s.labels.credential)).toEqual(['ghcr']);
    expect(samplesOf(samples, 'regcred_credential_failed_refresh_attempts').map((s) => s.labels.credential)).toEqual(['ghcr']);
  });

  it('labels by credential name only, and emits nothing else from status', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const sentinel = 'hunter2-sentinel';
    metrics.readStateFrom(() =>
      state({
        credentials: [
          credential('team-a', {
            observedGeneration: GENERATION,
            registries: [`${sentinel}.example.com`],
            failedNamespaces: [{ namespace: 'x', reason: 'SecretConflict', message: sentinel }],
            conditions: [{ ...ready('False'), message: sentinel }],
          }),
        ],
      }),
    );
    const body = await metrics.registry.metrics();
    expect(body).not.toContain(sentinel);
    const labelled = parseExposition(body).filter((s) => s.name.startsWith('regcred_credential_'));
    // A status with conditions and no counts or times: just whether it is ready, and its failed attempts (none).
    expect(labelled.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['regcred_credential_ready', { credential: 'team-a' }, 0],
      ['regcred_credential_failed_refresh_attempts', { credential: 'team-a' }, 0],
    ]);
  });

  it('reads queue depth and informer state at each scrape', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let current = state({ queueDepth: 7, informers: [{ name: 'namespaces', up: true }, { name: 'managed-secrets', up: false }] });
    metrics.readStateFrom(() => current);
    let samples = await scrape(metrics);
    expect(valueOf(samples, 'regcred_workqueue_depth')).toBe(7);
    expect(valueOf(samples, 'regcred_informer_up', { informer: 'namespaces' })).toBe(1);
    expect(valueOf(samples, 'regcred_informer_up', { informer: 'managed-secrets' })).toBe(0);

    current = state({ queueDepth: 0, informers: [{ name: 'namespaces', up: false }] });
    samples = await scrape(metrics);
    expect(valueOf(samples, 'regcred_workqueue_depth')).toBe(0);
    expect(samplesOf(samples, 'regcred_informer_up').map((s) => [s.labels.informer, s.value])).toEqual([['namespaces', 0]]);
  });

  it('has no credential or informer samples before the operator is wired in', async () => {
    const samples = await scrape(createMetrics({ defaultMetrics: false }));
    expect(samplesOf(samples, 'regcred_credential_ready')).toEqual([]);
    expect(samplesOf(samples, 'regcred_informer_up')).toEqual([]);
  });
});

describe('createMetrics: registries and default metrics', () => {
  it('uses its own registry: two operators in one process do not collide, and the global registry stays empty', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.observer.reconciled('success', 0.1);
    expect(valueOf(await scrape(a), 'regcred_reconcile_total', { result: 'success' })).toBe(1);
    expect(valueOf(await scrape(b), 'regcred_reconcile_total', { result: 'success' })).toBe(0);
    expect(globalRegistry.getMetricsAsArray()).toEqual([]);
  });

  it('includes process and Node metrics with real values', async () => {
    const samples = await scrape(createMetrics());
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
    expect(samplesOf(samples, 'nodejs_eventloop_lag_seconds')).toHaveLength(1);
    expect(valueOf(samples, 'process_start_time_seconds')).toBeGreaterThan(Date.UTC(2020, 0, 1) / 1000);
  });

  it('registers the GC and event loop metrics in its own registry', () => {
    const { registry } = createMetrics();
    // GC samples appear only once a collection has been observed; the histogram is there from the start.
    expect(registry.getSingleMetric('nodejs_gc_duration_seconds')).toBeInstanceOf(Histogram);
    expect(registry.getSingleMetric('nodejs_eventloop_lag_p99_seconds')).toBeInstanceOf(Gauge);
  });

  it('leaves out the default metrics when asked', async () => {
    const samples = await scrape(createMetrics({ defaultMetrics: false }));
    expect(samples.filter((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_'))).toEqual([]);
  });

  it('follows the naming conventions: regcred_ prefix, counters end in _total, durations in _seconds', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const described = await metrics.registry.getMetricsAsJSON();
    expect(described.length).toBeGreaterThan(10);
    for (const metric of described) {
      expect(metric.name).toMatch(/^regcred_[a-z_]+$/);
      if (String(metric.type) === 'counter') expect(metric.name).toMatch(/_total$/);
      if (String(metric.type) === 'histogram') expect(metric.name).toMatch(/_seconds$/);
      expect(metric.help.length).toBeGreaterThan(10);
    }
  });
});

describe('the controller observer', () => {
  it('counts reconciles by result and records their durations', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const outcomes: [ReconcileOutcome, number][] = [
      ['success', 0.02],
      ['success', 0.3],
      ['requeue', 0.004],
      ['error', 7],
    ];
    for (const [outcome, seconds] of outcomes) metrics.observer.reconciled(outcome, seconds);
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'regcred_reconcile_total', { result: 'success' })).toBe(2);
    expect(valueOf(samples, 'regcred_reconcile_total', { result: 'requeue' })).toBe(1);
    expect(valueOf(samples, 'regcred_reconcile_total', { result: 'error' })).toBe(1);
    expect(valueOf(samples, 'regcred_reconcile_duration_seconds_count')).toBe(4);
    expect(valueOf(samples, 'regcred_reconcile_duration_seconds_sum')).toBeCloseTo(7.324, 6);
    expect(valueOf(samples, 'regcred_reconcile_duration_seconds_bucket', { le: '0.005' })).toBe(1);
    expect(valueOf(samples, 'regcred_reconcile_duration_seconds_bucket', { le: '0.5' })).toBe(3);
    expect(valueOf(samples, 'regcred_reconcile_duration_seconds_bucket', { le: '+Inf' })).toBe(4);
  });

  it('counts queue adds and retries', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.observer.added();
    metrics.observer.added();
    metrics.observer.retried();
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'regcred_workqueue_adds_total')).toBe(2);
    expect(valueOf(samples, 'regcred_workqueue_retries_total')).toBe(1);
  });
});

describe('observeReconcile', () => {
  function recorder(): { observer: ControllerObserver; seen: [ReconcileOutcome, number][] } {
    const seen: [ReconcileOutcome, number][] = [];
    return { seen, observer: { reconciled: (outcome, seconds) => seen.push([outcome, seconds]), added: () => undefined, retried: () => undefined } };
  }

  it.each<{ name: string; reconcile: () => Promise<{ requeueAfterMs?: number; failed?: boolean }>; want: ReconcileOutcome }>([
    { name: 'done', reconcile: () => Promise.resolve({}), want: 'success' },
    { name: 'reported a failure (retried at its own time)', reconcile: () => Promise.resolve({ requeueAfterMs: 5_000, failed: true }), want: 'error' },
    { name: 'reported a failure, waiting for a change', reconcile: () => Promise.resolve({ failed: true }), want: 'error' },
    { name: 'again after a delay', reconcile: () => Promise.resolve({ requeueAfterMs: 60_000 }), want: 'requeue' },
    { name: 'again at once', reconcile: () => Promise.resolve({ requeueAfterMs: 0 }), want: 'requeue' },
    { name: 'threw', reconcile: () => Promise.reject(new Error('boom')), want: 'error' },
  ])('$name → $want, with the time it took', async ({ reconcile, want }) => {
    const { observer, seen } = recorder();
    let now = 1000;
    const observed = observeReconcile(
      async () => {
        now += 250;
        return reconcile();
      },
      observer,
      () => now,
    );
    const outcome = await observed('key').then(
      (result) => result,
      (err: unknown) => err,
    );
    // A result passes through unchanged, a failure reported in it included; a thrown error rethrows.
    const expected = await reconcile().catch((err: unknown) => err);
    expect(outcome).toEqual(expected);
    expect(seen).toEqual([[want, 0.25]]);
  });

  it('an observer that throws changes nothing for the caller', async () => {
    const observer: ControllerObserver = {
      reconciled: () => {
        throw new Error('broken metrics');
      },
      added: () => undefined,
      retried: () => undefined,
    };
    await expect(observeReconcile(() => Promise.resolve({ requeueAfterMs: 5 }), observer)('k')).resolves.toEqual({ requeueAfterMs: 5 });
    await expect(observeReconcile(() => Promise.reject(new Error('real')), observer)('k')).rejects.toThrow('real');
  });
});

describe('WorkQueue observer', () => {
  it('counts real adds (not a no-op add of a waiting key) and retries (not after shutdown)', async () => {
    const counts = { added: 0, retried: 0 };
    const queue = new WorkQueue<string>({
      clock: new FakeClock(0),
      rateLimiter: new ExponentialRateLimiter({ baseDelayMs: 100, maxDelayMs: 1000, jitter: { kind: 'none' } }),
      observer: { added: () => counts.added++, retried: () => counts.retried++ },
    });
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(counts).toEqual({ added: 2, retried: 0 });
    const key = await queue.get();
    expect(key).toBe('a');
    // In flight and changed: it will run again, so it is an add (as in client-go).
    queue.add('a');
    expect(counts.added).toBe(3);
    queue.addRateLimited('c');
    expect(counts.retried).toBe(1);
    queue.shutDown();
    queue.add('d');
    queue.addRateLimited('d');
    expect(counts).toEqual({ added: 3, retried: 1 });
  });

  it('keeps working when the observer throws', async () => {
    const queue = new WorkQueue<string>({
      clock: new FakeClock(0),
      rateLimiter: new ExponentialRateLimiter(),
      observer: {
        added: () => {
          throw new Error('broken');
        },
        retried: () => {
          throw new Error('broken');
        },
      },
    });
    queue.add('a');
    expect(queue.len()).toBe(1);
    await expect(queue.get()).resolves.toBe('a');
  });
});

describe('instrumentWriter', () => {
  const secret: V1Secret = { metadata: { name: 's', namespace: 'ns' } };

  function fakeWriter(fail?: unknown): KubeWriter {
    // Rejects with whatever it is given, non-Errors included: the decorator must pass any of them through.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    const settle = <T>(value: T): Promise<T> => (fail === undefined ? Promise.resolve(value) : Promise.reject(fail));
    return {
      createSecret: (s) => settle(s),
      replaceSecret: (s) => settle(s),
      deleteSecret: () => settle(undefined),
      getSecret: (namespace, name) => settle({ metadata: { namespace, name } }),
      getServiceAccount: (namespace, name) => settle({ metadata: { namespace, name } }),
      patchServiceAccount: (namespace, name) => settle({ metadata: { namespace, name } }),
      patchCredential: (name) => settle(credential(name)),
      patchCredentialStatus: (name) => settle(credential(name)),
      createEvent: () => settle(undefined),
    };
  }

  const calls: { method: string; call: (w: KubeWriter) => Promise<unknown>; resource: string; verb: string }[] = [
    { method: 'createSecret', call: (w) => w.createSecret(secret), resource: 'secrets', verb: 'create' },
    { method: 'replaceSecret', call: (w) => w.replaceSecret(secret), resource: 'secrets', verb: 'update' },
    { method: 'deleteSecret', call: (w) => w.deleteSecret('ns', 's', 'uid-1'), resource: 'secrets', verb: 'delete' },
    { method: 'patchServiceAccount', call: (w) => w.patchServiceAccount('ns', 'default', {}), resource: 'serviceaccounts', verb: 'patch' },
    { method: 'patchCredential', call: (w) => w.patchCredential('rc', {}), resource: 'registrycredentials', verb: 'patch' },
    { method: 'patchCredentialStatus', call: (w) => w.patchCredentialStatus('rc', {}), resource: 'registrycredentials/status', verb: 'patch' },
    { method: 'createEvent', call: (w) => w.createEvent({ metadata: { namespace: 'ns' }, involvedObject: {} }), resource: 'events', verb: 'create' },
  ];

  it.each(calls)('$method counts as $resource $verb success, and returns what the writer returned', async ({ call, resource, verb }) => {
    const counted: WriteLabels[] = [];
    const inner = fakeWriter();
    await expect(call(instrumentWriter(inner, (l) => counted.push(l)))).resolves.toEqual(await call(inner));
    expect(counted).toEqual([{ resource, verb, outcome: 'success' }]);
  });

  const failures: { name: string; err: unknown; outcome: string }[] = [
    ...(
      [
        ['Conflict', 'conflict'],
        ['NotFound', 'not_found'],
        ['AlreadyExists', 'already_exists'],
        ['Forbidden', 'forbidden'],
        ['Unauthorized', 'unauthorized'],
        ['Invalid', 'invalid'],
        ['Transient', 'transient'],
        ['Gone', 'gone'],
        ['Unknown', 'unknown'],
      ] as [ApiErrorKind, string][]
    ).map(([kind, outcome]) => ({ name: kind, err: new KubeApiError(kind, 409, `failed: ${kind}`), outcome })),
    { name: 'an unclassified Error', err: new Error('socket hang up'), outcome: 'error' },
    { name: 'a thrown non-Error', err: 'weird', outcome: 'error' },
  ];

  it.each(failures)('a failed write ($name) counts as $outcome and rethrows the same error', async ({ err, outcome }) => {
    const counted: WriteLabels[] = [];
    const writer = instrumentWriter(fakeWriter(err), (l) => counted.push(l));
    await expect(writer.createSecret(secret)).rejects.toBe(err);
    await expect(writer.patchServiceAccount('ns', 'default', {})).rejects.toBe(err);
    expect(counted).toEqual([
      { resource: 'secrets', verb: 'create', outcome },
      { resource: 'serviceaccounts', verb: 'patch', outcome },
    ]);
    expect(writeOutcome(err)).toBe(outcome);
  });

  it('does not count reads', async () => {
    const counted: WriteLabels[] = [];
    await instrumentWriter(fakeWriter(), (l) => counted.push(l)).getServiceAccount('ns', 'default');
    await expect(instrumentWriter(fakeWriter(new KubeApiError('NotFound', 404, 'gone')), (l) => counted.push(l)).getServiceAccount('ns', 'x')).rejects.toThrow('gone');
    expect(counted).toEqual([]);
  });

  it('feeds regcred_api_writes_total, every write kind present from the start', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    expect(samplesOf(await scrape(metrics), 'regcred_api_writes_total').map((s) => `${s.labels.resource} ${s.labels.verb} ${s.labels.outcome}=${s.value}`).sort()).toEqual(
      calls.map((c) => `${c.resource} ${c.verb} success=0`).sort(),
    );
    const ok = metrics.instrumentWriter(fakeWriter());
    const conflict = new KubeApiError('Conflict', 409, 'conflict');
    const conflicting = metrics.instrumentWriter(fakeWriter(conflict));
    await ok.createSecret(secret);
    await ok.createSecret(secret);
    await expect(conflicting.patchServiceAccount('ns', 'default', {})).rejects.toBe(conflict);
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'regcred_api_writes_total', { resource: 'secrets', verb: 'create', outcome: 'success' })).toBe(2);
    expect(valueOf(samples, 'regcred_api_writes_total', { resource: 'serviceaccounts', verb: 'patch', outcome: 'conflict' })).toBe(1);
    expect(valueOf(samples, 'regcred_api_writes_total', { resource: 'serviceaccounts', verb: 'patch', outcome: 'success' })).toBe(0);
  });
});

describe('instrumentProvider', () => {
  const minted: ProviderCredential = { logins: [{ registry: 'ghcr.io', username: 'u', password: 'p' }] };

  function provider(mint: Provider['mint']): Provider {
    return { name: 'ecr', mint };
  }

  it.each<{ name: string; mint: Provider['mint']; want: 'success' | 'error' }>([
    { name: 'a credential', mint: () => Promise.resolve(minted), want: 'success' },
    { name: 'a ProviderError', mint: () => Promise.reject(new ProviderError('AccessDenied', 'denied', false)), want: 'error' },
    { name: 'an unexpected error', mint: () => Promise.reject(new TypeError('bug')), want: 'error' },
  ])('$name → $want, timed, passed through unchanged', async ({ mint, want }) => {
    const seen: [string, number][] = [];
    let now = 0;
    const timed: Provider['mint'] = async (...args) => {
      now += 1500;
      return mint(...args);
    };
    const wrapped = instrumentProvider(provider(timed), (result, seconds) => seen.push([result, seconds]), () => now);
    expect(wrapped.name).toBe('ecr');
    const signal = new AbortController().signal;
    const sources = { namespace: 'regcred-system', get: () => undefined };
    const got = await wrapped.mint({}, sources, signal).then(
      (v) => v,
      (err: unknown) => err,
    );
    const direct = await mint({}, sources, signal).then(
      (v) => v,
      (err: unknown) => err,
    );
    expect(got).toEqual(direct);
    expect(seen).toEqual([[want, 1.5]]);
  });

  it('passes spec, sources, signal and context to the provider', async () => {
    const received: unknown[][] = [];
    const wrapped = instrumentProvider(
      provider((...args) => {
        received.push(args);
        return Promise.resolve(minted);
      }),
      () => undefined,
    );
    const signal = new AbortController().signal;
    const sources = { namespace: 'ns', get: () => undefined };
    await wrapped.mint({ secretName: 'x' }, sources, signal, { credentialName: 'rc' });
    expect(received).toEqual([[{ secretName: 'x' }, sources, signal, { credentialName: 'rc' }]]);
  });

  it('feeds regcred_provider_mint_calls_total and the duration histogram, by provider', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const ecr = metrics.instrumentProvider(provider(() => Promise.resolve(minted)));
    const down = new ProviderError('Unavailable', 'down', true);
    const failing = metrics.instrumentProvider({ name: 'gcr', mint: () => Promise.reject(down) });
    await ecr.mint({}, { namespace: 'n', get: () => undefined }, new AbortController().signal);
    await expect(failing.mint({}, { namespace: 'n', get: () => undefined }, new AbortController().signal)).rejects.toBe(down);
    await expect(failing.mint({}, { namespace: 'n', get: () => undefined }, new AbortController().signal)).rejects.toBe(down);
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'regcred_provider_mint_calls_total', { provider: 'ecr', result: 'success' })).toBe(1);
    expect(valueOf(samples, 'regcred_provider_mint_calls_total', { provider: 'ecr', result: 'error' })).toBe(0);
    expect(valueOf(samples, 'regcred_provider_mint_calls_total', { provider: 'gcr', result: 'error' })).toBe(2);
    expect(valueOf(samples, 'regcred_provider_mint_duration_seconds_count', { provider: 'gcr' })).toBe(2);
    expect(valueOf(samples, 'regcred_provider_mint_duration_seconds_count', { provider: 'ecr' })).toBe(1);
  });
});

describe('startMetricsServer', () => {
  let server: ListeningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function silentLog(): ReturnType<typeof createLogger> {
    return createLogger({ level: 'silent', pretty: false, destination: new Writable({ write: (_c, _e, done) => done() }) });
  }

  it('serves GET /metrics with the registry content type; 404 elsewhere; 405 for other methods', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.observer.reconciled('success', 0.01);
    server = await startMetricsServer(0, metrics.registry, silentLog());
    expect(server.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${server.port}`;

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.registry.contentType);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(valueOf(parseExposition(await res.text()), 'regcred_reconcile_total', { result: 'success' })).toBe(1);

    const withQuery = await fetch(`${base}/metrics?x=1`);
    expect(withQuery.status).toBe(200);
    await withQuery.text();
    for (const path of ['/', '/metricsx', '/healthz', '/metrics/x']) {
      const other = await fetch(`${base}${path}`);
      expect([path, other.status]).toEqual([path, 404]);
      await other.text();
    }
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.text();
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('answers 500 when collecting fails, and keeps serving', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let broken = true;
    metrics.readStateFrom(() => {
      if (broken) throw new Error('cache gone');
      return state({ queueDepth: 2 });
    });
    server = await startMetricsServer(0, metrics.registry, silentLog());
    const failed = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).not.toContain('cache gone');
    broken = false;
    const ok = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(ok.status).toBe(200);
    expect(valueOf(parseExposition(await ok.text()), 'regcred_workqueue_depth')).toBe(2);
  });

  it('stops listening when closed, even with a keep-alive connection open', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    server = await startMetricsServer(0, metrics.registry, silentLog());
    const url = `http://127.0.0.1:${server.port}/metrics`;
    await (await fetch(url)).text();
    await server.close();
    await expect(fetch(url)).rejects.toThrow();
  });

  it('fails to start on a port that is taken', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    server = await startMetricsServer(0, metrics.registry, silentLog());
    await expect(startMetricsServer(server.port, metrics.registry, silentLog())).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
