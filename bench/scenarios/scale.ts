import { randomBytes } from 'node:crypto';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { auditMark } from '../lib/audit.js';
import { CREDENTIAL_NAME, REGISTRY, SOURCE_SECRET, startOperator, timeoutFor, type BenchContext } from '../lib/context.js';
import {
  createCredential,
  credentialStatus,
  deleteCredential,
  dockerConfigJson,
  forEachLimited,
  holdsCredential,
  MERGE_PATCH,
  OPERATOR_USER,
  pollFanOut,
  rawGet,
  type FanOutState,
  statusCode,
  TARGET_LABEL,
} from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { ApfResult, MultiResult, WatchExpiryResult, WatchRun } from '../lib/results.js';
import { errorMessage, progress, sleep, waitUntil, withTimeout } from '../lib/util.js';
import { POLL_INTERVAL_MS, waitForCleanState, writesSince } from './fanout.js';
import { KubernetesObjectApi, type V1Secret, type V1ServiceAccount } from '@kubernetes/client-node';

const MiB = 1024;

function multiName(i: number): string {
  return `bench-multi-${String(i).padStart(2, '0')}`;
}

/** Every target namespace holds each of `names` (right content) and its default ServiceAccount lists all of them. */
async function multiState(ctx: BenchContext, targets: ReadonlySet<string>, names: readonly string[], selector: { labelSelector?: string; fieldSelector?: string }): Promise<FanOutState> {
  const [secrets, accounts] = await Promise.all([
    rawGet<{ items: V1Secret[] }>(ctx.admin.kc, '/api/v1/secrets', selector),
    rawGet<{ items: V1ServiceAccount[] }>(ctx.admin.kc, '/api/v1/serviceaccounts', { fieldSelector: 'metadata.name=default' }),
  ]);
  const at = Date.now();
  const wanted = new Set(names);
  const perNamespace = new Map<string, number>();
  let secretCount = 0;
  for (const s of secrets.items) {
    const ns = s.metadata?.namespace ?? '';
    if (!targets.has(ns) || !wanted.has(s.metadata?.name ?? '') || !holdsCredential(s, ctx.credential)) continue;
    secretCount++;
    perNamespace.set(ns, (perNamespace.get(ns) ?? 0) + 1);
  }
  let accountsOk = 0;
  let complete = 0;
  for (const sa of accounts.items) {
    const ns = sa.metadata?.namespace ?? '';
    if (!targets.has(ns)) continue;
    const listed = new Set((sa.imagePullSecrets ?? []).map((r) => r.name));
    if (!names.every((n) => listed.has(n))) continue;
    accountsOk++;
    if (perNamespace.get(ns) === names.length) complete++;
  }
  return { secrets: secretCount, accounts: accountsOk, complete, at };
}

/**
 * Ten credentials (or `count`) over the same namespaces: count × N managed Secrets, `count` entries on each
 * default ServiceAccount. Against the floor: exactly the same writes (one create per Secret, one merge patch
 * per Secret's entry) from a minimal client at the operator's write concurrency.
 */
