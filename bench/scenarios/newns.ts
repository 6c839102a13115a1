import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { auditMark } from '../lib/audit.js';
import { CREDENTIAL_NAME, type BenchContext } from '../lib/context.js';
import { carriesPullSecret, holdsCredential, OPERATOR_USER, ResumingWatch, statusCode, TARGET_LABEL } from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { NewNamespaceResult } from '../lib/results.js';
import { percentile, sleep } from '../lib/util.js';
import { writesSince } from './fanout.js';

interface Track {
  sentAt: number;
  secretAt?: number;
  serviceAccountAt?: number;
  patchedAt?: number;
}

export function newNamespaceName(size: number, i: number): string {
  return `bench-new-${size}-${String(i).padStart(3, '0')}`;
}

/**
 * Namespaces created one by one at a steady rate while the operator runs at
 * scale. Latency is taken from the create request to the moment the
 * benchmark's watches have shown both the Secret (with the credential) and
 * the default ServiceAccount carrying the entry.
 */
export async function newNamespaces(ctx: BenchContext, size: number, operator: OperatorProcess): Promise<NewNamespaceResult> {
  const { newNamespaces: count, newNamespacesPerSecond: rate } = ctx.options;
  const { core } = ctx.admin;
  const tracks = new Map<string, Track>();
  const secretSelector = `${CREDENTIAL_LABEL}=${CREDENTIAL_NAME}`;

  const secretList = await core.listSecretForAllNamespaces({ labelSelector: secretSelector, limit: 1 });
  const saList = await core.listServiceAccountForAllNamespaces({ fieldSelector: 'metadata.name=default', limit: 1 });
  const secretWatch = new ResumingWatch<V1Secret>(ctx.admin.kc, '/api/v1/secrets', { labelSelector: secretSelector }, secretList.metadata?.resourceVersion ?? '0', (phase, secret) => {
    const track = tracks.get(secret.metadata?.namespace ?? '');
    if (track && phase !== 'DELETED' && secret.metadata?.name === CREDENTIAL_NAME && holdsCredential(secret, ctx.credential)) {
      track.secretAt ??= Date.now();
    }
  });
  const saWatch = new ResumingWatch<V1ServiceAccount>(
    ctx.admin.kc,
    '/api/v1/serviceaccounts',
    { fieldSelector: 'metadata.name=default' },
    saList.metadata?.resourceVersion ?? '0',
    (phase, sa) => {
      const track = tracks.get(sa.metadata?.namespace ?? '');
      if (!track || phase === 'DELETED') return;
      track.serviceAccountAt ??= Date.now();
      if (carriesPullSecret(sa, CREDENTIAL_NAME)) track.patchedAt ??= Date.now();
    },
  );
  await Promise.all([secretWatch.start(), saWatch.start()]);

  const mark = auditMark(ctx.auditLog);
  const cpuBefore = operator.cpuSeconds();
  const interval = 1000 / rate;
  const first = Date.now();
  let lastSent = first;
  try {
    for (let i = 0; i < count; i++) {
      const due = first + i * interval;
      if (due > Date.now()) await sleep(due - Date.now());
      const name = newNamespaceName(size, i);
      const track: Track = { sentAt: Date.now() };
      tracks.set(name, track);
      lastSent = track.sentAt;
      try {
        await core.createNamespace({ body: { metadata: { name, labels: { [TARGET_LABEL]: 'true' } } } });
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
      }
    }
    const deadline = Date.now() + 30_000;
    const done = (t: Track): boolean => t.secretAt !== undefined && t.patchedAt !== undefined;
    while (Date.now() < deadline && ![...tracks.values()].every(done)) await sleep(100);
  } finally {
    secretWatch.stop();
    saWatch.stop();
  }
  const cpuS = operator.cpuSeconds() - cpuBefore;
  const writes = await writesSince(ctx, mark, OPERATOR_USER);

  const all = [...tracks.values()];
  const complete = all.filter((t) => t.secretAt !== undefined && t.patchedAt !== undefined);
  const latencies = complete.map((t) => Math.max(t.secretAt!, t.patchedAt!) - t.sentAt);
  const saCreated = all.filter((t) => t.serviceAccountAt !== undefined).map((t) => t.serviceAccountAt! - t.sentAt);
  const patchAfterSa = complete.filter((t) => t.serviceAccountAt !== undefined).map((t) => t.patchedAt! - t.serviceAccountAt!);
  const secret = all.filter((t) => t.secretAt !== undefined).map((t) => t.secretAt! - t.sentAt);
  const allConverged = complete.length === all.length;
  return {
    count,
    ratePerSecond: rate,
    actualRatePerSecond: count > 1 ? ((count - 1) * 1000) / Math.max(1, lastSent - first) : rate,
    method: 'watches (Secrets by label selector, default ServiceAccounts by field selector), timed from the create request',
    converged: complete.length,
    latenciesMs: latencies,
    // Percentiles over every namespace only when all converged; otherwise the report says "did not converge".
    p50: allConverged ? percentile(latencies, 50) : undefined,
    p95: allConverged ? percentile(latencies, 95) : undefined,
    p99: allConverged ? percentile(latencies, 99) : undefined,
    max: allConverged ? Math.max(...latencies) : undefined,
    serviceAccountCreatedP50: percentile(saCreated, 50),
    serviceAccountCreatedP95: percentile(saCreated, 95),
    patchAfterServiceAccountP50: percentile(patchAfterSa, 50),
    patchAfterServiceAccountP95: percentile(patchAfterSa, 95),
    secretP50: percentile(secret, 50),
    secretP95: percentile(secret, 95),
    writes,
    cpuS,
  };
}
