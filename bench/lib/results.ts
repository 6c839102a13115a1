import type { RequestSummary } from './audit.js';

/** A timed outcome: `ms` is absent when it did not converge within `timeoutMs`. */
export interface Timed {
  ms?: number;
  /**
   * Sizes under FANOUT_REPEAT_BELOW are run several times: `ms` is then the median of these, in the order
   * they ran (one undefined, a run that did not converge, makes the median undefined too).
   */
  samplesMs?: (number | undefined)[];
  timeoutMs: number;
  /** What was seen at the end, e.g. "998/1000 namespaces". */
  detail?: string;
}

export interface FanOutResult {
  targets: number;
  operator: Timed & {
    /** When every Secret was in place (ServiceAccounts aside). */
    secretsMs?: number;
    polls: number;
    pollIntervalMs: number;
    /** Watch events the benchmark followed the fan-out with; absent in runs that polled lists instead. */
    events?: number;
    writes: RequestSummary;
    /** Operator CPU seconds from the create request to convergence. */
    cpuS?: number;
    meanPollPeriodMs?: number;
    status?: unknown;
    warnings: number;
  };
  /**
   * ms: from the floor's first write to the benchmark's watches showing the whole end state, as the operator's
   * is taken (`observed`); in runs without `observed`, when its last write returned, with no watches running.
   * writesMs: when its last write returned. cpuS: the floor client's CPU time; with `observed`, that of its own
   * process (bench/floor-client.ts), else the benchmark process's while it ran the floor client.
   */
  floor?: Timed & { writes: RequestSummary; concurrency: number; cpuS?: number; writesMs?: number; events?: number; observed?: boolean };
  /** The same floor client once more, with no watches running, timed by its last write (as `floor` was before it was observed). */
  floorUnwatched?: FanOutResult['floor'];
  cronjob?: Timed & {
    /** Namespaces the script was timed over. */
    measuredNamespaces: number;
    measuredMs?: number;
    extrapolated: boolean;
    perNamespaceMs?: number;
    writes: RequestSummary;
  };
  operatorOverFloor?: number;
  /** The operator's time over the floor's without the watches (the ratio runs before the floor was observed reported). */
  operatorOverFloorUnwatched?: number;
  cronjobOverOperator?: number;
}

export interface RotationResult extends Timed {
  targets: number;
  writes: RequestSummary;
  cpuS?: number;
  /** Runs that polled lists; later runs follow with watches (`events`). */
  meanPollPeriodMs?: number;
  events?: number;
}

export interface RefreshRollout {
  /** From the token endpoint issuing the token to the first poll that showed it (or a newer one) in every namespace. */
  issuedToEverywhereMs: number;
  /** How far into the previous token's lifetime the refresh was minted (the policy: about 0.5). */
  atFractionOfPreviousLifetime?: number;
}

/** Scenario 6: a Google credential with short-lived tokens from the local token endpoint. */
export interface RefreshResult extends Timed {
  targets: number;
  tokenLifetimeS: number;
  refreshesWanted: number;
  /** Create → the first token in every namespace, and the token requests that took (must be 1). */
  firstFanOutMs?: number;
  firstFanOutTokenRequests?: number;
  /** New tokens seen in at least one Secret during the window. */
  refreshesPublished?: number;
  /** Counted by the token endpoint over the window. */
  tokenRequests?: number;
  callsPerRefresh?: number;
  rollouts: RefreshRollout[];
  rolloutP50Ms?: number;
  rolloutMaxMs?: number;
  /** Longest time a poll saw a Secret holding a token past its expiry (0: never seen). */
  longestExpiredMs?: number;
  /** Polls × namespaces where a target had no Secret or a token the endpoint never issued. */
  unknownTokenSightings?: number;
  windowMs?: number;
  polls?: number;
  meanPollPeriodMs?: number;
  writes?: RequestSummary;
  cpuS?: number;
  error?: string;
}