export async function multiCredential(ctx: BenchContext, targets: readonly string[], size: number, count: number): Promise<MultiResult> {
  const names = Array.from({ length: count }, (_, i) => multiName(i));
  const targetSet = new Set(targets);
  const result: MultiResult = { credentials: count, namespaces: size, secrets: count * size, timeoutMs: timeoutFor(60_000, 60 * count, size) };
  // The floor, from a clean state: Secrets first per namespace, then the ServiceAccount's entries one patch each.
  await waitForCleanState(ctx, targetSet);
  progress(`size ${size}: ${count} credentials, floor client (${count * size} Secrets, ${count * size} patches)`);
  const body = Buffer.from(dockerConfigJson(ctx.credential)).toString('base64');
  const { core } = ctx.operatorIdentity;
  let mark = auditMark(ctx.auditLog);
  let started = Date.now();
  try {
    await withTimeout(
      'the floor client',
      forEachLimited(targets, Math.max(1, Math.floor(ctx.options.writeConcurrency / 2)), async (namespace) => {
        // Within a namespace the floor's writes are ordered (the entry list grows one name at a time), so two
        // namespaces are written at once for each concurrent stream of the operator's.
        for (let i = 0; i < count; i++) {
          await core.createNamespacedSecret({ namespace, body: { metadata: { name: `floor-${names[i]}` }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': body } } });
        }
        for (let i = 0; i < count; i++) {
          await core.patchNamespacedServiceAccount({ namespace, name: 'default', body: { imagePullSecrets: names.slice(0, i + 1).map((n) => ({ name: `floor-${n}` })) } }, MERGE_PATCH);
        }
      }),
      result.timeoutMs,
    );
    result.floorMs = Date.now() - started;
  } catch (err) {
    result.error = `floor: ${errorMessage(err)}`;
  }
  result.floorWrites = await writesSince(ctx, mark, OPERATOR_USER);
  await forEachLimited(targets, 16, async (namespace) => {
    for (const n of names) {
      try {
        await ctx.admin.core.deleteNamespacedSecret({ namespace, name: `floor-${n}` });
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    }
    await ctx.admin.core.patchNamespacedServiceAccount({ namespace, name: 'default', body: { imagePullSecrets: null } }, MERGE_PATCH);
  });
  await waitForCleanState(ctx, targetSet);

  progress(`size ${size}: ${count} credentials, operator`);
  const operator = startOperator(ctx, `multi-${size}`);
  try {
    await operator.cachesSynced(timeoutFor(60_000, 20, size));
    await sleep(1000);
    mark = auditMark(ctx.auditLog);
    const cpuBefore = operator.cpuSeconds();
    started = Date.now();
    for (const name of names) {
      await createCredential(ctx.admin.custom, name, {
        static: { registry: REGISTRY, credentialsSecretRef: { name: SOURCE_SECRET } },
        namespaces: { selector: { matchLabels: { [TARGET_LABEL]: 'true' } } },
        serviceAccounts: { names: ['default'] },
      });
    }
    const outcome = await pollFanOut(() => multiState(ctx, targetSet, names, { fieldSelector: 'type=kubernetes.io/dockerconfigjson' }), size, started, result.timeoutMs, POLL_INTERVAL_MS);
    result.operatorMs = outcome.ms;
    result.detail = outcome.last ? `Secrets ${outcome.last.secrets}/${count * size}, ServiceAccounts with all ${count} entries ${outcome.last.accounts}/${size}` : 'no successful list';
    result.cpuS = operator.cpuSeconds() - cpuBefore;
    await sleep(1000);
    result.operatorWrites = await writesSince(ctx, mark, OPERATOR_USER);
    result.rssAfterConvergeMiB = operator.memory().rssKiB / MiB;
    result.peakRssMiB = operator.memory().hwmKiB / MiB;
    if (result.operatorMs !== undefined && result.floorMs !== undefined) result.operatorOverFloor = result.operatorMs / result.floorMs;
    // Everything served: remove the ten, and wait until the operator has taken back every Secret and entry.
    progress(`size ${size}: ${count} credentials, removing them`);
    for (const name of names) await deleteCredential(ctx.admin.custom, name);
    await waitUntil(
      'the credentials to be gone',
      async () => ((await Promise.all(names.map((n) => credentialStatus(ctx.admin.custom, n)))).every((s) => s === undefined) ? true : undefined),
      result.timeoutMs,
      500,
    );
    await waitForCleanState(ctx, targetSet);
  } catch (err) {
    result.error = `${result.error ? `${result.error}; ` : ''}${errorMessage(err)}`;
  } finally {
    await operator.stop();
  }
  return result;
}

/**
 * API Priority and Fairness: a FlowSchema gives the operator's Secret and ServiceAccount writes a priority
 * level with the smallest concurrency share, no borrowing and no queue (Reject), so the API server answers
 * part of a fan-out with 429. The fan-out is run again under it from a clean state: the 429s are counted
 * from the audit log, the extra time against the same fan-out without the FlowSchema (`baselineMs`).
 */
export async function apfFanOut(ctx: BenchContext, targets: readonly string[], size: number, baselineMs: number | undefined, running: OperatorProcess): Promise<ApfResult> {
  const level = 'bench-regcred-tight';
  const objects = [
    {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
      kind: 'PriorityLevelConfiguration',
      metadata: { name: level },
      spec: { type: 'Limited', limited: { nominalConcurrencyShares: 1, lendablePercent: 0, limitResponse: { type: 'Reject' } } },
    },
    {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
      kind: 'FlowSchema',
      metadata: { name: level },
      spec: {
        priorityLevelConfiguration: { name: level },
        matchingPrecedence: 200,
        distinguisherMethod: { type: 'ByUser' },
        rules: [{ subjects: [{ kind: 'User', user: { name: OPERATOR_USER } }], resourceRules: [{ verbs: ['create', 'patch', 'update'], apiGroups: [''], resources: ['secrets', 'serviceaccounts'], namespaces: ['*'] }] }],
      },
    },
  ];
  const result: ApfResult = { namespaces: size, baselineMs, timeoutMs: timeoutFor(120_000, 120, size) };
  const targetSet = new Set(targets);
  // The running operator takes its credential back first (its finalizer), leaving a clean state.
  await deleteCredential(ctx.admin.custom, CREDENTIAL_NAME);
  await waitUntil('the credential to be gone', async () => ((await credentialStatus(ctx.admin.custom, CREDENTIAL_NAME)) === undefined ? true : undefined), timeoutFor(60_000, 60, size), 250);
  await waitForCleanState(ctx, targetSet);
  const objectApi = KubernetesObjectApi.makeApiClient(ctx.admin.kc);
  for (const body of objects) await objectApi.create(body);
  try {
    // The API server's APF configuration controller marks the FlowSchema in use (not Dangling) when it has read it.
    await waitUntil(
      'the FlowSchema to be in use',
      async () => {
        const fs = (await objectApi.read({ apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: level } })) as { status?: { conditions?: { type: string; status: string }[] } };
        return fs.status?.conditions?.find((c) => c.type === 'Dangling')?.status === 'False' ? true : undefined;
      },
      30_000,
      250,
    );
    const mark = auditMark(ctx.auditLog);
    const retriesBefore = await counterSum(running, 'regcred_queue_retries_total');
    const started = Date.now();
    await createCredential(ctx.admin.custom, CREDENTIAL_NAME, {
      static: { registry: REGISTRY, credentialsSecretRef: { name: SOURCE_SECRET } },
      namespaces: { selector: { matchLabels: { [TARGET_LABEL]: 'true' } } },
      serviceAccounts: { names: ['default'] },
    });
    const outcome = await pollFanOut(() => multiState(ctx, targetSet, [CREDENTIAL_NAME], { labelSelector: `${CREDENTIAL_LABEL}=${CREDENTIAL_NAME}` }), size, started, result.timeoutMs, POLL_INTERVAL_MS);
    result.ms = outcome.ms;
    result.detail = outcome.last ? `Secrets ${outcome.last.secrets}/${size}, ServiceAccounts ${outcome.last.accounts}/${size}` : 'no successful list';
    await sleep(1000);
    result.writes = await writesSince(ctx, mark, OPERATOR_USER);
    result.rejected = Object.entries(result.writes.errors)
      .filter(([kind]) => kind.endsWith(' 429'))
      .reduce((sum, [, n]) => sum + n, 0);
    const retriesAfter = await counterSum(running, 'regcred_queue_retries_total');
    if (retriesBefore !== undefined && retriesAfter !== undefined) result.reconcileRetries = retriesAfter - retriesBefore;
    if (result.ms !== undefined && baselineMs !== undefined) {
      result.extraMs = result.ms - baselineMs;
      result.overBaseline = result.ms / baselineMs;
    }
  } catch (err) {
    result.error = errorMessage(err);
  } finally {
    for (const body of [...objects].reverse()) {
      try {
        await objectApi.delete(body);
      } catch (err) {
        if (statusCode(err) !== 404) result.error = `${result.error ? `${result.error}; ` : ''}remove ${body.kind}: ${errorMessage(err)}`;
      }
    }
  }
  return result;
}

async function counterSum(operator: OperatorProcess, name: string): Promise<number | undefined> {
  try {
    return (await operator.metrics()).filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);
  } catch {
    return undefined;
  }
}

async function informerCounters(operator: OperatorProcess): Promise<Pick<WatchRun, 'lists' | 'relists' | 'watches' | 'bookmarks' | 'relistsByInformer'>> {
  const samples = await operator.metrics();
  const sum = (name: string): number => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  const relistsByInformer: Record<string, number> = {};
  for (const s of samples) if (s.name === 'regcred_informer_relists_total' && s.value > 0) relistsByInformer[s.labels.informer ?? '?'] = s.value;
  return {
    lists: sum('regcred_informer_lists_total'),
    relists: sum('regcred_informer_relists_total'),
    watches: sum('regcred_informer_watches_total'),
    bookmarks: sum('regcred_informer_bookmarks_total'),
    relistsByInformer,
  };
}

/**
 * Forced watch expiry: two operators over the converged state, each told to have its watches ended by the
 * API server every `timeoutSeconds` (as a load balancer or an API server restart would), one asking for
 * bookmarks (the shipped default) and one not. Meanwhile unrelated Secrets change as fast as 8 writers
 * can, so the API server's Secret watch cache fills and drops events older than its window (it keeps 75 s
 * of events, growing while they are fresher, and evicts only once full). A watch that resumes from a
 * resourceVersion no longer in the window gets 410 Gone, and its informer lists everything again: counted
 * from each operator's /metrics. The churn goes on until the operator without bookmarks has relisted (the
 * window has moved past a quiet watch), at most `maxChurnS` seconds, then one more watch period.
 */
export async function watchExpiry(ctx: BenchContext, size: number, maxChurnS: number, timeoutSeconds: number): Promise<WatchExpiryResult> {
  const namespace = 'bench-churn';
  const result: WatchExpiryResult = { durationS: 0, maxChurnS, watchTimeoutS: timeoutSeconds, churnWrites: 0 };
  try {
    await ctx.admin.core.createNamespace({ body: { metadata: { name: namespace } } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
  const env = { REGCRED_WATCH_TIMEOUT_SECONDS: String(timeoutSeconds) };
  const withBookmarks = startOperator(ctx, `watch-bookmarks-${size}`, 'info', [], env);
  const without = startOperator(ctx, `watch-nobookmarks-${size}`, 'info', [], { ...env, REGCRED_WATCH_BOOKMARKS: 'false' });
  try {
    await Promise.all([withBookmarks.cachesSynced(timeoutFor(60_000, 20, size)), without.cachesSynced(timeoutFor(60_000, 20, size))]);
    const before = await Promise.all([informerCounters(withBookmarks), informerCounters(without)]);
    const started = Date.now();
    const until = started + maxChurnS * 1000;
    progress(`size ${size}: watch expiry, churn on unrelated Secrets until the operator without bookmarks relists (at most ${maxChurnS} s), watches ended every ${timeoutSeconds} s`);
    let moved = false;
    const write = async (i: number): Promise<void> => {
      const name = `churn-${i % 200}`;
      const body = { metadata: { name }, type: 'Opaque', data: { v: randomBytes(8).toString('base64') } };
      try {
        await ctx.admin.core.createNamespacedSecret({ namespace, body });
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
        await ctx.admin.core.replaceNamespacedSecret({ namespace, name, body });
      }
      result.churnWrites++;
    };
    let next = 0;
    const writers = Array.from({ length: 8 }, async () => {
      while (!moved && Date.now() < until) await write(next++);
    });
    const watcher = (async () => {
      while (!moved && Date.now() < until) {
        await sleep(2_000);
        if ((await informerCounters(without)).relists > before[1].relists) {
          moved = true;
          result.windowMovedAfterS = (Date.now() - started) / 1000;
        }
      }
    })();
    await Promise.all([...writers, watcher]);
    result.durationS = (Date.now() - started) / 1000;
    // One more watch period, so that every informer has resumed at least once after the last churn.
    await sleep((timeoutSeconds + 2) * 1000);
    const after = await Promise.all([informerCounters(withBookmarks), informerCounters(without)]);
    const run = (b: Awaited<ReturnType<typeof informerCounters>>, a: Awaited<ReturnType<typeof informerCounters>>, op: OperatorProcess): WatchRun => ({
      lists: a.lists - b.lists,
      relists: a.relists - b.relists,
      watches: a.watches - b.watches,
      bookmarks: a.bookmarks - b.bookmarks,
      relistsByInformer: a.relistsByInformer,
      rssMiB: op.memory().rssKiB / MiB,
      cpuS: op.cpuSeconds(),
    });
    result.bookmarks = run(before[0], after[0], withBookmarks);
    result.noBookmarks = run(before[1], after[1], without);
  } catch (err) {
    result.error = errorMessage(err);
  } finally {
    await Promise.all([withBookmarks.stop(), without.stop()]);
    try {
      await ctx.admin.core.deleteNamespace({ name: namespace });
    } catch {
      // removed with the control plane
    }
  }
  return result;
}
