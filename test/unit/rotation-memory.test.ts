import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { ClusterView } from '../../src/controller/cluster-view.js';
import { systemClock } from '../../src/controller/clock.js';
import { recordingWriter } from '../../src/controller/recording-writer.js';
import type { KubeWriter } from '../../src/kube/writer.js';
import { createLogger } from '../../src/observability/logger.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { FakeCluster } from '../support/fake-cluster.js';

/**
 * A reconcile that rewrites every Secret (a source rotation) lets go of the version each write replaced
 * as it goes, rather than when the whole reconcile ends. Holding them all (the gather snapshot and the
 * write plan each kept one per namespace) was 23 MiB of old space at 20,000 namespaces, and the RSS peak
 * of a rotation with it (BENCHMARKS.md). The same for the ServiceAccounts a fan-out edits (the plan's
 * edits and their results held each). Checked with weak references and V8's own full collection.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const NAMESPACES = 400;
const LABEL = 'rotation/target';

describe('a rotation over every namespace', () => {
  it('keeps alive only the replaced Secrets and ServiceAccounts whose writes have not finished', async () => {
    const cluster = new FakeCluster();
    for (let i = 0; i < NAMESPACES; i++) {
      cluster.addNamespace(`team-${i}`, { [LABEL]: 'true' });
      // Someone else's entry: each cached ServiceAccount has a list of its own, which a view of it shares.
      cluster.addServiceAccount(`team-${i}`, 'default', { imagePullSecrets: [{ name: 'someone-elses' }] });
    }
    cluster.addSourceSecret('src', { username: 'bot', password: 'first' });
    cluster.addCredential('cred', { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'src' } }, namespaces: { selector: { matchLabels: { [LABEL]: 'true' } } } });

    let updates = 0;
    let patches = 0;
    const alive: number[] = [];
    const accountsAlive: number[] = [];
    let before: WeakRef<object>[] = [];
    const count = (): number => {
      gc();
      return before.filter((ref) => ref.deref() !== undefined).length;
    };
    const base = cluster.writer;
    const writer: KubeWriter = {
      ...base,
      patchServiceAccount: async (namespace, name, patch) => {
        await new Promise((resolve) => setImmediate(resolve));
        const patched = await base.patchServiceAccount(namespace, name, patch);
        patches++;
        if (patches === NAMESPACES / 2 || patches === NAMESPACES - 10) accountsAlive.push(count());
        return patched;
      },
      replaceSecret: async (secret) => {
        await new Promise((resolve) => setImmediate(resolve));
        const stored = await base.replaceSecret(secret);
        updates++;
        if (updates === NAMESPACES / 2 || updates === NAMESPACES - 10) alive.push(count());
        return stored;
      },
    };
    const view = new ClusterView(cluster.caches, cluster.operatorNamespace, () => Date.now());
    const reconciler = new Reconciler({
      view,
      writer: recordingWriter(writer, view),
      providers: {},
      events: { record: () => Promise.resolve() },
      clock: systemClock,
      log: createLogger({ level: 'silent', pretty: false }),
      writeConcurrency: 8,
      random: () => 0.5,
      enqueue: () => undefined,
      providerTimeoutMs: 30_000,
      providerConcurrency: 2,
    });

    before = Array.from({ length: NAMESPACES }, (_, i) => new WeakRef(cluster.caches.serviceAccounts.get('default', `team-${i}`)!.imagePullSecrets!));
    await new Promise((resolve) => setImmediate(resolve));
    await reconciler.reconcile('cred');
    expect(cluster.count('create', 'secrets')).toBe(NAMESPACES);
    expect(patches).toBe(NAMESPACES);
    // The ServiceAccounts each edit replaced, the same way.
    expect(accountsAlive).toHaveLength(2);
    expect(accountsAlive[0]).toBeLessThanOrEqual(NAMESPACES / 2 + 16);
    expect(accountsAlive[1]).toBeLessThanOrEqual(10 + 16);
    expect(count()).toBe(0);

    before = view.managedSecretsOf('cred').map((secret) => new WeakRef(secret));
    expect(before).toHaveLength(NAMESPACES);
    await new Promise((resolve) => setImmediate(resolve));
    expect(count()).toBe(NAMESPACES); // the cache holds every one until it is rewritten

    cluster.addSourceSecret('src', { username: 'bot', password: 'second' });
    await reconciler.reconcile('cred');
    expect(updates).toBe(NAMESPACES);
    // Half-way, what is still alive is the half not yet rewritten, and the few writes in flight (8 at a
    // time) with the ones p-map has taken for the next slots; near the end, only those few. Holding them
    // all until the reconcile ended, both counts were 400.
    expect(alive).toHaveLength(2);
    expect(alive[0]).toBeLessThanOrEqual(NAMESPACES / 2 + 16);
    expect(alive[1]).toBeLessThanOrEqual(10 + 16);
    expect(count()).toBe(0);
  });
});
