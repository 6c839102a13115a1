/**
 * Prometheus metrics: one Registry per operator (never prom-client's global one), built by main.ts
 * and handed down as plain hooks: an observer for the controller, decorators for the KubeWriter and
 * the providers, and a state reader for the gauges computed at scrape time. prom-client stays in
 * this directory, as client-node stays in kube/.
 *
 * Nothing secret is a label or a value: labels are credential names, provider names, resource and
 * verb names and bounded outcomes; values are counts, durations and timestamps.
 */
import { createServer } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RegistryCredential } from '../api/types.js';
import type { ControllerObserver, ControllerState, ReconcileOutcome } from '../controller/observer.js';
import { KubeApiError, type ApiErrorKind } from '../kube/errors.js';
import type { KubeWriter } from '../kube/writer.js';
import { parseKubeTime } from '../status/time.js';
import type { Provider } from '../providers/types.js';
import { listen, type ListeningServer } from './http.js';
import type { Logger } from './logger.js';

export const METRIC_PREFIX = 'regcred_';

/** Reconciles take milliseconds to tens of seconds (a fan-out over many namespaces, a slow provider). */
export const RECONCILE_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** A mint is one network call, bounded by the reconciler's 30 s timeout. */
export const MINT_BUCKETS: readonly number[] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The outcome label of a failed write: the API error's kind, as Prometheus label values are spelled. */
const ERROR_OUTCOMES = {
  NotFound: 'not_found',
  AlreadyExists: 'already_exists',
  Conflict: 'conflict',
  Gone: 'gone',
  Forbidden: 'forbidden',
  Unauthorized: 'unauthorized',
  Invalid: 'invalid',
  Transient: 'transient',
  Unknown: 'unknown',
} as const satisfies Record<ApiErrorKind, string>;

/** `success`, a classified API error kind (a bounded set), or `error` for anything unclassified. */
export type WriteOutcome = 'success' | 'error' | (typeof ERROR_OUTCOMES)[ApiErrorKind];

/** Which API call each KubeWriter method is: RBAC's resource and verb names. Reads are not writes. */
const WRITES = {
  createSecret: { resource: 'secrets', verb: 'create' },
  replaceSecret: { resource: 'secrets', verb: 'update' },
  deleteSecret: { resource: 'secrets', verb: 'delete' },
  patchServiceAccount: { resource: 'serviceaccounts', verb: 'patch' },
  patchCredential: { resource: 'registrycredentials', verb: 'patch' },
  patchCredentialStatus: { resource: 'registrycredentials/status', verb: 'patch' },
  createEvent: { resource: 'events', verb: 'create' },
} as const satisfies Partial<Record<keyof KubeWriter, { resource: string; verb: string }>>;

export interface MetricsOptions {
  /** process_* and nodejs_* metrics (memory, heap, GC, event loop lag, CPU, handles); default true. */
  defaultMetrics?: boolean;
}

export interface OperatorMetrics {
  readonly registry: Registry;
  /** Hand to the Operator: counts reconciles, queue adds and retries. */
  readonly observer: ControllerObserver;
  /** The same writer, counting every write by resource, verb and outcome. */
  instrumentWriter(writer: KubeWriter): KubeWriter;
  /** The same provider, counting and timing every mint. */
  instrumentProvider(provider: Provider): Provider;
  /** Where the scrape-time gauges (queue depth, informers, credentials) read from. */
  readStateFrom(state: () => ControllerState): void;
  /** Whether this replica leads (regcred_leader). */
  leading(leading: boolean): void;
}

