import { spawn } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { auditMark, auditSince, byUser, isWrite, summarize, type RequestSummary } from '../lib/audit.js';
import { CREDENTIAL_NAME, CRONJOB_SECRET, FLOOR_SECRET, REGISTRY, SOURCE_SECRET, startOperator, timeoutFor, type BenchContext } from '../lib/context.js';
import {
  createCredential,
  credentialStatus,
  deleteCredential,
  dockerConfigJson,
  fanOutState,
  forEachLimited,
  MERGE_PATCH,
  OPERATOR_CONTEXT,
  OPERATOR_USER,
  statusCode,
  TARGET_LABEL,
  watchFanOut,
} from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { FanOutResult, HeapMiB, Timed } from '../lib/results.js';
import { CRONJOB_ACCOUNT, CRONJOB_NAMESPACE } from '../lib/setup.js';
import { errorMessage, median, progress, sleep, waitUntil, withTimeout } from '../lib/util.js';

export const POLL_INTERVAL_MS = 200;
/**
 * A fan-out to fewer namespaces than this takes well under a second, where one run's time moves by a third
 * from run to run (100 namespaces: the operator over the floor measured 0.8x, 1.2x and 1.3x in three
 * runs). Such sizes are run FANOUT_REPEATS times, floor and operator alike, and their medians compared.
 */
export const FANOUT_REPEAT_BELOW = 1000;
export const FANOUT_REPEATS = 3;

/** The median of the samples; undefined if any run did not converge (a median over the ones that did would flatter). */
export function medianMs(samples: readonly (number | undefined)[]): number | undefined {
  return samples.some((s) => s === undefined) ? undefined : median(samples as number[]);
}

/**
 * `run` `times` times (told which run it is, " run i of n" for its progress line, and whether it is the
 * last), `between` after each run but the last; the last run's figures with `ms` the median of all and
 * `samplesMs` every run's. Once, it is the run itself.
 */
export async function repeated<R extends { ms?: number; samplesMs?: (number | undefined)[] }>(
  times: number,
  run: (which: string, last: boolean) => Promise<R>,
  between: (result: R) => Promise<void> = async () => {},
): Promise<R> {
  const samples: (number | undefined)[] = [];
  for (let i = 1; ; i++) {
    const result = await run(times === 1 ? '' : `, run ${i} of ${times}`, i === times);
    samples.push(result.ms);
    if (i === times) return times === 1 ? result : { ...result, ms: medianMs(samples), samplesMs: samples };
    await between(result);
  }
}
const MiB = 1024;

/** Writes by a user in the audit log since a mark, after letting the last requests land in the log. */
export async function writesSince(ctx: BenchContext, mark: number, user: string): Promise<RequestSummary> {
  await sleep(1000);
  return summarize(byUser(auditSince(ctx.auditLog, mark), user).filter(isWrite));
}

/**
 * Every approach starts from the same state: no pull Secret of any approach in
 * the target namespaces, and default ServiceAccounts without imagePullSecrets.
 */
export async function waitForCleanState(ctx: BenchContext, targets: ReadonlySet<string>): Promise<void> {
  const names = new Set([CREDENTIAL_NAME, FLOOR_SECRET, CRONJOB_SECRET]);
  await waitUntil(
    'a clean start (no pull Secrets, no imagePullSecrets) in the target namespaces',
    async () => {
      const [secrets, accounts] = await Promise.all([
        ctx.admin.core.listSecretForAllNamespaces({ fieldSelector: 'type=kubernetes.io/dockerconfigjson' }),
        ctx.admin.core.listServiceAccountForAllNamespaces({ fieldSelector: 'metadata.name=default' }),
      ]);
      const dirtySecrets = secrets.items.some((s) => targets.has(s.metadata?.namespace ?? '') && names.has(s.metadata?.name ?? ''));
      const dirtyAccounts = accounts.items.some((sa) => targets.has(sa.metadata?.namespace ?? '') && (sa.imagePullSecrets ?? []).length > 0);
      return dirtySecrets || dirtyAccounts ? undefined : true;
    },
    60_000,
    500,
  );
}

/** bench/floor-client.ts, compiled beside this file's directory. */
const FLOOR_CLIENT = join(dirname(fileURLToPath(import.meta.url)), '..', 'floor-client.js');

