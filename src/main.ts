/**
 * The composition root: the only place that reads the environment, builds
 * clients, caches, queue, providers, clock and logger, and wires them. Nothing
 * else calls process.exit or touches process signals.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { DEFAULT_OPERATOR_NAMESPACE } from './api/constants.js';
import { packageVersion, type LocalFlags, type StartFlags } from './commands.js';
import { buildConfig, ConfigError, type OperatorConfig, type RunFlags } from './config.js';
import { connect, hasConfiguredCluster, loadKubeConfig } from './kube/connection.js';
import { ensureControlPlaneBinary, startControlPlane, tailOf, type RunningControlPlane } from './local/control-plane.js';
import { installIntoCluster } from './local/install.js';
import { createLogger, type Logger } from './observability/logger.js';
import { startHealthServer } from './observability/health.js';
import { logProcessWarnings } from './observability/process-warnings.js';
import type { ListeningServer } from './observability/http.js';
import { limitHeapGrowth } from './observability/heap-growth.js';
import { startIdleCompaction } from './observability/idle-compaction.js';
import { createMetrics, startMetricsServer } from './observability/metrics.js';
import type { WatchOptions } from './kube/list-watch.js';
import { Operator } from './operator.js';
import { systemClock } from './controller/clock.js';
import { kubeWriter } from './kube/writer.js';
import { holderIdentity, LEASE_NAME, LeaderElector } from './leader/elector.js';
import { leaseGuard } from './leader/fence.js';
import { kubeLeaseLock } from './leader/lease-lock.js';
import { lazyProvider } from './providers/lazy.js';
import { createVerifier } from './registry/probe.js';

const LOCAL_OPERATOR_CONTEXT = 'regcred-operator';
/** What `run` resolves with when this replica lost the lease: it exits 1 and the Deployment restarts it as a follower. */
const LOST_LEADERSHIP = 'lost leadership';

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function progressLogger(): (message: string) => void {
  return (message) => process.stderr.write(`regcred: ${message}\n`);
}