/** Builds the operator's registry and its metrics. No I/O, no timers beyond the default metrics' own. */
export function createMetrics(options: MetricsOptions = {}): OperatorMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  // Until the operator is wired in, the scrape-time gauges have no samples.
  let state: () => ControllerState | undefined = () => undefined;

  const reconciles = new Counter({
    name: `${METRIC_PREFIX}reconcile_total`,
    help: 'RegistryCredential reconciles, by result: success, requeue (succeeded, runs again after a delay) or error.',
    labelNames: ['result'] as const,
    registers,
  });
  const reconcileDuration = new Histogram({
    name: `${METRIC_PREFIX}reconcile_duration_seconds`,
    help: 'How long one reconcile of a RegistryCredential took, whatever its result.',
    buckets: [...RECONCILE_BUCKETS],
    registers,
  });
  for (const result of ['success', 'requeue', 'error'] satisfies ReconcileOutcome[]) reconciles.inc({ result }, 0);

  new Gauge({
    name: `${METRIC_PREFIX}workqueue_depth`,
    help: 'Keys waiting in the work queue for a worker (not those in flight or scheduled for later).',
    registers,
    collect() {
      const current = state();
      if (current) this.set(current.queueDepth);
    },
  });
  const queueAdds = new Counter({
    name: `${METRIC_PREFIX}workqueue_adds_total`,
    help: 'Keys added to the work queue (adding a key that is already waiting does not count).',
    registers,
  });
  const queueRetries = new Counter({
    name: `${METRIC_PREFIX}workqueue_retries_total`,
    help: 'Keys put back in the work queue with backoff after a failed reconcile.',
    registers,
  });

  const mints = new Counter({
    name: `${METRIC_PREFIX}provider_mint_calls_total`,
    help: 'Calls to ECR or Google for a new registry credential, by provider and result (success or error). Static credentials are read from a Secret and make no call.',
    labelNames: ['provider', 'result'] as const,
    registers,
  });
  const mintDuration = new Histogram({
    name: `${METRIC_PREFIX}provider_mint_duration_seconds`,
    help: 'How long one call to a provider for a new registry credential took.',
    labelNames: ['provider'] as const,
    buckets: [...MINT_BUCKETS],
    registers,
  });

  const verifyDuration = new Histogram({
    name: `${METRIC_PREFIX}verify_duration_seconds`,
    help: 'How long one check of a published credential at its registries (the Verified condition) took, by the reason it ended with.',
    labelNames: ['reason'] as const,
    buckets: [...MINT_BUCKETS],
    registers,
  });

  const callsInFlight = new Gauge({
    name: `${METRIC_PREFIX}provider_calls_in_flight`,
    help: 'Calls to a provider (ECR, Google) under way now; bounded per provider by --provider-concurrency.',
    labelNames: ['provider'] as const,
    registers,
  });
  const callsWaiting = new Gauge({
    name: `${METRIC_PREFIX}provider_calls_waiting`,
    help: 'Calls to a provider (ECR, Google) waiting for a slot because --provider-concurrency calls are under way.',
    labelNames: ['provider'] as const,
    registers,
  });

  const writes = new Counter({
    name: `${METRIC_PREFIX}api_writes_total`,
    help: 'Writes to the Kubernetes API, by resource, verb and outcome (success, or the error kind such as conflict or not_found).',
    labelNames: ['resource', 'verb', 'outcome'] as const,
    registers,
  });
  // Present from the start, so that rate() sees the first write of each kind.
  for (const { resource, verb } of Object.values(WRITES)) writes.inc({ resource, verb, outcome: 'success' }, 0);

  new Gauge({
    name: `${METRIC_PREFIX}informer_up`,
    help: 'Whether an informer has listed and is watching (1) or is down and being restarted (0).',
    labelNames: ['informer'] as const,
    registers,
    collect() {
      const current = state();
      if (!current) return;
      this.reset();
      for (const informer of current.informers) this.set({ informer: informer.name }, informer.up ? 1 : 0);
    },
  });

  // What each informer's list/watch did since start, kept by the informer and read at scrape time.
  const listWatchCounters = [
    ['lists', 'informer_lists_total', 'Complete lists (paginated), the first one included, by informer.'],
    ['relists', 'informer_relists_total', 'Lists after the first, by informer: a watch could not resume from its resourceVersion (410 Gone). Bookmarks keep this near 0.'],
    ['watches', 'informer_watches_total', 'Watch requests, by informer: each resume from the last resourceVersion is one.'],
    ['bookmarks', 'informer_bookmarks_total', 'Watch bookmark events received, by informer.'],
  ] as const;
  for (const [field, name, help] of listWatchCounters) {
    new Counter({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['informer'] as const,
      registers,
      collect() {
        const current = state();
        if (!current) return;
        this.reset();
        for (const informer of current.informers) this.inc({ informer: informer.name }, informer[field] ?? 0);
      },
    });
  }

  const leader = new Gauge({
    name: `${METRIC_PREFIX}leader`,
    help: 'Whether this replica leads and does the work (1) or waits as a follower (0). Always 1 without --leader-elect.',
    registers,
  });

  registerCredentialGauges(registers, () => state()?.credentials);

  return {
    registry,
    observer: {
      reconciled(outcome, seconds) {
        reconciles.inc({ result: outcome });
        reconcileDuration.observe(seconds);
      },
      added: () => queueAdds.inc(),
      retried: () => queueRetries.inc(),
      providerCalls(provider, inFlight, waiting) {
        callsInFlight.set({ provider }, inFlight);
        callsWaiting.set({ provider }, waiting);
      },
      verified(seconds, reason) {
        verifyDuration.observe({ reason }, seconds);
      },
    },
    instrumentWriter: (writer) => instrumentWriter(writer, (labels) => writes.inc(labels)),
    instrumentProvider(provider) {
      mints.inc({ provider: provider.name, result: 'success' }, 0);
      mints.inc({ provider: provider.name, result: 'error' }, 0);
      return instrumentProvider(provider, (result, seconds) => {
        mints.inc({ provider: provider.name, result });
        mintDuration.observe({ provider: provider.name }, seconds);
      });
    },
    readStateFrom(read) {
      state = read;
    },
    leading(leading) {
      leader.set(leading ? 1 : 0);
    },
  };
}

