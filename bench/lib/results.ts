import type { RequestSummary } from './audit.js';

/** A timed outcome: `ms` is absent when it did not converge within `timeoutMs`. */
export interface Timed {
  ms?: number;
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
    writes: RequestSummary;
    /** Operator CPU seconds from the create request to convergence. */
    cpuS?: number;
    meanPollPeriodMs?: number;
    status?: unknown;
    warnings: number;
  };
  /** cpuS: the benchmark process's own CPU time while it ran the floor client (nothing else runs then). */
  floor?: Timed & { writes: RequestSummary; concurrency: number; cpuS?: number };
  cronjob?: Timed & {
    /** Namespaces the script was timed over. */
    measuredNamespaces: number;
    measuredMs?: number;
    extrapolated: boolean;
    perNamespaceMs?: number;
    writes: RequestSummary;
  };
  operatorOverFloor?: number;
  cronjobOverOperator?: number;
}

export interface RotationResult extends Timed {
  targets: number;
  writes: RequestSummary;
  cpuS?: number;
  meanPollPeriodMs?: number;
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
  startToCachesSyncedMs?: number;
  rssMiB?: number;
  /** CPU seconds of the whole process life (start-up included). */
  cpuS?: number;
  error?: string;
}

export interface MemoryResult {
  /** The fan-out operator, right after it converged. */
  rssAfterConvergeMiB?: number;
  peakRssDuringFanOutMiB?: number;
  /** The same process after the rotation and the new-namespace scenarios. */
  rssAfterRotationMiB?: number;
  rssAfterNewNamespacesMiB?: number;
  peakRssMiB?: number;
  /** A fresh operator over the converged state. */
  fresh?: FreshStart;
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

export interface FreshStart {
  startToCachesSyncedMs: number;
  informerSyncMs?: number;
  cached?: Record<string, number>;
  rssMiB: number;
  rssSamplesMiB: number[];
}

export interface SizeResult {
  size: number;
  setup: { createNamespacesMs: number; defaultServiceAccountsMs: number };
  fanout?: FanOutResult;
  rotation?: RotationResult;
  newns?: NewNamespaceResult;
  steady?: SteadyResult;
  memory?: MemoryResult;
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
  options: Record<string, unknown>;
  sizes: SizeResult[];
}
