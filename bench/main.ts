/**
 * `npm run bench`: one real local control plane (with its audit log) for the
 * whole run; at each size, the scenarios in bench/scenarios/. Prints a table,
 * writes bench/results/latest.{json,md} (or NAME.{json,md} with --save-as NAME) and BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, USAGE, UsageError, type BenchOptions } from './lib/args.js';
import { CREDENTIAL_NAME, REGISTRY, SOURCE_SECRET, startOperator, timeoutFor, type BenchContext } from './lib/context.js';
import {
  clients,
  createNamespaces,
  createOpaqueSecret,
  credentialStatus,
  deleteCredential,
  namespaceName,
  OPERATOR_CONTEXT,
  TARGET_LABEL,
  waitForDefaultServiceAccounts,
  deleteNamespacesAndWait,
} from './lib/kube.js';
import { deploymentNodeOptions, deploymentRuntimeEnv } from './lib/deployment.js';
import { describeMachine } from './lib/machine.js';
import type { OperatorProcess } from './lib/operator.js';
import { benchmarksMarkdown, describeKeptRun, goalsBlock, withKeptRuns, type KeptRun } from './lib/benchmarks-md.js';
import { markdownReport, textTable } from './lib/report.js';
import type { BenchResults, SizeResult } from './lib/results.js';
import { cronjobKubeconfig } from './lib/setup.js';
import { errorMessage, progress, repoRoot, sleep, waitUntil } from './lib/util.js';
import { failover } from './scenarios/failover.js';
import { fanOut, waitForCleanState } from './scenarios/fanout.js';
import { freshStart, SETTLE_MS, unrelatedSecrets } from './scenarios/memory.js';
import { newNamespaceName, newNamespaces } from './scenarios/newns.js';
import { peer } from './scenarios/peer.js';
import { providerRefresh, startWorkloadGoogle, WORKLOAD_GOOGLE_CREDENTIAL, WORKLOAD_GOOGLE_NAMESPACES, type GoogleSetup, type WorkloadGoogle } from './scenarios/refresh.js';
import { rotations } from './scenarios/rotation.js';
import { apfFanOut, multiCredential, watchExpiry } from './scenarios/scale.js';
import { steadyState } from './scenarios/steady.js';

type ControlPlaneModule = typeof import('../src/local/control-plane.js');
type InstallModule = typeof import('../src/local/install.js');
type ConnectionModule = typeof import('../src/kube/connection.js');

/** The control plane launcher finds its sources from its own location, so it is loaded from the build (dist/). */
async function loadBuilt<T>(root: string, path: string): Promise<T> {
  return (await import(pathToFileURL(join(root, 'dist', path)).href)) as T;
}

function sourceVersion(root: string): BenchResults['source'] {
  const git = (...args: string[]): string | undefined => {
    const out = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
    return out.status === 0 ? out.stdout.trim() : undefined;
  };
  const commit = git('rev-parse', '--short', 'HEAD');
  return commit ? { commit, srcDirty: (git('status', '--porcelain', '--', 'src') ?? '') !== '' } : undefined;
}

/** The reports kept with --save-as, by file name. */
function keptRuns(resultsDir: string): KeptRun[] {
  return readdirSync(resultsDir)
    .filter((file) => file.endsWith('.md') && file !== 'latest.md')
    .sort()
    .map((file) => describeKeptRun(file, readFileSync(join(resultsDir, file), 'utf8')));
}

