import { randomBytes } from 'node:crypto';
import { auditMark, auditSince, byUser } from '../lib/audit.js';
import { startOperator, timeoutFor, type BenchContext } from '../lib/context.js';
import { createNamespaces, forEachLimited, OPERATOR_USER, statusCode, waitForDefaultServiceAccounts } from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { FreshStart, HeapMiB, MemoryResult } from '../lib/results.js';
import { median, progress, sleep } from '../lib/util.js';

const UNRELATED_NAMESPACES = 20;
const UNRELATED_LABEL = 'regcred-bench/unrelated';

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** How long a process is left with nothing to do before it counts as settled (the long-running one too, bench/main.ts). */
export const SETTLE_MS = 30_000;
/** What the operator logs when it gives back the heap a burst grew (src/observability/idle-compaction.ts). */
const COMPACTED = 'quiet after work: gave back the heap it had grown';

/** Five VmRSS samples half a second apart, and the heap from /metrics after them. */
async function sampleRss(operator: OperatorProcess): Promise<{ rssMiB: number; rssSamplesMiB: number[]; heap?: HeapMiB }> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(operator.memory().rssKiB / 1024);
    await sleep(500);
  }
  return { rssMiB: median(samples)!, rssSamplesMiB: samples, heap: await operator.heapMiB() };
}

/**
 * A fresh operator over the converged state: time from spawn to "caches
 * synced", then, once its first reconcile has had time to finish, the median
 * of five VmRSS samples half a second apart. With `settle`, five more after
 * SETTLE_MS with nothing to do: whether the first five came before or after the
 * operator gave back the heap its first list grew was chance (two fresh
 * operators over the same 20,000 namespaces: 162.3 and 191.4 MiB, with the same
 * heap in use), and the long-running process is compared settled with settled.
 */
export async function freshStart(ctx: BenchContext, label: string, size: number, env: NodeJS.ProcessEnv = {}, settle = false): Promise<FreshStart> {
  const operator = startOperator(ctx, label, 'info', [], env);
  try {
    const startToCachesSyncedMs = await operator.cachesSynced(timeoutFor(60_000, 20, size));
    const line = operator.lines.find((l) => l.line.msg === 'caches synced')?.line;
    await sleep(3000 + size / 2);
    const first = await sampleRss(operator);
    let settled: FreshStart['settled'];
    if (settle) {
      const from = Date.now();
      await sleep(SETTLE_MS);
      settled = { ...(await sampleRss(operator)), compacted: operator.count(COMPACTED) > 0, afterMs: Date.now() - from };
    }
    return {
      ...first,
      startToCachesSyncedMs,
      informerSyncMs: typeof line?.ms === 'number' ? line.ms : undefined,
      cached: line?.cached as Record<string, number> | undefined,
      ...(settled ? { settled } : {}),
      peakRssMiB: operator.memory().hwmKiB / 1024,
    };
  } finally {
    await operator.stop();
  }
}

function stripVolatileParams(uri: string): string {
  const [path, query] = uri.split('?');
  if (!query) return path ?? uri;
  const kept = query.split('&').filter((p) => !/^(resourceVersion|timeoutSeconds|allowWatchBookmarks|limit|continue|resourceVersionMatch)=/.test(p));
  return kept.length ? `${path}?${decodeURIComponent(kept.join('&'))}` : (path ?? uri);
}

/**
 * RSS of fresh operators over the same converged state, without and then
 * with a few thousand unrelated Secrets in other namespaces. The namespaces
 * (and their default ServiceAccounts) exist in both runs; only the Secrets differ.
 */
export async function unrelatedSecrets(ctx: BenchContext, size: number): Promise<NonNullable<MemoryResult['unrelated']>> {
  const total = ctx.options.unrelatedSecrets;
  const namespaces = Array.from({ length: UNRELATED_NAMESPACES }, (_, i) => `bench-unrelated-${String(i).padStart(2, '0')}`);
  await createNamespaces(ctx.admin.core, namespaces, { [UNRELATED_LABEL]: 'true' });
  await waitForDefaultServiceAccounts(ctx.admin.core, new Set(namespaces), 120_000);

  // Fresh operators per configuration: RSS differs by a few MiB from one Node process to the next.
  const runs = ctx.options.unrelatedRuns;
  progress(`size ${size}: memory, ${runs} fresh operator${runs === 1 ? '' : 's'} without the unrelated Secrets`);
  const without: FreshStart[] = [];
  // The first is the size's fresh operator (bench/main.ts): it settles too, after its samples for this comparison.
  for (let i = 1; i <= runs; i++) without.push(await freshStart(ctx, `memory-without-${size}-${i}`, size, {}, i === 1));

  progress(`size ${size}: creating ${total} unrelated Opaque Secrets (1 KiB of data each) in ${namespaces.length} other namespaces`);
  const items = Array.from({ length: total }, (_, i) => ({ namespace: namespaces[i % namespaces.length]!, name: `unrelated-${String(i).padStart(5, '0')}` }));
  await forEachLimited(items, 16, async ({ namespace, name }) => {
    try {
      await ctx.admin.core.createNamespacedSecret({
        namespace,
        body: { metadata: { name, labels: { [UNRELATED_LABEL]: 'true' } }, type: 'Opaque', data: { blob: randomBytes(768).toString('base64') } },
      });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  });
  const list = await ctx.admin.core.listSecretForAllNamespaces({ labelSelector: `${UNRELATED_LABEL}=true` });
  const listBytes = Buffer.byteLength(JSON.stringify(list.items));

  progress(`size ${size}: memory, ${runs} fresh operator${runs === 1 ? '' : 's'} with ${list.items.length} unrelated Secrets`);
  const mark = auditMark(ctx.auditLog);
  const withSecrets: FreshStart[] = [];
  for (let i = 1; i <= runs; i++) withSecrets.push(await freshStart(ctx, `memory-with-${size}-${i}`, size));
  await sleep(1000);
  const secretRequests = new Set(
    byUser(auditSince(ctx.auditLog, mark), OPERATOR_USER)
      .filter((e) => e.objectRef?.resource === 'secrets' && (e.verb === 'list' || e.verb === 'watch'))
      .map((e) => `${e.verb} ${stripVolatileParams(e.requestURI ?? '?')}`),
  );
  return {
    secrets: list.items.length,
    namespaces: namespaces.length,
    listBytes,
    without,
    with: withSecrets,
    deltaMiB: mean(withSecrets.map((r) => r.rssMiB)) - mean(without.map((r) => r.rssMiB)),
    secretRequests: [...secretRequests].sort(),
  };
}