/** Undoes what the floor client or the CronJob script wrote (as the admin, untimed). */
async function removePullSecret(ctx: BenchContext, targets: readonly string[], secretName: string): Promise<void> {
  await forEachLimited(targets, 16, async (namespace) => {
    try {
      await ctx.admin.core.deleteNamespacedSecret({ namespace, name: secretName });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    await ctx.admin.core.patchNamespacedServiceAccount({ namespace, name: 'default', body: { imagePullSecrets: null } }, MERGE_PATCH);
  });
}

/**
 * The floor: the least a client can do to reach the end state. Exactly one
 * create per Secret and one merge patch per ServiceAccount, as the operator's
 * identity, with the operator's default write concurrency, from a process of
 * its own (bench/floor-client.ts), as the operator is one. Its time is taken
 * as the operator's is: from the first write (the client loaded and connected,
 * as the operator is synced) until the benchmark's watches, running through its
 * writes as through the operator's, have shown the whole end state.
 */
async function runFloor(ctx: BenchContext, targets: readonly string[], watched = true): Promise<NonNullable<FanOutResult['floor']>> {
  const concurrency = ctx.options.writeConcurrency;
  const timeoutMs = timeoutFor(60_000, 40, targets.length);
  const namespacesFile = join(ctx.dir, 'floor-namespaces.txt');
  writeFileSync(namespacesFile, `${targets.join('\n')}\n`);
  const child = spawn(process.execPath, [FLOOR_CLIENT, ctx.kubeconfig, OPERATOR_CONTEXT, FLOOR_SECRET, String(concurrency), namespacesFile], {
    env: { ...process.env, FLOOR_DOCKERCONFIGJSON: Buffer.from(dockerConfigJson(ctx.credential)).toString('base64') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let detail: string | undefined;
  const mark = auditMark(ctx.auditLog);
  try {
    const ready = await withTimeout('the floor client to start', lines.next(), 60_000);
    if (ready.value !== 'ready') throw new Error(`the floor client did not start: ${stderr.trim() || `printed ${String(ready.value)}`}`);
    const started = Date.now();
    child.stdin.end('go\n');
    const writing = withTimeout(
      'the floor client',
      (async () => {
        const line = await lines.next();
        const code = await exited;
        if (code !== 0 || line.done) throw new Error(`the floor client exited ${code}: ${stderr.trim()}`);
        return JSON.parse(String(line.value)) as { ms: number; cpuS: number };
      })(),
      timeoutMs,
    );
    // The watches wait for the end state, however the writes end, unless the client failed: then it will not come.
    const failed = new Promise<void>((resolve) => {
      writing.catch(() => resolve());
    });
    const [outcome, report] = await Promise.all([
      watched
        ? watchFanOut(ctx.admin.kc, new Set(targets), FLOOR_SECRET, { fieldSelector: `metadata.name=${FLOOR_SECRET}` }, ctx.credential, started, timeoutMs, failed)
        : Promise.resolve(undefined),
      writing.catch((err: unknown) => {
        detail = errorMessage(err);
        return undefined;
      }),
    ]);
    const writes = await writesSince(ctx, mark, OPERATOR_USER);
    let ms = detail === undefined ? (outcome ? outcome.ms : report?.ms) : undefined;
    const state = await fanOutState(ctx.admin.kc, new Set(targets), FLOOR_SECRET, { fieldSelector: `metadata.name=${FLOOR_SECRET}` }, ctx.credential);
    if (state.complete !== targets.length) {
      detail = `${detail ? `${detail}; ` : ''}end state holds in ${state.complete}/${targets.length} namespaces`;
      ms = undefined;
    } else if (ms === undefined && detail === undefined) {
      detail = `the watches did not show the end state within ${Math.round(timeoutMs / 1000)} s`;
    }
    return { ms, writesMs: report?.ms, events: outcome?.events, observed: watched, timeoutMs, detail, writes, concurrency, cpuS: report?.cpuS };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/**
 * What a CronJob script does: for each namespace, in sequence, render the
 * Secret with kubectl, apply it, and patch the default ServiceAccount. Timed
 * over every namespace, or over the first `limit` and extrapolated.
 */
async function runCronJob(ctx: BenchContext, targets: readonly string[], size: number): Promise<NonNullable<FanOutResult['cronjob']>> {
  const extrapolated = size > ctx.options.cronjobFullMax && ctx.options.cronjobSample < targets.length;
  const count = extrapolated ? ctx.options.cronjobSample : targets.length;
  const measured = [...targets].sort().slice(0, count);
  const timeoutMs = timeoutFor(60_000, 3000, count);
  const { registry, username, password } = ctx.credential;
  const script = [
    'set -eu',
    `read -ra all <<< "$(kubectl get namespaces -l ${TARGET_LABEL}=true -o jsonpath='{.items[*].metadata.name}')"`,
    `for ns in "\${all[@]:0:${count}}"; do`,
    `  kubectl create secret docker-registry ${CRONJOB_SECRET} --docker-server=${registry} --docker-username=${username} --docker-password=${password} -n "$ns" --dry-run=client -o yaml | kubectl apply -f -`,
    `  kubectl patch serviceaccount default -n "$ns" -p '{"imagePullSecrets":[{"name":"${CRONJOB_SECRET}"}]}'`,
    'done',
  ].join('\n');
  const logFile = join(ctx.dir, `cronjob-${size}.log`);
  const out = createWriteStream(logFile);
  const mark = auditMark(ctx.auditLog);
  const started = Date.now();
  const child = spawn('bash', ['-c', script], {
    env: { ...process.env, KUBECONFIG: ctx.cronjobKubeconfig, KUBECACHEDIR: join(ctx.dir, 'kubectl-cache') },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const measuredMs = Date.now() - started;
  const writes = await writesSince(ctx, mark, `system:serviceaccount:${CRONJOB_NAMESPACE}:${CRONJOB_ACCOUNT}`);
  const state = await fanOutState(ctx.admin.kc, new Set(measured), CRONJOB_SECRET, { fieldSelector: `metadata.name=${CRONJOB_SECRET}` }, ctx.credential);
  let detail: string | undefined;
  let ok = !timedOut && code === 0 && state.complete === measured.length;
  if (timedOut) detail = `killed after ${Math.round(timeoutMs / 1000)} s`;
  else if (code !== 0) detail = `script exited ${code} (see ${logFile})`;
  if (state.complete !== measured.length) {
    detail = `${detail ? `${detail}; ` : ''}end state holds in ${state.complete}/${measured.length} namespaces`;
    ok = false;
  }
  const perNamespaceMs = measuredMs / count;
  return {
    ms: ok ? (extrapolated ? Math.round(measuredMs * (targets.length / count)) : measuredMs) : undefined,
    timeoutMs,
    detail,
    measuredNamespaces: count,
    measuredMs,
    extrapolated,
    perNamespaceMs,
    writes,
  };
}

export interface OperatorFanOut {
  result: FanOutResult['operator'];
  operator: OperatorProcess;
  rssAfterConvergeMiB?: number;
  heapAfterConverge?: HeapMiB;
  peakRssMiB?: number;
}

/**
 * The operator, already running and synced, publishes one static credential to every target namespace.
 * `measured` false (a run repeated for its time only, `repeated`): no memory, audit or status reads after it.
 */
async function runOperatorFanOut(ctx: BenchContext, targets: readonly string[], size: number, measured = true): Promise<OperatorFanOut> {
  const operator = startOperator(ctx, `fanout-${size}`);
  await operator.cachesSynced(timeoutFor(60_000, 20, size));
  await sleep(1000);
  const timeoutMs = timeoutFor(60_000, 60, targets.length);
  const targetSet = new Set(targets);
  const mark = auditMark(ctx.auditLog);
  const cpuBefore = operator.cpuSeconds();
  const started = Date.now();
  await createCredential(ctx.admin.custom, CREDENTIAL_NAME, {
    static: { registry: REGISTRY, credentialsSecretRef: { name: SOURCE_SECRET } },
    namespaces: { selector: { matchLabels: { [TARGET_LABEL]: 'true' } } },
    serviceAccounts: { names: ['default'] },
  });
  const outcome = await watchFanOut(ctx.admin.kc, targetSet, CREDENTIAL_NAME, { labelSelector: `${CREDENTIAL_LABEL}=${CREDENTIAL_NAME}` }, ctx.credential, started, timeoutMs);
  const cpuS = operator.cpuSeconds() - cpuBefore;
  if (!measured) {
    const empty = { total: 0, byKind: {}, errors: {} };
    return { operator, result: { ms: outcome.ms, timeoutMs, polls: outcome.polls, pollIntervalMs: POLL_INTERVAL_MS, writes: empty, warnings: operator.warnings().length } };
  }
  // Let the last status write and events land before counting.
  await sleep(1000);
  const memory = operator.memory();
  const heapAfterConverge = await operator.heapMiB();
  const writes = await writesSince(ctx, mark, OPERATOR_USER);
  const status = await credentialStatus(ctx.admin.custom, CREDENTIAL_NAME);
  const last = outcome.last;
  return {
    operator,
    rssAfterConvergeMiB: memory.rssKiB / MiB,
    heapAfterConverge,
    peakRssMiB: memory.hwmKiB / MiB,
    result: {
      ms: outcome.ms,
      secretsMs: outcome.secretsMs,
      timeoutMs,
      detail: last ? `secrets ${last.secrets}/${targets.length}, service accounts ${last.accounts}/${targets.length}` : 'no successful list',
      polls: outcome.polls,
      pollIntervalMs: POLL_INTERVAL_MS,
      events: outcome.events,
      writes,
      cpuS,
      meanPollPeriodMs: outcome.meanPeriodMs,
      status: status
        ? {
            targetNamespaces: status.targetNamespaces,
            syncedNamespaces: status.syncedNamespaces,
            patchedServiceAccounts: status.patchedServiceAccounts,
            ready: status.conditions?.find((c) => c.type === 'Ready')?.status,
          }
        : undefined,
      warnings: operator.warnings().length,
    },
  };
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? 'did not converge' : `${(ms / 1000).toFixed(2)} s`;
}

/**
 * Fan-out at one size: the floor client, the CronJob script, then the
 * operator, each from the same clean state. The operator's state is left in
 * place (and the operator running) for the scenarios that follow.
 */
export async function fanOut(ctx: BenchContext, targets: readonly string[], size: number, compare: boolean): Promise<{ result: FanOutResult; run: OperatorFanOut }> {
  const targetSet = new Set(targets);
  const result: Partial<FanOutResult> = { targets: targets.length };
  const times = size < FANOUT_REPEAT_BELOW ? FANOUT_REPEATS : 1;
  const cleanFloor = async (): Promise<void> => {
    await removePullSecret(ctx, targets, FLOOR_SECRET);
    await waitForCleanState(ctx, targetSet);
  };
  if (compare) {
    await waitForCleanState(ctx, targetSet);
    result.floor = await repeated(
      times,
      async (which) => {
        progress(`size ${size}: fan-out, floor client (${ctx.options.writeConcurrency} concurrent writes)${which}`);
        const floor = await runFloor(ctx, targets);
        progress(`size ${size}: floor ${fmt(floor.ms)}; cleaning up`);
        return floor;
      },
      cleanFloor,
    );
    await cleanFloor();
    // Once more without the watches, timed by its last write, as the floor was before it was observed: the
    // difference is what being watched costs, and the ratio against it is the one earlier runs reported.
    result.floorUnwatched = await repeated(
      times,
      async (which) => {
        progress(`size ${size}: fan-out, floor client without the watches${which}`);
        const floor = await runFloor(ctx, targets, false);
        progress(`size ${size}: floor without the watches ${fmt(floor.ms)}; cleaning up`);
        return floor;
      },
      cleanFloor,
    );
    await cleanFloor();

    const sampled = size > ctx.options.cronjobFullMax && ctx.options.cronjobSample < targets.length;
    progress(`size ${size}: fan-out, CronJob script (sequential kubectl${sampled ? `, timed over ${ctx.options.cronjobSample} namespaces and extrapolated` : ''})`);
    result.cronjob = await runCronJob(ctx, targets, size);
    progress(`size ${size}: CronJob ${fmt(result.cronjob.ms)}${result.cronjob.extrapolated ? ' (extrapolated)' : ''}; cleaning up`);
    await removePullSecret(ctx, targets, CRONJOB_SECRET);
    await waitForCleanState(ctx, targetSet);
  } else {
    await waitForCleanState(ctx, targetSet);
  }

  // Every run but the last deletes its credential, waits for the operator to clean up, and stops it; the
  // last run's operator and state stay for the scenarios that follow.
  const run = await repeated(
    times,
    async (which, last): Promise<OperatorFanOut & Pick<Timed, 'ms' | 'samplesMs'>> => {
      progress(`size ${size}: fan-out, operator${which}`);
      const one = await runOperatorFanOut(ctx, targets, size, last);
      progress(`size ${size}: operator ${fmt(one.result.ms)}`);
      return { ...one, ms: one.result.ms };
    },
    async (one) => {
      await deleteCredential(ctx.admin.custom, CREDENTIAL_NAME);
      await waitForCleanState(ctx, targetSet);
      await waitUntil('the credential to be deleted', async () => ((await credentialStatus(ctx.admin.custom, CREDENTIAL_NAME)) === undefined ? true : undefined), 60_000, 200);
      await one.operator.stop();
    },
  );
  result.operator = { ...run.result, ms: run.ms, ...(run.samplesMs ? { samplesMs: run.samplesMs } : {}) };
  const { ms } = result.operator;
  if (ms !== undefined && result.floor?.ms !== undefined) result.operatorOverFloor = ms / result.floor.ms;
  if (ms !== undefined && result.floorUnwatched?.ms !== undefined) result.operatorOverFloorUnwatched = ms / result.floorUnwatched.ms;
  if (ms !== undefined && result.cronjob?.ms !== undefined) result.cronjobOverOperator = result.cronjob.ms / ms;
  return { result: result as FanOutResult, run };
}