export interface WriteLabels {
  resource: string;
  verb: string;
  outcome: WriteOutcome;
}

/** The outcome label of a write: `success`, the classified API error kind, or `error`. */
export function writeOutcome(err?: unknown): WriteOutcome {
  if (err === undefined) return 'success';
  return err instanceof KubeApiError ? ERROR_OUTCOMES[err.kind] : 'error';
}

/** A KubeWriter that reports each write (not reads) with its outcome; results and errors pass through. */
export function instrumentWriter(writer: KubeWriter, count: (labels: WriteLabels) => void): KubeWriter {
  const counted = <A extends unknown[], R>(method: keyof typeof WRITES, fn: (...args: A) => Promise<R>) => {
    const { resource, verb } = WRITES[method];
    return async (...args: A): Promise<R> => {
      try {
        const result = await fn(...args);
        count({ resource, verb, outcome: 'success' });
        return result;
      } catch (err) {
        count({ resource, verb, outcome: writeOutcome(err) });
        throw err;
      }
    };
  };
  return {
    createSecret: counted('createSecret', (secret) => writer.createSecret(secret)),
    replaceSecret: counted('replaceSecret', (secret) => writer.replaceSecret(secret)),
    deleteSecret: counted('deleteSecret', (namespace, name, uid) => writer.deleteSecret(namespace, name, uid)),
    getSecret: (namespace, name) => writer.getSecret(namespace, name),
    getServiceAccount: (namespace, name) => writer.getServiceAccount(namespace, name),
    patchServiceAccount: counted('patchServiceAccount', (namespace, name, patch) => writer.patchServiceAccount(namespace, name, patch)),
    patchCredential: counted('patchCredential', (name, patch) => writer.patchCredential(name, patch)),
    patchCredentialStatus: counted('patchCredentialStatus', (name, status) => writer.patchCredentialStatus(name, status)),
    createEvent: counted('createEvent', (event) => writer.createEvent(event)),
  };
}

/** A Provider that reports each mint's result and duration (monotonic `now`, in ms); results and errors pass through. */
export function instrumentProvider(
  provider: Provider,
  report: (result: 'success' | 'error', seconds: number) => void,
  now: () => number = () => performance.now(),
): Provider {
  return {
    name: provider.name,
    async mint(spec, sources, signal, context) {
      const started = now();
      let result: 'success' | 'error' = 'error';
      try {
        const minted = await provider.mint(spec, sources, signal, context);
        result = 'success';
        return minted;
      } finally {
        report(result, Math.max(0, now() - started) / 1000);
      }
    },
  };
}

/** What the per-credential gauges show for one RegistryCredential; undefined: no sample. */
export interface CredentialGaugeValues {
  ready: number;
  expiryTimestampSeconds?: number;
  nextRefreshTimestampSeconds?: number;
  targetNamespaces?: number;
  syncedNamespaces?: number;
  failedRefreshAttempts?: number;
  verified?: number;
  rateLimitLimit?: number;
  rateLimitRemaining?: number;
}

