import { accessSync, constants } from 'node:fs';
import { DEFAULT_OPERATOR_NAMESPACE } from './api/constants.js';
import { timingProblem, type ElectionTiming } from './leader/timing.js';

/** The one validated configuration object, built once from flags and environment. */
export interface OperatorConfig {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  logLevel: LogLevel;
  /** Reconciles running at once. */
  concurrency: number;
  /** Concurrent API writes within one reconcile's fan-out. */
  writeConcurrency: number;
  healthPort: number;
  /** Prometheus /metrics, on a port of its own. */
  metricsPort: number;
  /** Safety-net resync of every RegistryCredential. */
  resyncIntervalMs: number;
  /** How long one provider call (ECR, Google) may take before it counts as failed. */
  providerTimeoutMs: number;
  /** Provider calls in flight at once, per provider; more wait their turn outside the reconcile workers. */
  providerConcurrency: number;
  /** How long one request of a registry probe may take. */
  verifyTimeoutMs: number;
  /** Registry hosts probed at once, across all RegistryCredentials. */
  verifyConcurrency: number;
  /** A PEM bundle of CAs trusted for registry probes, besides the system roots (a private registry's CA). */
  registryCaFile?: string;
  /** Docker Hub headroom under this percentage of the limit is reported. */
  headroomPercent: number;
  /** V8 collects once the heap has grown this percentage past what the last full collection left live; 0: V8 decides. */
  heapGrowingPercent: number;
  /** Leader election over the Lease regcred-operator in `namespace`; undefined: off, this process always works. */
  leaderElection?: ElectionTiming;
  prettyLogs: boolean;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RunFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  logLevel?: string;
  concurrency?: string;
  writeConcurrency?: string;
  healthPort?: string;
  metricsPort?: string;
  resyncSeconds?: string;
  providerTimeoutSeconds?: string;
  providerConcurrency?: string;
  verifyTimeoutSeconds?: string;
  verifyConcurrency?: string;
  registryCaFile?: string;
  dockerhubHeadroomPercent?: string;
  heapGrowingPercent?: string;
  leaderElect?: boolean;
  leaderElectLeaseDurationSeconds?: string;
  leaderElectRenewDeadlineSeconds?: string;
  leaderElectRetryPeriodSeconds?: string;
}

export class ConfigError extends Error {}