export interface NewNamespaceResult {
  count: number;
  ratePerSecond: number;
  /** Achieved creation rate. */
  actualRatePerSecond: number;
  method: string;
  converged: number;
  latenciesMs: number[];
  p50?: number;
  p95?: number;
  p99?: number;
  max?: number;
  /** From the create request to the controller manager's default ServiceAccount (not the operator's part). */
  serviceAccountCreatedP50?: number;
  serviceAccountCreatedP95?: number;
  /** From the default ServiceAccount appearing to it carrying the entry. */
  patchAfterServiceAccountP50?: number;
  patchAfterServiceAccountP95?: number;
  /** From the create request to the Secret. */
  secretP50?: number;
  secretP95?: number;
  writes: RequestSummary;
  cpuS?: number;
}

export interface SteadyResult {
  resyncSeconds: number;
  resyncsWanted: number;
  resyncsObserved: number;
  windowMs: number;
  writes: RequestSummary;
  reads: RequestSummary;
  providerCalls: string;
  /** Token requests the Google endpoint received while this operator ran (the Google credential was converged with a long-lived token). */
  googleTokenRequests?: number;
  startToCachesSyncedMs?: number;
  rssMiB?: number;
  /** CPU seconds of the whole process life (start-up included). */
  cpuS?: number;
  error?: string;
}

/** V8's heap as the operator reports it on /metrics: in use, and reserved from the system. */
export interface HeapMiB {
  usedMiB: number;
  totalMiB: number;
}

export interface MemoryResult {
  /** The fan-out operator, right after it converged. */
  rssAfterConvergeMiB?: number;
  heapAfterConverge?: HeapMiB;
  peakRssDuringFanOutMiB?: number;
  /** The same process after the rotation and the new-namespace scenarios. */
  rssAfterRotationMiB?: number;
  /** The provider refresh in the same process's workload, after the rotations and before the new namespaces. */
  refresh?: WorkloadRefreshResult;
  rssAfterNewNamespacesMiB?: number;
  heapAfterNewNamespaces?: HeapMiB;
  peakRssMiB?: number;
  /** The same process after 30 s with nothing to do, once the workload is over. */
  rssSettledMiB?: number;
  heapSettled?: HeapMiB;
  /** A fresh operator over the converged state. */
  fresh?: FreshStart;
  /** The same, caching objects whole (REGCRED_INFORMER_TRANSFORM=false): what the informer transforms save. */
  freshUntransformed?: FreshStart;
  unrelated?: {
    secrets: number;
    namespaces: number;
    /** Their total size as a list call returns them (a lower bound of what caching them would cost). */
    listBytes: number;
    /** One entry per fresh operator process. */
    without: FreshStart[];
    with: FreshStart[];
    /** Mean RSS with minus mean RSS without. */
    deltaMiB: number;
    /** The operator's list/watch requests on Secrets while the unrelated Secrets existed. */
    secretRequests: string[];
  };
}

/** A Google credential over a few namespaces in the long-running process: its first token, then one refresh (bench/scenarios/refresh.ts). */
export interface WorkloadRefreshResult {
  credential: string;
  namespaces: number;
  tokenLifetimeS: number;
  /** Create → the first token in every one of its namespaces. */
  firstMs?: number;
  /** When the refresh was minted, as a fraction of the first token's lifetime (the policy: about half). */
  refreshAtFractionOfLifetime?: number;
  /** The refreshed token issued → in every one of its namespaces. */
  refreshIssuedToEverywhereMs?: number;
  /** Counted by the endpoint: 2, one per mint, whatever the number of namespaces. */
  tokenRequests: number;
  error?: string;
}

export interface FreshStart {
  startToCachesSyncedMs: number;
  informerSyncMs?: number;
  cached?: Record<string, number>;
  rssMiB: number;
  rssSamplesMiB: number[];
  /** Read from /metrics after the RSS samples. */
  heap?: HeapMiB;
  /**
   * The same process again after SETTLE_MS with nothing to do, as the long-running process is measured
   * settled: by then it has given back the heap its first list grew, if that grew it enough
   * (src/observability/idle-compaction.ts). The figure the long-running process is compared with.
   */
  settled?: { rssMiB: number; rssSamplesMiB: number[]; heap?: HeapMiB; compacted: boolean; afterMs: number };
  /** The process's VmHWM when it was last sampled: its own peak (the first list). */
  peakRssMiB?: number;
}

