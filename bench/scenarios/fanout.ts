import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { auditMark, auditSince, byUser, isWrite, summarize, type RequestSummary } from '../lib/audit.js';
import { CREDENTIAL_NAME, CRONJOB_SECRET, FLOOR_SECRET, REGISTRY, SOURCE_SECRET, startOperator, timeoutFor, type BenchContext } from '../lib/context.js';
import {
  createCredential,
  credentialStatus,
  dockerConfigJson,
  fanOutState,
  forEachLimited,
  MERGE_PATCH,
  OPERATOR_USER,
  statusCode,
  TARGET_LABEL,
  watchFanOut,
} from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { FanOutResult, HeapMiB } from '../lib/results.js';
import { CRONJOB_ACCOUNT, CRONJOB_NAMESPACE } from '../lib/setup.js';
import { errorMessage, progress, sleep, waitUntil, withTimeout } from '../lib/util.js';

export const POLL_INTERVAL_MS = 200;
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
 * identity, with the operator's default write concurrency. Its time is taken
 * as the operator's is: when the benchmark's watches, running through its
 * writes as they run through the operator's, have shown the whole end state.
 * Timed by its last write instead, the floor ran without the watches' load on
 * the API server and on this process that the operator's run always carries.
 */
async function runFloor(ctx: BenchContext, targets: readonly string[]): Promise<NonNullable<FanOutResult['floor']>> {
  const concurrency = ctx.options.writeConcurrency;
  const timeoutMs = timeoutFor(60_000, 40, targets.length);
  const body = Buffer.from(dockerConfigJson(ctx.credential)).toString('base64');
  const { core } = ctx.operatorIdentity;
  const mark = auditMark(ctx.auditLog);
  const cpuBefore = process.cpuUsage();
  const started = Date.now();
  let writesMs: number | undefined;
  let detail: string | undefined;
  const writing = withTimeout(
    'the floor client',
    forEachLimited(targets, concurrency, async (namespace) => {
      await core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: FLOOR_SECRET }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': body } },
      });
      await core.patchNamespacedServiceAccount({ namespace, name: 'default', body: { imagePullSecrets: [{ name: FLOOR_SECRET }] } }, MERGE_PATCH);
    }),
    timeoutMs,
  ).then(
    () => {
      writesMs = Date.now() - started;
    },
    (err: unknown) => {
      detail = errorMessage(err);
      throw err;
    },
  );
  // The watches wait for the end state, however the writes end, unless a write failed: then it will not come.
  const failed = new Promise<void>((resolve) => {
    writing.catch(() => resolve());
  });
  const [outcome] = await Promise.all([
    watchFanOut(ctx.admin.kc, new Set(targets), FLOOR_SECRET, { fieldSelector: `metadata.name=${FLOOR_SECRET}` }, ctx.credential, started, timeoutMs, failed),
    writing.catch(() => undefined),
  ]);
  const used = process.cpuUsage(cpuBefore);
  const cpuS = (used.user + used.system) / 1e6;
  let ms = detail === undefined ? outcome.ms : undefined;
  const writes = await writesSince(ctx, mark, OPERATOR_USER);
  const state = await fanOutState(ctx.admin.kc, new Set(targets), FLOOR_SECRET, { fieldSelector: `metadata.name=${FLOOR_SECRET}` }, ctx.credential);
  if (state.complete !== targets.length) {
    detail = `${detail ? `${detail}; ` : ''}end state holds in ${state.complete}/${targets.length} namespaces`;
    ms = undefined;
  } else if (ms === undefined && detail === undefined) {
    detail = `the watches did not show the end state within ${Math.round(timeoutMs / 1000)} s`;
  }
  return { ms, writesMs, events: outcome.events, observed: true, timeoutMs, detail, writes, concurrency, cpuS };
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

/** The operator, already running and synced, publishes one static credential to every target namespace. */
async function runOperatorFanOut(ctx: BenchContext, targets: readonly string[], size: number): Promise<OperatorFanOut> {
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
  if (compare) {
    await waitForCleanState(ctx, targetSet);
    progress(`size ${size}: fan-out, floor client (${ctx.options.writeConcurrency} concurrent writes)`);
    result.floor = await runFloor(ctx, targets);
    progress(`size ${size}: floor ${fmt(result.floor.ms)}; cleaning up`);
    await removePullSecret(ctx, targets, FLOOR_SECRET);
    await waitForCleanState(ctx, targetSet);

    const sampled = size > ctx.options.cronjobFullMax && ctx.options.cronjobSample < targets.length;
    progress(`size ${size}: fan-out, CronJob script (sequential kubectl${sampled ? `, timed over ${ctx.options.cronjobSample} namespaces and extrapolated` : ''})`);
    result.cronjob = await runCronJob(ctx, targets, size);
    progress(`size ${size}: CronJob ${fmt(result.cronjob.ms)}${result.cronjob.extrapolated ? ' (extrapolated)' : ''}; cleaning up`);
    await removePullSecret(ctx, targets, CRONJOB_SECRET);
    await waitForCleanState(ctx, targetSet);
  } else {
    await waitForCleanState(ctx, targetSet);
  }

  progress(`size ${size}: fan-out, operator`);
  const run = await runOperatorFanOut(ctx, targets, size);
  result.operator = run.result;
  progress(`size ${size}: operator ${fmt(run.result.ms)}`);
  const { ms } = run.result;
  if (ms !== undefined && result.floor?.ms !== undefined) result.operatorOverFloor = ms / result.floor.ms;
  if (ms !== undefined && result.cronjob?.ms !== undefined) result.cronjobOverOperator = result.cronjob.ms / ms;
  return { result: result as FanOutResult, run };
}