/** Read from the status the operator wrote: names, counts and times only. */
export function credentialGaugeValues(credential: RegistryCredential): CredentialGaugeValues {
  const status = credential.status;
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  return {
    // A Ready condition from an older generation says nothing about the current spec.
    ready: ready?.status === 'True' && (ready.observedGeneration ?? status?.observedGeneration) === credential.metadata.generation ? 1 : 0,
    expiryTimestampSeconds: timestampSeconds(status?.expiresAt),
    nextRefreshTimestampSeconds: timestampSeconds(status?.nextRefreshTime),
    targetNamespaces: status?.targetNamespaces,
    syncedNamespaces: status?.syncedNamespaces,
    failedRefreshAttempts: status ? (status.failedRefreshAttempts ?? 0) : undefined,
    verified: verifiedValue(credential),
    rateLimitLimit: status?.rateLimit?.limit,
    rateLimitRemaining: status?.rateLimit?.remaining,
  };
}

/** 1 verified, 0 refused, absent when not known (Unknown, or a condition of an older generation). */
function verifiedValue(credential: RegistryCredential): number | undefined {
  const verified = credential.status?.conditions?.find((c) => c.type === 'Verified');
  if (!verified || (verified.observedGeneration ?? credential.status?.observedGeneration) !== credential.metadata.generation) return undefined;
  return verified.status === 'True' ? 1 : verified.status === 'False' ? 0 : undefined;
}

function timestampSeconds(time: string | undefined): number | undefined {
  const at = parseKubeTime(time);
  return at ? at.getTime() / 1000 : undefined;
}

const CREDENTIAL_GAUGES: readonly { field: keyof CredentialGaugeValues; name: string; help: string }[] = [
  { field: 'ready', name: 'credential_ready', help: 'Whether the RegistryCredential is Ready (1) or not (0), for its current generation.' },
  {
    field: 'expiryTimestampSeconds',
    name: 'credential_expiry_timestamp_seconds',
    help: 'When the published credential expires, in seconds since the epoch (absent for static credentials).',
  },
  {
    field: 'nextRefreshTimestampSeconds',
    name: 'credential_next_refresh_timestamp_seconds',
    help: 'When the operator next calls the provider for this RegistryCredential, in seconds since the epoch.',
  },
  { field: 'targetNamespaces', name: 'credential_target_namespaces', help: 'Namespaces the RegistryCredential selects.' },
  { field: 'syncedNamespaces', name: 'credential_synced_namespaces', help: 'Target namespaces that hold the current pull Secret.' },
  {
    field: 'failedRefreshAttempts',
    name: 'credential_failed_refresh_attempts',
    help: 'Provider calls that failed in a row since the last successful refresh.',
  },
  {
    field: 'verified',
    name: 'credential_verified',
    help: 'Whether the registries accept the published credential (1) or refuse it (0); absent while unknown (unreachable, rate limited, disabled, in progress).',
  },
  { field: 'rateLimitLimit', name: 'dockerhub_ratelimit_limit', help: 'Docker Hub pulls allowed per window for this credential (Docker Hub entries only).' },
  { field: 'rateLimitRemaining', name: 'dockerhub_ratelimit_remaining', help: 'Docker Hub pulls left in the current window for this credential (Docker Hub entries only).' },
];

/** Gauges labelled by credential, computed from the informer cache at each scrape, so a deleted one disappears. */
function registerCredentialGauges(registers: Registry[], credentials: () => readonly RegistryCredential[] | undefined): void {
  for (const { field, name, help } of CREDENTIAL_GAUGES) {
    new Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['credential'] as const,
      registers,
      collect() {
        const current = credentials();
        if (!current) return;
        this.reset();
        for (const credential of current) {
          const value = credentialGaugeValues(credential)[field];
          if (value !== undefined) this.set({ credential: credential.metadata.name }, value);
        }
      },
    });
  }
}

/**
 * Serves GET /metrics from `registry` on its own port (as controller-runtime serves :8080 apart from
 * the probes on :8081); anything else is 404, another method on /metrics 405.
 */
export function startMetricsServer(port: number, registry: Registry, log: Logger): Promise<ListeningServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: unknown) => {
        log.warn({ err: (err as Error).message }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  return listen(server, port);
}