/** One takeover: the leader is signalled, a labelled namespace is created right after, the follower takes over. */
export interface FailoverTakeover {
  signal: 'SIGTERM' | 'SIGKILL';
  /** From the signal to the follower's "became leader" line (as the benchmark read it). */
  becameLeaderMs?: number;
  /** From the signal to the namespace created right after it holding the pull Secret with the credential. */
  newNamespaceSecretMs?: number;
  /**
   * The theoretical bound from client-go's semantics, not a measured baseline: SIGTERM, one retry period (the
   * leader releases the Lease and the follower takes it at its next look); SIGKILL, the lease duration plus one
   * retry period. Nominal: the follower's looks are jittered by up to 1.2 retry periods more, as client-go's are,
   * and it counts the lease from when it saw the last renewal, so the worst case within the same semantics is
   * 2.2 retry periods (SIGTERM) and lease duration + 4.4 retry periods (SIGKILL).
   */
  boundMs: number;
  becameLeaderOverBound?: number;
  newNamespaceOverBound?: number;
  /** SIGTERM only: from the signal to the old leader's "released the lease" line. */
  releasedMs?: number;
  /** SIGTERM only: the old leader's exit code. */
  exitCode?: number | null;
  timeoutMs: number;
}

/** Scenario 7: two replicas with --leader-elect; run once, at the smallest size. */
export interface FailoverResult {
  replicas: number;
  leaseDurationS: number;
  renewDeadlineS: number;
  retryPeriodS: number;
  /** Namespaces the credential targeted before the takeovers (the new ones aside). */
  targets: number;
  sigterm?: FailoverTakeover;
  sigkill?: FailoverTakeover;
  /** Both replicas running, a Google credential over one namespace: token requests (counted by the local endpoint) per refresh. */
  provider?: {
    tokenLifetimeS: number;
    refreshes: number;
    tokenRequests: number;
    callsPerRefresh?: number;
    error?: string;
  };
  error?: string;
}

/** Many credentials over the same namespaces (scenario "multi"). */
export interface MultiResult {
  credentials: number;
  namespaces: number;
  /** Managed Secrets at the end: credentials × namespaces. */
  secrets: number;
  timeoutMs: number;
  /** Create of the first credential → every Secret and every ServiceAccount entry in place. */
  operatorMs?: number;
  /** The same writes from a minimal client (one create per Secret, one merge patch per entry). */
  floorMs?: number;
  operatorOverFloor?: number;
  operatorWrites?: RequestSummary;
  floorWrites?: RequestSummary;
  cpuS?: number;
  rssAfterConvergeMiB?: number;
  peakRssMiB?: number;
  detail?: string;
  error?: string;
}

/** The fan-out again under a FlowSchema that makes the API server answer part of it with 429 (scenario "apf"). */
export interface ApfResult {
  namespaces: number;
  /** The same fan-out without the FlowSchema (scenario "fanout", same size). */
  baselineMs?: number;
  ms?: number;
  timeoutMs: number;
  extraMs?: number;
  overBaseline?: number;
  writes?: RequestSummary;
  /** Write requests the API server answered 429 (audit log); each was retried later. */
  rejected?: number;
  /** Reconciles requeued with backoff (regcred_queue_retries_total) over the fan-out. */
  reconcileRetries?: number;
  detail?: string;
  error?: string;
}

/** One operator's informers over the watch-expiry window. */
export interface WatchRun {
  lists: number;
  relists: number;
  watches: number;
  bookmarks: number;
  relistsByInformer: Record<string, number>;
  rssMiB: number;
  cpuS: number;
}

/** Forced watch expiry with and without bookmarks (scenario "watch"). */
export interface WatchExpiryResult {
  /** Seconds of churn done. */
  durationS: number;
  /** The most churn allowed (--watch-churn); absent in runs before it was a limit. */
  maxChurnS?: number;
  /** When the operator without bookmarks first relisted (the window moved past a quiet watch); absent: it never did. */
  windowMovedAfterS?: number;
  watchTimeoutS: number;
  churnWrites: number;
  bookmarks?: WatchRun;
  noBookmarks?: WatchRun;
  error?: string;
}

