/**
 * CPU time of one reconcile of a RegistryCredential over N target namespaces, without a cluster: the
 * real Reconciler and ClusterView over in-memory caches (test/support/fake-cluster.ts), writes applied
 * to the caches at once. Not a jest test (jest runs *.test.ts only); run it by hand:
 *
 *   npm run perf -- [--sizes 1000,5000] [--runs 30]
 * (which compiles with tsconfig.perf.json, then runs)
 *   node_modules/.bin/node .regcred/perf-build/test/perf/reconcile-cpu.js [--sizes 1000,5000] [--runs 30]
 *
 * Add `--cpu-prof --cpu-prof-dir=.regcred/perf-prof` after `node` for a profile (open it in Chrome
 * DevTools or speedscope). Scenarios:
 *   converged       every namespace already has the Secret and the ServiceAccount entry: no writes
 *   new-namespace   one new namespace (with its default ServiceAccount) per reconcile: 1 Secret create,
 *                   1 ServiceAccount patch (status writes: see docs/adr/0007-status-write-coalescing.md)
 *   scoped          as new-namespace, but the reconcile is scoped to the new namespace, as its events ask
 *                   (src/controller/scoped-queue.ts); the whole reconcile that follows is not in the figure
 *   expiring        as converged, for an expiring (ECR-like) credential reused from its Secrets
 */
import { Writable } from 'node:stream';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { ClusterView } from '../../src/controller/cluster-view.js';
import { systemClock } from '../../src/controller/clock.js';
import { recordingWriter } from '../../src/controller/recording-writer.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Provider } from '../../src/providers/types.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { FakeCluster } from '../support/fake-cluster.js';

const LABEL = 'perf/target';
const NAME = 'perf';

interface Options {
  sizes: number[];
  runs: number;
  scenarios: string[];
}

function parseOptions(argv: string[]): Options {
  const options: Options = { sizes: [1000, 5000], runs: 30, scenarios: ['converged', 'new-namespace', 'scoped', 'expiring'] };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1] ?? '';
    if (argv[i] === '--sizes') options.sizes = value.split(',').map(Number);
    else if (argv[i] === '--runs') options.runs = Number(value);
    else if (argv[i] === '--scenarios') options.scenarios = value.split(',');
    else continue;
    i++;
  }
  return options;
}

const ecrLike: Provider = {
  name: 'ecr',
  mint: () =>
    Promise.resolve({
      logins: [{ registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', username: 'AWS', password: 'x'.repeat(2000) }],
      expiresAt: new Date(Date.now() + 12 * 3600_000),
    }),
};

function setUp(size: number, expiring: boolean): { cluster: FakeCluster; reconciler: Reconciler } {
  const cluster = new FakeCluster();
  // Namespaces the credential does not select, as in any real cluster.
  for (let i = 0; i < 50; i++) cluster.addNamespace(`other-${i}`);
  for (let i = 0; i < size; i++) {
    const ns = `team-${String(i).padStart(5, '0')}`;
    cluster.addNamespace(ns, { [LABEL]: 'true', 'kubernetes.io/metadata.name': ns });
    cluster.addServiceAccount(ns);
  }
  cluster.addSourceSecret('perf-source', { username: 'bot', password: 'p'.repeat(40) });
  const spec: RegistryCredentialSpec = expiring
    ? { ecr: { region: 'us-east-1' }, namespaces: { selector: { matchLabels: { [LABEL]: 'true' } } } }
    : { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'perf-source' } }, namespaces: { selector: { matchLabels: { [LABEL]: 'true' } } } };
  cluster.addCredential(NAME, spec);
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const log = createLogger({ level: 'info', pretty: false, destination: discard });
  const view = new ClusterView(cluster.caches, cluster.operatorNamespace, () => Date.now());
  const reconciler = new Reconciler({
    view,
    writer: recordingWriter(cluster.writer, view),
    providers: { ecr: ecrLike },
    events: { record: () => Promise.resolve() },
    clock: systemClock,
    log,
    writeConcurrency: 16,
    random: () => 0.5,
    // The provider call settles on its own; the next reconcile below takes it in.
    enqueue: () => undefined,
    providerTimeoutMs: 30_000,
    providerConcurrency: 4,
  });
  return { cluster, reconciler };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function measure(scenario: string, size: number, runs: number): Promise<void> {
  const { cluster, reconciler } = setUp(size, scenario === 'expiring');
  await reconciler.reconcile(NAME); // converge: every Secret and entry written (an expiring credential: its provider call starts)
  await new Promise((resolve) => setImmediate(resolve)); // the provider call settles
  await reconciler.reconcile(NAME); // an expiring credential is published now
  await reconciler.reconcile(NAME); // the status write of the pass before is now in the cache
  let added = 0;
  const step = async (): Promise<void> => {
    if (scenario === 'new-namespace' || scenario === 'scoped') {
      const ns = `new-${added++}`;
      cluster.addNamespace(ns, { [LABEL]: 'true' });
      cluster.addServiceAccount(ns);
      await reconciler.reconcile(NAME, scenario === 'scoped' ? new Set([ns]) : undefined);
      return;
    }
    await reconciler.reconcile(NAME);
  };
  for (let i = 0; i < 5; i++) await step(); // warm-up (JIT)
  cluster.clearWrites();
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = process.cpuUsage();
    await step();
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / 1000);
  }
  const writes = cluster.writes.filter((w) => w.verb !== 'get');
  const perRun = (resource: string): string => (writes.filter((w) => w.resource === resource).length / runs).toFixed(2);
  // Status changes that only move counts may be held back for a moment: let the last one be written.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await reconciler.reconcile(NAME);
  const status = cluster.status(NAME);
  console.log(
    [
      scenario.padEnd(14),
      String(size).padStart(6),
      `cpu/reconcile median ${median(cpu).toFixed(1).padStart(6)} ms`,
      `mean ${(cpu.reduce((a, b) => a + b, 0) / runs).toFixed(1).padStart(6)} ms`,
      `writes/reconcile: secrets ${perRun('secrets')}, serviceaccounts ${perRun('serviceaccounts')}, status ${perRun('registrycredentials/status')}`,
      `status afterwards: synced ${status?.syncedNamespaces}/${status?.targetNamespaces} ready=${status?.conditions?.find((c) => c.type === 'Ready')?.status}`,
    ].join('  '),
  );
}

const options = parseOptions(process.argv.slice(2));
for (const size of options.sizes) {
  for (const scenario of options.scenarios) await measure(scenario, size, options.runs);
}
