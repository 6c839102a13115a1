import type { KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { Verifier } from './registry/types.js';
import type { ProviderName, RegistryCredential } from './api/types.js';
import type { OperatorConfig } from './config.js';
import type { Clock, TimerHandle } from './controller/clock.js';
import { ApiServerReport } from './controller/api-server-report.js';
import { ClusterView, type Caches } from './controller/cluster-view.js';
import {
  CredentialEvents,
  keysForManagedSecret,
  keysForSourceSecret,
  NamespaceEvents,
  ServiceAccountEvents,
} from './controller/event-keys.js';
import { eventRecorder } from './controller/events.js';
import { LivenessMonitor, type Liveness } from './controller/liveness.js';
import { observeReconcile, type ControllerObserver, type ControllerState } from './controller/observer.js';
import { ExponentialRateLimiter } from './controller/rate-limiter.js';
import { recordingWriter } from './controller/recording-writer.js';
import { isTerminal } from './reconcile/contract.js';
import { Reconciler } from './reconcile/reconciler.js';
import { SupervisedInformer } from './controller/supervisor.js';
import { ScopedWorkQueue } from './controller/scoped-queue.js';
import { runWorkers } from './controller/workers.js';
import type { KubeConnection } from './kube/connection.js';
import { watchSpecs, type ListWatchStats, type WatchOptions, type WatchSpec } from './kube/informers.js';
import { emptyStats, listWatch } from './kube/list-watch.js';
import { DataInterner } from './kube/transforms.js';
import type { KubeWriter } from './kube/writer.js';
import { fencedWriter, type LeaseGuard } from './leader/fence.js';
import type { Logger } from './observability/logger.js';
import type { Provider } from './providers/types.js';

export interface OperatorDeps {
  conn: KubeConnection;
  writer: KubeWriter;
  config: OperatorConfig;
  log: Logger;
  clock: Clock;
  providers: Partial<Record<ProviderName, Provider>>;
  random: () => number;
  /** Told about reconciles and queue adds as they happen (main.ts passes the metrics); optional. */
  observer?: ControllerObserver;
  /** Checks published credentials at their registries (the Verified condition). */
  verifier?: Verifier;
  /**
   * Leader election: the informers run from the start (warm caches, ready), but no worker runs until
   * `lead()`, and every write, provider call and registry probe asks the guard first. Absent: the
   * workers start as soon as the caches have synced, and nothing is fenced.
   */
  election?: { guard: LeaseGuard };
  /** How the informers watch (bookmarks, timeout); the defaults unless a test or the benchmark says otherwise. */
  watch?: WatchOptions;
}

const SHUTDOWN_DEADLINE_MS = 20_000;
const INFORMER_STOP_DEADLINE_MS = 3_000;

/** Waits for `work`, or until `ms` have passed on `clock`, whichever is first. */
async function withinDeadline(clock: Clock, work: Promise<unknown>, ms: number): Promise<'done' | 'deadline'> {
  let timer: TimerHandle | undefined;
  const deadline = new Promise<'deadline'>((resolve) => (timer = clock.setTimeout(() => resolve('deadline'), ms)));
  const outcome = await Promise.race([work.then(() => 'done' as const), deadline]);
  if (timer) clock.clearTimeout(timer);
  return outcome;
}

/**
 * Informers → keys → one work queue → reconcile(key). Callbacks only map an
 * object to the RegistryCredential keys it concerns; all work happens in the
 * workers.
 */
export class Operator {
  private readonly informers: SupervisedInformer<KubernetesObject>[] = [];
  /** What each informer's list/watch did, by informer name (scraped as counters). */
  private readonly listWatchStats = new Map<string, ListWatchStats>();
  private readonly queue: ScopedWorkQueue;
  private view?: ClusterView;
  private workers?: Promise<void>;
  private resyncTimer?: TimerHandle;
  private running = false;
  /** One voice for all informers when the API server cannot be reached or refuses them. */
  private readonly apiServer: ApiServerReport;
  private readonly liveness: LivenessMonitor;
  /** When the pending periodic resync is due (clock ms). */
  private resyncDueAt?: number;
  /** The last liveness answered, to log its changes once. */
  private lastLive = true;
  private reconciler?: Reconciler;
  /** Whether keys go on the queue: from the start without leader election, from leading with it. */
  private queueing: boolean;
  /** Settles once the caches have synced (or the operator stopped first). */
  private readonly synced: Promise<void>;
  private markSynced!: () => void;

  constructor(private readonly deps: OperatorDeps) {
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    this.queueing = deps.election === undefined;
    this.apiServer = new ApiServerReport(deps.conn.describe, deps.log, () => deps.clock.now());
    this.liveness = new LivenessMonitor(deps.clock);
    this.liveness.watchTimer('periodic resync', () => (this.running ? this.resyncDueAt : undefined));
    this.queue = new ScopedWorkQueue({
      clock: deps.clock,
      rateLimiter: new ExponentialRateLimiter(undefined, deps.random),
      observer: deps.observer,
    });
  }

  private supervise<T extends KubernetesObject>(spec: WatchSpec<T>, onChange: (obj: T, deleted: boolean) => void): SupervisedInformer<T> {
    const { conn, log, clock } = this.deps;
    const stats = emptyStats();
    this.listWatchStats.set(spec.name, stats);
    const informer = new SupervisedInformer<T>(
      spec.name,
      (onListed) => listWatch(conn.kubeConfig, spec, onListed, stats, this.deps.watch),
      { onUpsert: (obj) => onChange(obj, false), onDelete: (obj) => onChange(obj, true) },
      clock,
      log,
      this.apiServer,
    );
    this.informers.push(informer);
    this.liveness.watchTimer(`restart of the ${spec.name} informer`, () => informer.restartDueSince);
    return informer;
  }

  /** `namespace`: the change concerns only that namespace, so its reconcile may be scoped to it. */
  private enqueue(keys: readonly string[], namespace?: string): void {
    // A follower queues nothing: on leading it queues every credential (a reconcile is level-based).
    if (!this.queueing) return;
    for (const key of keys) {
      if (namespace === undefined) this.queue.add(key);
      else this.queue.addIn(key, namespace);
    }
  }

  /**
   * Starts every informer and waits until all caches have listed once; then starts the workers, unless
   * they wait for leadership (`lead()`).
   */
  async start(): Promise<void> {
    const { config, log, clock } = this.deps;
    const interner = new DataInterner();
    const specs = watchSpecs(config.namespace, interner, this.deps.watch?.untransformed === true);
    const credentials = (): readonly RegistryCredential[] => this.view?.credentials() ?? [];

    const credentialEvents = new CredentialEvents();
    const credentialInformer = this.supervise(specs.credentials, (obj: RegistryCredential & KubernetesObject, deleted) =>
      this.enqueue(credentialEvents.keys(obj, credentials(), deleted)),
    );
    const namespaceEvents = new NamespaceEvents();
    const namespaceInformer = this.supervise(specs.namespaces, (obj: V1Namespace, deleted) =>
      this.enqueue(namespaceEvents.keys(obj, credentials(), deleted), obj.metadata?.name),
    );
    // The echo of our own write wakes no one: the view has shown that state since the write (the mutation
    // cache), and the reconcile that made it has already acted on it. A fan-out's echoes would otherwise
    // each wake the credential again. An event that comes before its write's answer is held until the
    // answer says whether it was the echo.
    const managedSecretInformer = this.supervise(specs.managedSecrets, (obj: V1Secret, deleted) => {
      const echo = this.view?.secretWrites.observed(obj.metadata?.namespace, obj.metadata?.name ?? '', obj.metadata?.resourceVersion, deleted) ?? false;
      // A delete still wakes: the credentials that share the Secret's name may take the namespace now.
      unlessOurs(deleted ? false : echo, () => this.enqueue(keysForManagedSecret(obj, credentials(), deleted), obj.metadata?.namespace));
    });
    const serviceAccountEvents = new ServiceAccountEvents();
    const serviceAccountInformer = this.supervise(specs.serviceAccounts, (obj: V1ServiceAccount, deleted) => {
      const echo = this.view?.serviceAccountWrites.observed(obj.metadata?.namespace, obj.metadata?.name ?? '', obj.metadata?.resourceVersion, deleted) ?? false;
      // Mapped even for an echo: the filter remembers what each event showed, to compare the next one with.
      const keys = serviceAccountEvents.keys(obj, credentials(), deleted);
      unlessOurs(echo, () => this.enqueue(keys, obj.metadata?.namespace));
    });
    const sourceSecretInformer = this.supervise(specs.sourceSecrets, (obj) => this.enqueue(keysForSourceSecret(obj, credentials())));

    const caches: Caches = {
      credentials: credentialInformer.cache,
      namespaces: namespaceInformer.cache,
      managedSecrets: managedSecretInformer.cache,
      serviceAccounts: serviceAccountInformer.cache,
      sourceSecrets: sourceSecretInformer.cache,
    };
    this.view = new ClusterView(caches, config.namespace, () => clock.now());
    const observer = this.deps.observer;
    const guard = this.deps.election?.guard;
    const writer = guard ? fencedWriter(this.deps.writer, guard) : this.deps.writer;
    this.reconciler = new Reconciler({
      view: this.view,
      // Our own writes are kept in the shape the informers cache until the watch shows them.
      writer: recordingWriter(writer, this.view, {
        secret: (written) => specs.managedSecrets.transform(written),
        serviceAccount: (written) => specs.serviceAccounts.transform(written),
      }),
      providers: this.deps.providers,
      events: eventRecorder(writer, () => new Date(clock.now()), log),
      clock,
      log,
      writeConcurrency: config.writeConcurrency,
      random: this.deps.random,
      enqueue: (name) => this.queue.add(name),
      enqueueStatus: (name) => this.queue.addIn(name),
      providerTimeoutMs: config.providerTimeoutMs,
      providerConcurrency: config.providerConcurrency,
      reportProviderCalls: observer?.providerCalls ? (provider, inFlight, waiting) => observer.providerCalls?.(provider, inFlight, waiting) : undefined,
      verifier: this.deps.verifier,
      headroomPercent: config.headroomPercent,
      observeVerification: observer?.verified ? (seconds, reason) => observer.verified?.(seconds, reason) : undefined,
      guard,
    });

    const started = clock.now();
    await Promise.all(this.informers.map((i) => i.start()));
    this.running = true;
    const counts = Object.fromEntries(this.informers.map((i) => [i.name, i.cache.list().length]));
    log.info({ cached: counts, ms: clock.now() - started }, 'caches synced');
    this.markSynced();
    if (!this.deps.election) this.startWorkers();
  }

  /** This replica leads now: once the caches have synced, reconcile every credential and keep at it. */
  async lead(): Promise<void> {
    await this.synced;
    if (this.running) this.startWorkers();
  }

  private startWorkers(): void {
    const { reconciler, view } = this;
    if (this.workers || !reconciler || !view) return;
    const { config, log } = this.deps;
    const observer = this.deps.observer;
    this.queueing = true;
    this.enqueue(view.credentials().map((c) => c.metadata.name));
    // What woke the key decides whether its reconcile may be scoped to some namespaces (ScopedWorkQueue).
    const reconcile = (key: string): ReturnType<Reconciler['reconcile']> => reconciler.reconcile(key, this.queue.takeScope(key));
    const observed = observer ? observeReconcile(reconcile, observer) : reconcile;
    this.workers = runWorkers(this.queue, config.concurrency, this.liveness.track(observed), (key, err) => {
      if (isTerminal(err)) log.info({ credential: key, err: err.message }, 'reconcile stopped; runs again when the RegistryCredential changes');
      else log.warn({ credential: key, err: (err as Error).message, retries: this.queue.numRequeues(key) }, 'reconcile failed; will retry');
    });
    this.liveness.watchWorkers(this.workers, this.queue);
    this.scheduleResync();
  }

  /** A safety net against missed events: every credential again, at a jittered interval. */
  private scheduleResync(): void {
    const { clock, config, random } = this.deps;
    const delay = config.resyncIntervalMs * (0.9 + 0.2 * random());
    this.resyncDueAt = clock.now() + delay;
    this.resyncTimer = clock.setTimeout(() => {
      this.resyncDueAt = undefined;
      if (!this.running) return;
      this.deps.log.debug('periodic resync');
      this.enqueue(this.view?.credentials().map((c) => c.metadata.name) ?? []);
      this.scheduleResync();
    }, delay);
  }

  async stop(): Promise<void> {
    const { clock, log } = this.deps;
    this.running = false;
    this.markSynced();
    this.liveness.stopping();
    if (this.resyncTimer) clock.clearTimeout(this.resyncTimer);
    // A watch that is being opened as the signal comes may not answer its abort at once: stopping the
    // informers never holds the shutdown longer than INFORMER_STOP_DEADLINE_MS.
    if ((await withinDeadline(clock, Promise.all(this.informers.map((i) => i.stop())), INFORMER_STOP_DEADLINE_MS)) === 'deadline') {
      log.warn({ ms: INFORMER_STOP_DEADLINE_MS }, 'informers did not stop in time; going on with the shutdown');
    }
    this.queue.shutDown();
    // Let in-flight reconciles finish their writes, but never hang the shutdown.
    if (this.workers && (await withinDeadline(clock, this.workers, SHUTDOWN_DEADLINE_MS)) === 'deadline') {
      log.warn('in-flight reconciles did not finish within 20s');
    }
  }

  /**
   * Whether the process can still make progress: its worker loop runs and takes keys, no reconcile is
   * stuck, the informers' restart and resync timers fire (src/controller/liveness.ts). An API server
   * that cannot be reached is not a liveness failure: that is readiness. Changes are logged once.
   */
  checkLiveness(): Liveness {
    const liveness = this.liveness.check();
    if (liveness.live !== this.lastLive) {
      this.lastLive = liveness.live;
      if (liveness.live) this.deps.log.info('live again');
      else this.deps.log.error({ reason: liveness.reason }, 'not live: the operator cannot make progress and needs a restart (the kubelet restarts it once /healthz keeps failing)');
    }
    return liveness;
  }

  isLive(): boolean {
    return this.checkLiveness().live;
  }

  /** Read at scrape time: cheap, and nothing is copied but the list of credentials the cache returns. */
  state(): ControllerState {
    return {
      queueDepth: this.queue.len(),
      informers: this.informers.map((i) => ({ name: i.name, up: i.isHealthy, ...(this.listWatchStats.get(i.name) ?? emptyStats()) })),
      credentials: this.view?.credentials() ?? [],
    };
  }

  isReady(): boolean {
    return this.readiness().ready;
  }

  /** Ready: every cache has listed and every watch is up. When not, which informers are behind. */
  readiness(): { ready: true } | { ready: false; reason: string } {
    const notSynced = this.informers.filter((i) => !i.isSynced).map((i) => i.name);
    if (notSynced.length > 0) return { ready: false, reason: `caches not synced yet: ${notSynced.join(', ')}` };
    const down = this.informers.filter((i) => !i.isHealthy).map((i) => i.name);
    if (down.length > 0) return { ready: false, reason: `watches down: ${down.join(', ')}` };
    if (!this.running) return { ready: false, reason: 'not running' };
    return { ready: true };
  }
}

/** Runs `wake` unless the event was the echo of our own write: at once, or once a held event is settled (MutationCache.observed). */
function unlessOurs(echo: boolean | Promise<boolean>, wake: () => void): void {
  if (echo === false) wake();
  else if (echo !== true) void echo.then((ours) => ours || wake());
}