async function run(flags: RunFlags, stopSignal: Promise<unknown> = waitForSignal()): Promise<number> {
  let config;
  try {
    config = buildConfig(flags, process.env, Boolean(process.stdout.isTTY));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`regcred run: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel, pretty: config.prettyLogs });
  // For the rest of the process's life: a warning while shutting down belongs in the log too.
  logProcessWarnings(log);
  // Under leader election each replica has an identity of its own, sent as part of its User-Agent too.
  const identity = config.leaderElection ? holderIdentity(process.env.POD_NAME, hostname(), randomUUID()) : undefined;
  let conn;
  try {
    conn = connect(loadKubeConfig(config), { userAgent: `regcred-operator/${packageVersion()}${identity ? ` (${identity})` : ''}` });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot load a kubeconfig');
    return 2;
  }
  const heapGrowingPercent = limitHeapGrowth(config.heapGrowingPercent) ? config.heapGrowingPercent : 'V8 decides';
  log.info(
    { server: conn.describe, namespace: config.namespace, concurrency: config.concurrency, heapLimitMiB: heapLimitMiB(), heapGrowingPercent },
    'starting regcred-operator',
  );
  const metrics = createMetrics();
  const verifier = createVerifier({
    timeoutMs: config.verifyTimeoutMs,
    concurrency: config.verifyConcurrency,
    caFile: config.registryCaFile,
    // Test only: a local stand-in for registry-1.docker.io (docs/reference.md, Environment).
    dockerHubRegistryUrl: process.env.REGCRED_DOCKERHUB_REGISTRY_URL || undefined,
    log,
  });
  const elector = identity ? electorFor(config, identity, conn.kubeConfig, log, metrics, () => void operator.lead()) : undefined;
  metrics.leading(!elector);
  const operator = new Operator({
    // Test and benchmark only (docs/reference.md, Environment): end watches often, or without bookmarks.
    watch: watchOptionsFrom(process.env),
    conn,
    writer: metrics.instrumentWriter(kubeWriter(conn)),
    config,
    log,
    clock: systemClock,
    providers: {
      // Each SDK is loaded when a credential first calls its provider (src/providers/lazy.ts).
      ecr: metrics.instrumentProvider(
        lazyProvider('ecr', async () => {
          const { awsSdkClients, createEcrProvider } = await import('./providers/ecr.js');
          return createEcrProvider({ ...awsSdkClients, env: process.env });
        }),
      ),
      gcr: metrics.instrumentProvider(
        lazyProvider('gcr', async () => {
          const { createGcrProvider } = await import('./providers/gcr.js');
          return createGcrProvider({ env: process.env });
        }),
      ),
    },
    random: Math.random,
    observer: metrics.observer,
    verifier,
    election: elector ? { guard: leaseGuard(elector) } : undefined,
  });
  metrics.readStateFrom(() => operator.state());
  const servers: ListeningServer[] = [];
  try {
    const health = await startHealthServer(config.healthPort, {
      live: () => {
        const liveness = operator.checkLiveness();
        return liveness.live ? { ok: true } : { ok: false, reason: liveness.reason };
      },
      ready: () => {
        const readiness = operator.readiness();
        return readiness.ready ? { ok: true } : { ok: false, reason: readiness.reason };
      },
    });
    servers.push(health);
    log.info({ port: health.port }, 'health server listening');
    const metricsServer = await startMetricsServer(config.metricsPort, metrics.registry, log);
    servers.push(metricsServer);
    log.info({ port: metricsServer.port }, 'metrics server listening');
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot serve health or metrics; is the port in use? (--health-port, --metrics-port)');
    await Promise.all([...servers.map((s) => s.close()), conn.close(), verifier.close()]);
    return 1;
  }
  const stopCompaction = startIdleCompaction(log);
  // The election runs beside the informers' first list: a follower is warm by the time it leads.
  const election = elector ? elector.run().then((end) => (end === 'lost' ? LOST_LEADERSHIP : 'election stopped')) : new Promise<never>(() => undefined);
  let outcome: string;
  try {
    await Promise.race([operator.start(), stopSignal, election]);
    outcome = String(await Promise.race([stopSignal, election]));
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'operator failed to start');
    outcome = 'failed';
  }
  log.info({ reason: outcome }, 'shutting down');
  stopCompaction();
  await operator.stop();
  // After the workers drained (the lease was renewed meanwhile): a leader releases the Lease now.
  await elector?.stop();
  const code = outcome === 'failed' || outcome === LOST_LEADERSHIP ? 1 : 0;
  // Closing waits for requests still in flight (a registry probe to a host that does not answer, a request
  // on a pooled connection), and a library may hold the event loop open after it (seen once after an
  // informer restart): 5 s from here the process exits anyway rather than outlive the kubelet's grace
  // period. Armed before the closes so that one that never ends cannot hold the exit. Unref'd: it never
  // delays a clean exit.
  setTimeout(() => {
    log.warn({ active: process.getActiveResourcesInfo() }, 'still running 5s after stopping the workers; exiting');
    process.exit(code);
  }, 5000).unref();
  await Promise.all([...servers.map((s) => s.close()), conn.close(), verifier.close()]);
  log.info('stopped');
  return code;
}

function electorFor(
  config: OperatorConfig,
  identity: string,
  kubeConfig: Parameters<typeof kubeLeaseLock>[0],
  log: Logger,
  metrics: { leading(leading: boolean): void },
  onStartedLeading: () => void,
): LeaderElector {
  return new LeaderElector({
    lock: kubeLeaseLock(kubeConfig, config.namespace, LEASE_NAME),
    identity,
    timing: config.leaderElection!,
    clock: systemClock,
    monotonic: () => performance.now(),
    random: Math.random,
    log,
    onStartedLeading,
    onLeading: (leading) => metrics.leading(leading),
  });
}

async function startLocal(dir: string, auditLog: boolean, apiPort?: number): Promise<RunningControlPlane> {
  const progress = progressLogger();
  progress(`starting a local control plane in ${dir}`);
  const started = Date.now();
  const cp = await startControlPlane({ dir, apiPort, auditLog, progress });
  const admin = connect(loadKubeConfig({ kubeconfig: cp.kubeconfig }));
  try {
    await installIntoCluster(admin, DEFAULT_OPERATOR_NAMESPACE);
  } catch (err) {
    await cp.stop();
    throw err;
  } finally {
    await admin.close();
  }
  progress(`control plane ready at ${cp.server} in ${((Date.now() - started) / 1000).toFixed(1)}s; CRD and operator RBAC installed`);
  return cp;
}

/** Stops the local control plane and says how long that took. */
async function stopLocal(cp: RunningControlPlane): Promise<void> {
  const started = Date.now();
  await cp.stop();
  progressLogger()(`local control plane stopped in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

function usageHints(cp: RunningControlPlane): string {
  return [
    '',
    'Local control plane is running. In another terminal:',
    `  export KUBECONFIG=${cp.kubeconfig}`,
    '  kubectl apply -f config/samples/quickstart.yaml',
    '  kubectl get registrycredentials',
    `The operator's own identity (RBAC from config/rbac) is the context "${LOCAL_OPERATOR_CONTEXT}".`,
    `Logs: ${cp.logFile}. Stop with Ctrl-C.`,
    '',
  ].join('\n');
}

async function local(flags: LocalFlags): Promise<number> {
  try {
    if (flags.buildOnly) {
      const binary = await ensureControlPlaneBinary(progressLogger());
      process.stderr.write(`regcred: control plane binary: ${binary}\n`);
      return 0;
    }
    const cp = await startLocal(flags.dir, Boolean(flags.auditLog), flags.apiPort);
    // Listening before the hints are printed: a Ctrl-C the moment they appear must stop the control plane, not kill this process.
    const signal = waitForSignal();
    process.stdout.write(usageHints(cp));
    const why = await Promise.race([signal, cp.exited.then((code) => `exit ${code}`)]);
    process.stderr.write(`regcred: stopping the local control plane (${why})\n`);
    await stopLocal(cp);
    if (String(why).startsWith('exit')) {
      process.stderr.write(`${tailOf(cp.logFile, 20)}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    process.stderr.write(`regcred local: ${(err as Error).message}\n`);
    return 1;
  }
}

async function start(flags: StartFlags): Promise<number> {
  if (hasConfiguredCluster(process.env)) {
    process.stderr.write('regcred: using the current kube context\n');
    return run({});
  }
  process.stderr.write('regcred: no kube context is configured (no $KUBECONFIG, ~/.kube/config or in-cluster account), so starting a local control plane\n');
  let cp: RunningControlPlane;
  try {
    cp = await startLocal(flags.dir, false, flags.apiPort);
  } catch (err) {
    process.stderr.write(`regcred start: ${(err as Error).message}\n`);
    return 1;
  }
  const signal = waitForSignal();
  process.stderr.write(usageHints(cp));
  const code = await run(
    { kubeconfig: cp.kubeconfig, context: LOCAL_OPERATOR_CONTEXT, namespace: DEFAULT_OPERATOR_NAMESPACE },
    Promise.race([signal, cp.exited]),
  );
  process.stderr.write('regcred: stopping the local control plane\n');
  await stopLocal(cp);
  return code;
}

/** V8's heap limit (NODE_OPTIONS=--max-old-space-size, or what Node derived from the memory it sees). */
function heapLimitMiB(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024);
}

export const main = { run: (flags: RunFlags): Promise<number> => run(flags), local, start };
export type { Logger };

/** REGCRED_WATCH_TIMEOUT_SECONDS (a whole number of seconds), REGCRED_WATCH_BOOKMARKS=false, REGCRED_INFORMER_TRANSFORM=false: test and benchmark knobs. */
export function watchOptionsFrom(env: NodeJS.ProcessEnv): WatchOptions {
  const options: WatchOptions = {};
  const timeout = env.REGCRED_WATCH_TIMEOUT_SECONDS?.trim();
  if (timeout && /^[1-9]\d*$/.test(timeout)) options.timeoutSeconds = Number(timeout);
  if (env.REGCRED_WATCH_BOOKMARKS?.trim() === 'false') options.bookmarks = false;
  if (env.REGCRED_INFORMER_TRANSFORM?.trim() === 'false') options.untransformed = true;
  return options;
}
