/**
 * The live heap one whole fan-out holds while it runs, without a cluster: the real Reconciler over the
 * in-memory caches of test/support/fake-cluster.ts, each write answered after 1 ms so that the write pool
 * fills as it does against an API server. Every 500 ms a full GC, then heap in use; printed as MiB over
 * the heap before the fan-out. What a fan-out holds beyond the state it builds is what V8 grows its heap
 * limit around, i.e. the peak RSS of a fan-out at scale (BENCHMARKS.md). Not a jest test; run it by hand:
 *
 *   npm run perf:heap -- [namespaces, default 20000]
 *
 * The fake cluster keeps whole objects and a log of every write, so the end state here is larger than an
 * operator's; compare the samples with the figure after the fan-out, not with the operator's RSS.
 */
import { Writable } from 'node:stream';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { ClusterView } from '../../src/controller/cluster-view.js';
import { systemClock } from '../../src/controller/clock.js';
import { recordingWriter } from '../../src/controller/recording-writer.js';
import type { KubeWriter } from '../../src/kube/writer.js';
import { createLogger } from '../../src/observability/logger.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { FakeCluster } from '../support/fake-cluster.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run perf:heap)');
const size = Number(process.argv[2] ?? 20000);
const LABEL = 'perf/target';
const cluster = new FakeCluster();
for (let i = 0; i < size; i++) {
  const ns = `team-${String(i).padStart(5, '0')}`;
  cluster.addNamespace(ns, { [LABEL]: 'true', 'kubernetes.io/metadata.name': ns });
  cluster.addServiceAccount(ns);
}
cluster.addSourceSecret('perf-source', { username: 'bot', password: 'p'.repeat(40) });
const spec: RegistryCredentialSpec = { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'perf-source' } }, namespaces: { selector: { matchLabels: { [LABEL]: 'true' } } }, serviceAccounts: { names: ['default'] } };
cluster.addCredential('perf', spec);
const delay = (): Promise<void> => new Promise((r) => setTimeout(r, 1));
const w = cluster.writer;
const slow: KubeWriter = {
  ...w,
  createSecret: async (s) => { await delay(); return w.createSecret(s); },
  replaceSecret: async (s) => { await delay(); return w.replaceSecret(s); },
  patchServiceAccount: async (a, b, c) => { await delay(); return w.patchServiceAccount(a, b, c); },
};
const discard = new Writable({ write: (_c, _e, cb) => cb() });
const log = createLogger({ level: 'info', pretty: false, destination: discard });
const view = new ClusterView(cluster.caches, cluster.operatorNamespace, () => Date.now());
const reconciler = new Reconciler({
  view, writer: recordingWriter(slow, view), providers: {}, events: { record: () => Promise.resolve() }, clock: systemClock, log,
  writeConcurrency: 16, random: () => 0.5, enqueue: () => undefined, providerTimeoutMs: 30_000, providerConcurrency: 4,
});
const mib = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20; };
const base = mib();
console.log(`before: ${base.toFixed(1)} MiB`);
const samples: number[] = [];
const timer = setInterval(() => samples.push(mib()), 500);
const t0 = Date.now();
await reconciler.reconcile('perf');
clearInterval(timer);
console.log(`fan-out ${Date.now() - t0} ms, writes ${cluster.writes.length}`);
console.log(`during (gc'd): ${samples.map((s) => (s - base).toFixed(1)).join(' ')}`);
console.log(`after: +${(mib() - base).toFixed(1)} MiB`);