/** What failed when a peer could not be built or run: the stage, the command when there was one, the error. */
export interface PeerFailure {
  stage: string;
  command?: string;
  message: string;
}

export interface PeerBuild {
  /** Relative to the repository root. */
  binary: string;
  /** The binary was already there (built by an earlier run); then ms is absent. */
  cached: boolean;
  ms?: number;
  command: string;
  goVersion?: string;
}

/** One tool in the peer scenario: its fan-out from create to every namespace holding a valid pull Secret, then a refresh window. */
export interface PeerToolResult {
  tool: string;
  /** The audit log user its requests are counted under. */
  user: string;
  /** Whether it also lists the Secret in each namespace's default ServiceAccount (ESO does not patch ServiceAccounts). */
  patchesServiceAccounts: boolean;
  config: string;
  command?: string;
  startToWorkersMs?: number;
  /** ms: from the create request to the first list poll showing the valid Secret in every namespace (Secrets only). */
  fanOut?: Timed & {
    /** The operator: Secrets and the default ServiceAccounts' entries. */
    withServiceAccountsMs?: number;
    polls: number;
    meanPollPeriodMs?: number;
    /** GetAuthorizationToken calls moto answered from the create request to convergence. */
    providerCalls: number;
    writes: RequestSummary;
    reads: RequestSummary;
    rssMiB?: number;
  };
  /** After convergence, nothing changed, for a few refresh intervals. */
  refresh?: {
    intervalS: number;
    windowMs: number;
    intervals: number;
    providerCalls: number;
    callsPerInterval: number;
    /** Refreshes done in the window, counted as the status writes that end them (refreshWrite, from the audit log). */
    refreshes: number;
    refreshWrite: string;
    callsPerRefresh?: number;
    writes: RequestSummary;
    writesPerInterval: number;
    reads: RequestSummary;
    /** The fewest namespaces holding a valid Secret at any sample during the window (every 10 s). */
    minValidSecrets?: number;
    validitySamples: number;
    rssMiB?: number;
  };
  /** VmHWM at the end, or the largest VmRSS sampled if higher (the kernel updates VmHWM lazily). */
  peakRssMiB?: number;
  /** Operator: lines at warn or above; ESO: lines at error level. */
  warnings?: number;
  status?: unknown;
  /** ESO only: what the local HTTPS proxy to moto saw. */
  proxy?: { tunnels: number; requests: number; refused: string[] };
  error?: PeerFailure;
}

/** Scenario "peer": external-secrets beside the operator, both publishing an ECR pull Secret from moto. */
export interface PeerResult {
  targets: number;
  registry: string;
  motoVersion: string;
  refreshIntervalS: number;
  esoVersion: string;
  esoBuild?: PeerBuild;
  esoCrds?: {
    installed: number;
    conversionWebhooksStripped: number;
    /** CRDs the API server rejected until fields with x-kubernetes-preserve-unknown-fields and no type got type: object. */
    typedFields: string[];
  };
  esoEndpointOverride: string;
  esoAuth: string;
  operator?: PeerToolResult;
  eso?: PeerToolResult;
  error?: PeerFailure;
}

export interface SizeResult {
  multi?: MultiResult;
  apf?: ApfResult;
  watch?: WatchExpiryResult;
  size: number;
  setup: { createNamespacesMs: number; defaultServiceAccountsMs: number };
  fanout?: FanOutResult;
  rotation?: RotationResult;
  refresh?: RefreshResult;
  newns?: NewNamespaceResult;
  steady?: SteadyResult;
  memory?: MemoryResult;
  failover?: FailoverResult;
  peer?: PeerResult;
  cleanup?: Timed;
  errors: string[];
}

export interface Machine {
  nproc: number;
  memTotalGiB: number;
  cpuModel: string;
  kernel: string;
  node: string;
  kubectl: string;
  kubernetes: string;
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  durationS?: number;
  command: string;
  /** The commit the operator was built from, and whether src/ had uncommitted changes then. */
  source?: { commit: string; srcDirty: boolean };
  machine: Machine;
  /** NODE_OPTIONS every operator process ran with: the shipped Deployment's. */
  operatorNodeOptions?: string;
  options: Record<string, unknown>;
  sizes: SizeResult[];
}