/** What `regcred run` uses for a flag that is not given (and, for the first two, no environment either). `regcred run --help` shows these. */
export const RUN_DEFAULTS = {
  namespace: DEFAULT_OPERATOR_NAMESPACE,
  logLevel: 'info',
  concurrency: 4,
  writeConcurrency: 16,
  healthPort: 8081,
  metricsPort: 8080,
  resyncSeconds: 600,
  providerTimeoutSeconds: 30,
  providerConcurrency: 4,
  verifyTimeoutSeconds: 10,
  verifyConcurrency: 4,
  dockerhubHeadroomPercent: 10,
  heapGrowingPercent: 10,
  // client-go's defaults (and controller-runtime's).
  leaderElectLeaseDurationSeconds: 15,
  leaderElectRenewDeadlineSeconds: 10,
  leaderElectRetryPeriodSeconds: 2,
} as const;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function buildConfig(flags: RunFlags, env: NodeJS.ProcessEnv, isTty: boolean): OperatorConfig {
  const namespace = flags.namespace ?? env.POD_NAMESPACE ?? RUN_DEFAULTS.namespace;
  if (!DNS1123_LABEL.test(namespace)) {
    throw new ConfigError(`--namespace "${namespace}" is not a valid namespace name (lowercase letters, digits and "-", at most 63)`);
  }
  const logLevel = (flags.logLevel ?? env.LOG_LEVEL ?? RUN_DEFAULTS.logLevel).toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const healthPort = parseIntFlag('--health-port', flags.healthPort, RUN_DEFAULTS.healthPort, 0, 65535);
  const metricsPort = parseIntFlag('--metrics-port', flags.metricsPort, RUN_DEFAULTS.metricsPort, 0, 65535);
  if (healthPort !== 0 && healthPort === metricsPort) {
    throw new ConfigError(`--metrics-port and --health-port are both ${healthPort}; they need a port each`);
  }
  return {
    kubeconfig: flags.kubeconfig ?? undefined,
    context: flags.context ?? undefined,
    namespace,
    logLevel: logLevel as LogLevel,
    concurrency: parseIntFlag('--concurrency', flags.concurrency, RUN_DEFAULTS.concurrency, 1, 64),
    writeConcurrency: parseIntFlag('--write-concurrency', flags.writeConcurrency, RUN_DEFAULTS.writeConcurrency, 1, 256),
    healthPort,
    metricsPort,
    resyncIntervalMs: parseIntFlag('--resync-seconds', flags.resyncSeconds, RUN_DEFAULTS.resyncSeconds, 1, 86400) * 1000,
    providerTimeoutMs: parseIntFlag('--provider-timeout-seconds', flags.providerTimeoutSeconds, RUN_DEFAULTS.providerTimeoutSeconds, 1, 600) * 1000,
    providerConcurrency: parseIntFlag('--provider-concurrency', flags.providerConcurrency, RUN_DEFAULTS.providerConcurrency, 1, 64),
    verifyTimeoutMs: parseIntFlag('--verify-timeout-seconds', flags.verifyTimeoutSeconds, RUN_DEFAULTS.verifyTimeoutSeconds, 1, 120) * 1000,
    verifyConcurrency: parseIntFlag('--verify-concurrency', flags.verifyConcurrency, RUN_DEFAULTS.verifyConcurrency, 1, 64),
    registryCaFile: readableFile('--registry-ca-file', flags.registryCaFile ?? env.REGCRED_REGISTRY_CA_FILE),
    headroomPercent: parseIntFlag('--dockerhub-headroom-percent', flags.dockerhubHeadroomPercent, RUN_DEFAULTS.dockerhubHeadroomPercent, 0, 100),
    heapGrowingPercent: parseIntFlag('--heap-growing-percent', flags.heapGrowingPercent, RUN_DEFAULTS.heapGrowingPercent, 0, 400),
    leaderElection: leaderElection(flags),
    prettyLogs: isTty && env.LOG_FORMAT !== 'json',
  };
}

/** The three durations are checked even without --leader-elect, so a mistake shows before it is switched on. */
function leaderElection(flags: RunFlags): ElectionTiming | undefined {
  const seconds = {
    lease: parseIntFlag('--leader-elect-lease-duration-seconds', flags.leaderElectLeaseDurationSeconds, RUN_DEFAULTS.leaderElectLeaseDurationSeconds, 1, 3600),
    renew: parseIntFlag('--leader-elect-renew-deadline-seconds', flags.leaderElectRenewDeadlineSeconds, RUN_DEFAULTS.leaderElectRenewDeadlineSeconds, 1, 3600),
    retry: parseIntFlag('--leader-elect-retry-period-seconds', flags.leaderElectRetryPeriodSeconds, RUN_DEFAULTS.leaderElectRetryPeriodSeconds, 1, 3600),
  };
  const timing = { leaseDurationMs: seconds.lease * 1000, renewDeadlineMs: seconds.renew * 1000, retryPeriodMs: seconds.retry * 1000 };
  const problem = timingProblem(timing);
  if (problem) {
    throw new ConfigError(
      `${problem} (--leader-elect-lease-duration-seconds ${seconds.lease}, --leader-elect-renew-deadline-seconds ${seconds.renew}, --leader-elect-retry-period-seconds ${seconds.retry})`,
    );
  }
  return flags.leaderElect === true ? timing : undefined;
}

/** A file the operator must read (a CA bundle): a missing or unreadable one is a start-up error, not a probe failure later. */
function readableFile(name: string, path: string | undefined): string | undefined {
  if (path === undefined || path === '') return undefined;
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw new ConfigError(`${name} "${path}" cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): mount the CA bundle there or remove the flag`);
  }
  return path;
}

function parseIntFlag(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  // Digits only: Number() would read "" and " " as 0, and accept "0x1F" or "1e3".
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} "${raw}" must be a whole number from ${min} to ${max}`);
  }
  return value;
}