function commandLine(argv: readonly string[]): string {
  return `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
}

async function runSize(ctx: BenchContext, size: number, last: boolean, created: { count: number }): Promise<SizeResult> {
  const { core } = ctx.admin;
  const scenarios = ctx.options.scenarios;
  const targets = Array.from({ length: size }, (_, i) => namespaceName(i));
  const result: SizeResult = { size, setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 }, errors: [] };

  progress(`size ${size}: creating ${Math.max(0, size - created.count)} namespaces (label ${TARGET_LABEL}=true)`);
  let t = Date.now();
  await createNamespaces(core, targets.slice(created.count), { [TARGET_LABEL]: 'true' });
  created.count = Math.max(created.count, size);
  result.setup.createNamespacesMs = Date.now() - t;
  t = Date.now();
  await waitForDefaultServiceAccounts(core, new Set(targets), timeoutFor(120_000, 150, size));
  result.setup.defaultServiceAccountsMs = Date.now() - t;
  progress(`size ${size}: default ServiceAccounts present in all ${size} namespaces`);

  let operator: OperatorProcess | undefined;
  let google: GoogleSetup | undefined;
  let workloadGoogle: WorkloadGoogle | undefined;
  try {
    if (scenarios.has('peer')) {
      // First, from the clean state: it removes what it publishes before the operator's static fan-out.
      progress(`size ${size}: peer (external-secrets beside the operator, ECR tokens from moto)`);
      result.peer = await peer(ctx, targets, size);
      // external-secrets failing to build or run is reported in its own section, not as a failure of the run.
      for (const [what, failure] of [
        ['peer', result.peer.error],
        ['peer, operator', result.peer.operator?.error],
      ] as const) {
        if (failure) result.errors.push(`${what}: ${failure.stage}: ${failure.message}${failure.command ? ` (command: ${failure.command})` : ''}`);
      }
    }
    // Every other scenario starts from the operator's static fan-out.
    if (![...scenarios].some((s) => s !== 'peer')) return result;
    // The memory scenario's workload includes a provider refresh: its token endpoint is in the environment of
    // every operator from the fan-out's on, so that the fresh operators compared with it run over the same state.
    if (scenarios.has('memory')) workloadGoogle = await startWorkloadGoogle(ctx, size);
    const { result: fan, run } = await fanOut(ctx, targets, size, scenarios.has('fanout'));
    result.fanout = fan;
    operator = run.operator;
    if (scenarios.has('memory')) result.memory = { rssAfterConvergeMiB: run.rssAfterConvergeMiB, heapAfterConverge: run.heapAfterConverge, peakRssDuringFanOutMiB: run.peakRssMiB };
    if (fan.operator.ms === undefined) throw new Error(`the operator did not converge at ${size} namespaces; the scenarios that start from its end state are skipped`);

    if (scenarios.has('apf')) {
      progress(`size ${size}: the fan-out again under a FlowSchema that rejects part of it (429)`);
      result.apf = await apfFanOut(ctx, targets, size, fan.operator.ms, operator);
      if (result.apf.error) result.errors.push(`apf: ${result.apf.error}`);
    }
    if (scenarios.has('rotation')) {
      result.rotation = await rotations(ctx, targets, operator, ctx.options.rotations);
      if (result.memory) result.memory.rssAfterRotationMiB = operator.memory().rssKiB / 1024;
    }
    if (workloadGoogle && result.memory) {
      progress(`size ${size}: provider refresh in the same process (${WORKLOAD_GOOGLE_CREDENTIAL} over ${Math.min(size, WORKLOAD_GOOGLE_NAMESPACES)} namespaces)`);
      result.memory.refresh = await workloadGoogle.refresh(targets);
      if (result.memory.refresh.error) result.errors.push(`memory, provider refresh in the workload: ${result.memory.refresh.error}`);
    }
    if (scenarios.has('newns')) {
      progress(`size ${size}: ${ctx.options.newNamespaces} new namespaces at ${ctx.options.newNamespacesPerSecond}/s`);
      result.newns = await newNamespaces(ctx, size, operator);
      if (result.memory) {
        result.memory.rssAfterNewNamespacesMiB = operator.memory().rssKiB / 1024;
        result.memory.heapAfterNewNamespaces = await operator.heapMiB();
      }
    }
    const memoryExtras = ctx.options.memoryExtrasAt === 'every' || last;
    if (result.memory) result.memory.peakRssMiB = operator.memory().hwmKiB / 1024;
    if (result.memory && memoryExtras) {
      // Settled: the same process after 30 s with nothing to do (V8's memory reducer runs once allocation stops).
      progress(`size ${size}: memory, letting the long-running process settle for ${SETTLE_MS / 1000} s`);
      await sleep(SETTLE_MS);
      result.memory.rssSettledMiB = operator.memory().rssKiB / 1024;
      result.memory.heapSettled = await operator.heapMiB();
    }
    await operator.stop();
    if (scenarios.has('watch')) {
      result.watch = await watchExpiry(ctx, size, ctx.options.watchChurnSeconds, ctx.options.watchTimeoutSeconds);
      if (result.watch.error) result.errors.push(`watch: ${result.watch.error}`);
    }
    if (scenarios.has('failover') && size === ctx.options.sizes[0]) {
      progress(`size ${size}: failover (2 replicas with --leader-elect; once, at the smallest size)`);
      result.failover = await failover(ctx, size);
      if (result.failover.error) result.errors.push(`failover: ${result.failover.error}`);
    }
    if (scenarios.has('refresh')) {
      progress(`size ${size}: provider refresh (a Google credential beside the static one)`);
      const run = await providerRefresh(ctx, size);
      result.refresh = run.result;
      google = run.google;
      if (run.result.error) result.errors.push(`provider refresh: ${run.result.error}`);
    }
    if (scenarios.has('steady')) {
      progress(`size ${size}: steady state (${ctx.options.resyncs} resyncs at 2 s)`);
      result.steady = await steadyState(ctx, size, google);
    }
    if (google) {
      progress(`size ${size}: removing the Google credential`);
      const g = google;
      google = undefined;
      await g.cleanUp();
    }
    if (scenarios.has('memory')) {
      result.memory ??= {};
      if (last) {
        result.memory.unrelated = await unrelatedSecrets(ctx, size);
        result.memory.fresh = result.memory.unrelated.without[0];
      } else {
        progress(`size ${size}: memory, fresh operator over the converged state`);
        result.memory.fresh = await freshStart(ctx, `fresh-${size}`, size, {}, memoryExtras);
      }
      if (memoryExtras) {
        progress(`size ${size}: memory, fresh operator caching objects whole (REGCRED_INFORMER_TRANSFORM=false)`);
        result.memory.freshUntransformed = await freshStart(ctx, `fresh-untransformed-${size}`, size, { REGCRED_INFORMER_TRANSFORM: 'false' });
      }
    }
    if (workloadGoogle) {
      progress(`size ${size}: removing ${WORKLOAD_GOOGLE_CREDENTIAL}`);
      await workloadGoogle.cleanUp();
    }
    if (scenarios.has('multi')) {
      // Last: it needs the single credential gone, and leaves the namespaces clean.
      progress(`size ${size}: ${ctx.options.multiCredentials} credentials over the same ${size} namespaces`);
      await deleteCredentialWithOperator(ctx, size);
      result.multi = await multiCredential(ctx, targets, size, ctx.options.multiCredentials);
      if (result.multi.error) result.errors.push(`multi: ${result.multi.error}`);
    }
  } catch (err) {
    result.errors.push(errorMessage(err));
    progress(`size ${size}: ${errorMessage(err)}`);
  } finally {
    await operator?.stop();
    await google?.cleanUp().catch((err: unknown) => result.errors.push(errorMessage(err)));
    // A no-op once removed above.
    await workloadGoogle?.cleanUp().catch((err: unknown) => result.errors.push(errorMessage(err)));
  }
  if (!last) result.cleanup = await cleanUp(ctx, targets, size);
  return result;
}

/** Deletes the RegistryCredential while an operator runs (its finalizer takes back the Secrets and entries). */
async function deleteCredentialWithOperator(ctx: BenchContext, size: number): Promise<void> {
  if ((await credentialStatus(ctx.admin.custom, CREDENTIAL_NAME)) === undefined) return;
  const operator = startOperator(ctx, `delete-${size}`);
  try {
    await operator.cachesSynced(timeoutFor(60_000, 20, size));
    await deleteCredential(ctx.admin.custom, CREDENTIAL_NAME);
    await waitUntil('the RegistryCredential to be gone', async () => ((await credentialStatus(ctx.admin.custom, CREDENTIAL_NAME)) === undefined ? true : undefined), timeoutFor(60_000, 60, size), 250);
  } finally {
    await operator.stop();
  }
}

/** Deletes the RegistryCredential (the operator removes its Secrets and entries) and the namespaces added by the latency scenario. */
async function cleanUp(ctx: BenchContext, targets: readonly string[], size: number): Promise<SizeResult['cleanup']> {
  progress(`size ${size}: cleaning up for the next size`);
  const timeoutMs = timeoutFor(60_000, 60, targets.length);
  const operator = startOperator(ctx, `cleanup-${size}`);
  let ms: number | undefined;
  try {
    await operator.cachesSynced(timeoutFor(60_000, 20, size));
    const started = Date.now();
    await deleteCredential(ctx.admin.custom, CREDENTIAL_NAME);
    await waitUntil('the RegistryCredential to be gone', async () => ((await credentialStatus(ctx.admin.custom, CREDENTIAL_NAME)) === undefined ? true : undefined), timeoutMs, 250);
    await waitForCleanState(ctx, new Set(targets));
    ms = Date.now() - started;
  } finally {
    await operator.stop();
  }
  const added = Array.from({ length: ctx.options.newNamespaces }, (_, i) => newNamespaceName(size, i));
  await deleteNamespacesAndWait(ctx.admin.core, added);
  return { ms, timeoutMs };
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message ? `${err.message}\n` : ''}${USAGE}\n`);
      return err.message ? 2 : 0;
    }
    throw err;
  }
  const root = repoRoot();
  const dir = resolve(root, options.dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const operatorDist = join(dir, 'operator-dist');
  cpSync(join(root, 'dist'), operatorDist, { recursive: true });
  // The CLI reads its version from the package.json one level above its own directory (src/commands.ts).
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  const source = sourceVersion(root);

  const controlPlane = await loadBuilt<ControlPlaneModule>(root, 'local/control-plane.js');
  const install = await loadBuilt<InstallModule>(root, 'local/install.js');
  const connection = await loadBuilt<ConnectionModule>(root, 'kube/connection.js');

  const startedAt = new Date();
  progress(`starting one local control plane with its audit log in ${dir}`);
  const cp = await controlPlane.startControlPlane({ dir, auditLog: true, progress: (m) => progress(m) });
  const operators = new Set<OperatorProcess>();
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.all([...operators].map((o) => o.stop()));
    await cp.stop();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping the operator and the control plane`);
    void shutdown().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    if (!cp.auditLog) throw new Error('the control plane did not report an audit log path');
    const installer = connection.connect(connection.loadKubeConfig({ kubeconfig: cp.kubeconfig }));
    await install.installIntoCluster(installer).finally(() => installer.close());
    const admin = clients(cp.kubeconfig);
    const machine = await describeMachine(admin.kc, root);
    const operatorNodeOptions = options.nodeOptions ?? deploymentNodeOptions(root);
    // The Deployment's other runtime settings (MALLOC_ARENA_MAX) unless --operator-env says otherwise.
    options.operatorEnv = { ...deploymentRuntimeEnv(root), ...options.operatorEnv };
    const ctx: BenchContext = {
      root,
      operatorDist,
      options,
      dir,
      kubeconfig: cp.kubeconfig,
      auditLog: cp.auditLog,
      admin,
      operatorIdentity: clients(cp.kubeconfig, OPERATOR_CONTEXT),
      cronjobKubeconfig: await cronjobKubeconfig(admin, dir),
      credential: { registry: REGISTRY, username: 'bench-user', password: 'pw-initial-0001' },
      operators,
      operatorNodeOptions,
      sizeEnv: {},
    };
    await createOpaqueSecret(admin.core, SOURCE_SECRET, { username: ctx.credential.username, password: ctx.credential.password });
    progress(`control plane ready (${machine.kubernetes}) at ${cp.server}; sizes ${options.sizes.join(', ')}; scenarios ${[...options.scenarios].join(', ')}`);

    const results: BenchResults = {
      startedAt: startedAt.toISOString(),
      command: commandLine(argv),
      source,
      machine,
      operatorNodeOptions,
      options: { ...options, scenarios: [...options.scenarios] },
      sizes: [],
    };
    const created = { count: 0 };
    for (const [index, size] of options.sizes.entries()) {
      const last = index === options.sizes.length - 1;
      try {
        results.sizes.push(await runSize(ctx, size, last, created));
      } catch (err) {
        // Setup or cleanup failed: the cluster's state is unknown, so the larger sizes would not measure what they say.
        progress(`size ${size}: ${errorMessage(err)}; stopping here`);
        results.sizes.push({ size, setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 }, errors: [errorMessage(err)] });
        break;
      }
    }
    results.finishedAt = new Date().toISOString();
    results.durationS = Math.round((Date.now() - startedAt.getTime()) / 1000);

    const markdown = markdownReport(results);
    const name = options.saveAs ?? 'latest';
    writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(resultsDir, `${name}.md`), `${markdown}\n`);
    const kept = keptRuns(resultsDir);
    const benchmarksPath = join(root, 'BENCHMARKS.md');
    writeFileSync(
      benchmarksPath,
      options.saveAs ? withKeptRuns(readFileSync(benchmarksPath, 'utf8'), kept) : benchmarksMarkdown(results, markdown, kept, goalsBlock(readFileSync(benchmarksPath, 'utf8'))),
    );
    process.stdout.write(`\n${textTable(results)}\n\n`);
    process.stdout.write(
      options.saveAs
        ? `Full report: bench/results/${name}.md (listed in BENCHMARKS.md); raw figures: bench/results/${name}.json\n`
        : `Full report: bench/results/latest.md (also quoted in BENCHMARKS.md); raw figures: bench/results/latest.json\n`,
    );
    return results.sizes.some((s) => s.errors.length > 0) ? 1 : 0;
  } finally {
    await shutdown();
  }
}

process.exitCode = await main(process.argv.slice(2));
