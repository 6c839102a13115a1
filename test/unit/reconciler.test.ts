import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { ADDED_PULL_SECRETS_ANNOTATION, CREDENTIAL_DIGEST_ANNOTATION, CREDENTIAL_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/constants.js';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { ClusterView } from '../../src/controller/cluster-view.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { buildDockerConfigJson } from '../../src/desired/dockerconfig.js';
import { desiredSecret } from '../../src/desired/secret.js';
import { createLogger } from '../../src/observability/logger.js';
import { staticProvider } from '../../src/providers/static.js';
import type { Provider } from '../../src/providers/types.js';
import { getCondition } from '../../src/status/conditions.js';
import { FakeClock } from '../support/fake-clock.js';
import { FakeCluster } from '../support/fake-cluster.js';

/**
 * The Reconciler over in-memory caches: which writes one reconcile makes, and when status is written.
 * What a user sees end to end is covered by test/integration against a real API server.
 */

const NAME = 'rc';
const SELECTOR = { matchLabels: { pulls: 'yes' } };
const START = Date.parse('2026-11-22T00:00:00Z');
const ECR_REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const COALESCE_MS = 1_000;

interface Setup {
  clock: FakeClock;
  cluster: FakeCluster;
  reconciler: Reconciler;
  events: string[];
  mints: () => number;
}

function setup(namespaces: number, spec: Partial<RegistryCredentialSpec> = {}): Setup {
  const clock = new FakeClock(START);
  const cluster = new FakeCluster();
  cluster.addNamespace('kube-system');
  cluster.addServiceAccount('kube-system');
  for (let i = 0; i < namespaces; i++) addTarget(cluster, `team-${i}`);
  cluster.addSourceSecret('src', { username: 'robot', password: 'pw-1' });
  cluster.addCredential(NAME, {
    ...(spec.ecr ? {} : { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'src' } } }),
    namespaces: { selector: SELECTOR },
    ...spec,
  });
  let mints = 0;
  const ecr: Provider = {
    name: 'ecr',
    mint: () => {
      mints++;
      return Promise.resolve({
        registries: [ECR_REGISTRY],
        dockerConfigJson: buildDockerConfigJson([ECR_REGISTRY], 'AWS', `token-${mints}`),
        expiresAt: new Date(clock.now() + 12 * 3600_000),
      });
    },
  };
  const events: string[] = [];
  const reconciler = new Reconciler({
    view: new ClusterView(cluster.caches, cluster.operatorNamespace, () => clock.now()),
    writer: cluster.writer,
    providers: { static: staticProvider, ecr },
    events: {
      record: (_credential, type, reason) => {
        events.push(`${type} ${reason}`);
        return Promise.resolve();
      },
    },
    clock,
    log: createLogger({ level: 'silent', pretty: false }),
    writeConcurrency: 4,
    random: () => 0.5,
  });
  return { clock, cluster, reconciler, events, mints: () => mints };
}

function addTarget(cluster: FakeCluster, namespace: string): void {
  cluster.addNamespace(namespace, { pulls: 'yes' });
  cluster.addServiceAccount(namespace);
}

/** Writes by kind, e.g. {"create secrets": 3}; reads (a GET after a 409) are left out. */
function writesByKind(cluster: FakeCluster): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const w of cluster.writes) {
    if (w.verb === 'get') continue;
    const kind = `${w.verb} ${w.resource}`;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

function counts(cluster: FakeCluster): { targets?: number; synced?: number; patched?: number } {
  const status = cluster.status(NAME);
  return { targets: status?.targetNamespaces, synced: status?.syncedNamespaces, patched: status?.patchedServiceAccounts };
}

/** Converged, with the last status write far enough in the past that the next change is written at once. */
async function converged(s: Setup): Promise<void> {
  await s.reconciler.reconcile(NAME);
  s.clock.advance(10 * COALESCE_MS);
  s.cluster.clearWrites();
  s.events.length = 0;
}

describe('Reconciler: writes', () => {
  it('converges in one reconcile, writing each namespace the Secret desiredSecret builds for it, then makes no writes', async () => {
    const s = setup(5);
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(writesByKind(s.cluster)).toEqual({ 'create secrets': 5, 'patch serviceaccounts': 5, 'patch registrycredentials/status': 1 });
    expect(s.events).toEqual(['Normal Synced']);
    expect(counts(s.cluster)).toEqual({ targets: 5, synced: 5, patched: 5 });
    const uid = s.cluster.credentials.get(NAME)!.metadata.uid!;
    const json = buildDockerConfigJson(['ghcr.io'], 'robot', 'pw-1');
    for (let i = 0; i < 5; i++) {
      const ns = `team-${i}`;
      const want = desiredSecret({ credentialName: NAME, credentialUid: uid, secretName: NAME, namespace: ns, dockerConfigJson: json });
      const got = s.cluster.managedSecrets.get(NAME, ns)!;
      expect({ metadata: { ...got.metadata, uid: undefined, resourceVersion: undefined }, type: got.type, data: got.data }).toEqual({
        metadata: { ...want.metadata, uid: undefined, resourceVersion: undefined },
        type: want.type,
        data: want.data,
      });
      expect(s.cluster.serviceAccounts.get('default', ns)?.imagePullSecrets).toEqual([{ name: NAME }]);
    }
    expect(s.cluster.managedSecrets.get(NAME, 'kube-system')).toBeUndefined();

    s.cluster.clearWrites();
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(s.cluster.writes).toEqual([]);
  });

  it('restores a Secret edited by hand, rewriting only that Secret', async () => {
    const s = setup(3);
    await converged(s);
    const edited = structuredClone(s.cluster.managedSecrets.get(NAME, 'team-1')!);
    edited.data = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') };
    edited.metadata!.labels = { ...edited.metadata!.labels, 'someone-else': 'keeps-this' };
    s.cluster.putManagedSecret(edited);
    // First published at START, before converged() moved the clock on.
    const refreshedAt = s.cluster.credentials.get(NAME)!.status?.lastRefreshTime;
    expect(refreshedAt).toBe('2026-11-22T00:00:00Z');
    s.clock.advance(60_000);
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.writes.filter((w) => w.resource !== 'registrycredentials/status')).toEqual([
      { verb: 'update', resource: 'secrets', namespace: 'team-1', name: NAME },
    ]);
    // The other Secrets already held this credential: a restore, not a refresh.
    expect(s.cluster.credentials.get(NAME)!.status?.lastRefreshTime).toBe(refreshedAt);
    const restored = s.cluster.managedSecrets.get(NAME, 'team-1')!;
    expect(restored.data).toEqual(s.cluster.managedSecrets.get(NAME, 'team-0')!.data);
    expect(restored.metadata?.labels?.['someone-else']).toBe('keeps-this');
  });

  it('removes its Secret and its entry from a namespace that stops matching, and leaves the others alone', async () => {
    const s = setup(3);
    await converged(s);
    s.cluster.addNamespace('team-1', { pulls: 'no' });
    await s.reconciler.reconcile(NAME);
    expect(writesByKind(s.cluster)).toEqual({ 'delete secrets': 1, 'patch serviceaccounts': 1, 'patch registrycredentials/status': 1 });
    expect(s.cluster.managedSecrets.get(NAME, 'team-1')).toBeUndefined();
    const sa = s.cluster.serviceAccounts.get('default', 'team-1')!;
    expect(sa.imagePullSecrets).toEqual([]);
    expect(sa.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION]).toBeUndefined();
    expect(counts(s.cluster)).toEqual({ targets: 2, synced: 2, patched: 2 });
  });

  it('adds the entry to the selected ServiceAccounts and removes only its own from the others', async () => {
    const s = setup(0, { serviceAccounts: { names: ['builder'] } });
    s.cluster.addNamespace('team-0', { pulls: 'yes' });
    s.cluster.addServiceAccount('team-0', 'builder');
    // Selected before (recorded as ours): the entry goes. Someone else's entry of the same name stays.
    s.cluster.addServiceAccount('team-0', 'default', {
      imagePullSecrets: [{ name: 'mine' }, { name: NAME }],
      metadata: { annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: JSON.stringify([NAME]) } },
    });
    s.cluster.addServiceAccount('team-0', 'other', { imagePullSecrets: [{ name: NAME }] });
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.serviceAccounts.get('builder', 'team-0')?.imagePullSecrets).toEqual([{ name: NAME }]);
    expect(s.cluster.serviceAccounts.get('default', 'team-0')?.imagePullSecrets).toEqual([{ name: 'mine' }]);
    expect(s.cluster.serviceAccounts.get('other', 'team-0')?.imagePullSecrets).toEqual([{ name: NAME }]);
    expect(counts(s.cluster)).toEqual({ targets: 1, synced: 1, patched: 1 });
  });

  it('reports a namespace where another credential owns the Secret, and never touches that Secret', async () => {
    const s = setup(2);
    s.cluster.addNamespace('taken', { pulls: 'yes' });
    s.cluster.putManagedSecret({
      metadata: { name: NAME, namespace: 'taken', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: 'other' } },
      type: 'Opaque',
      data: { x: 'eQ==' },
    });
    const before = s.cluster.managedSecrets.get(NAME, 'taken');
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.managedSecrets.get(NAME, 'taken')).toBe(before);
    const status = s.cluster.status(NAME)!;
    expect(status.failedNamespaces).toEqual([
      { namespace: 'taken', reason: 'SecretConflict', message: `secret ${NAME} exists and is managed by RegistryCredential other` },
    ]);
    expect(getCondition(status.conditions, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretConflict' });
  });

  it('publishes an expiring credential with its digest, mints once, and re-queues for the refresh', async () => {
    const s = setup(4, { ecr: { region: 'us-east-1' } });
    const first = await s.reconciler.reconcile(NAME);
    expect(s.mints()).toBe(1);
    // About half of the 12 h lifetime (random() = 0.5: no jitter).
    expect(first.requeueAfterMs).toBe(6 * 3600_000);
    const json = buildDockerConfigJson([ECR_REGISTRY], 'AWS', 'token-1');
    const digest = createHash('sha256').update(json).digest('hex');
    for (let i = 0; i < 4; i++) {
      expect(s.cluster.managedSecrets.get(NAME, `team-${i}`)?.metadata?.annotations?.[CREDENTIAL_DIGEST_ANNOTATION]).toBe(digest);
    }
    s.cluster.clearWrites();
    s.clock.advance(60_000);
    expect((await s.reconciler.reconcile(NAME)).requeueAfterMs).toBe(6 * 3600_000 - 60_000);
    expect(s.cluster.writes).toEqual([]);
    expect(s.mints()).toBe(1);
  });
});

describe('Reconciler: status writes in a burst of namespace events', () => {
  let s: Setup;
  beforeEach(async () => {
    s = setup(3);
    await converged(s);
  });

  it('writes the first change at once, and the count changes that follow within a second together', async () => {
    addTarget(s.cluster, 'new-0');
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(writesByKind(s.cluster)).toEqual({ 'create secrets': 1, 'patch serviceaccounts': 1, 'patch registrycredentials/status': 1 });
    expect(counts(s.cluster)).toEqual({ targets: 4, synced: 4, patched: 4 });

    s.cluster.clearWrites();
    for (const [i, at] of [[1, 200], [2, 400], [3, 700]] as const) {
      s.clock.advance(at - (s.clock.now() - START - 10 * COALESCE_MS));
      addTarget(s.cluster, `new-${i}`);
      // Run again when the second is over, to write what was held back.
      expect(await s.reconciler.reconcile(NAME)).toEqual({ requeueAfterMs: COALESCE_MS - at });
    }
    expect(writesByKind(s.cluster)).toEqual({ 'create secrets': 3, 'patch serviceaccounts': 3 });
    expect(counts(s.cluster)).toEqual({ targets: 4, synced: 4, patched: 4 });

    s.clock.advance(300);
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(writesByKind(s.cluster)).toEqual({ 'create secrets': 3, 'patch serviceaccounts': 3, 'patch registrycredentials/status': 1 });
    const status = s.cluster.status(NAME)!;
    expect(counts(s.cluster)).toEqual({ targets: 7, synced: 7, patched: 7 });
    expect(getCondition(status.conditions, 'SecretsSynced')?.message).toBe(`Secret ${NAME} is current in 7 namespaces`);
    expect(getCondition(status.conditions, 'Ready')?.message).toBe(`Secret ${NAME} is current in 7 namespaces`);

    s.cluster.clearWrites();
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(s.cluster.writes).toEqual([]);
  });

  it('writes a condition change at once, even right after another status write', async () => {
    addTarget(s.cluster, 'new-0');
    await s.reconciler.reconcile(NAME);
    s.clock.advance(100);
    s.cluster.addNamespace('taken', { pulls: 'yes' });
    s.cluster.putManagedSecret({
      metadata: { name: NAME, namespace: 'taken', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: 'other' } },
      type: 'Opaque',
    });
    s.cluster.clearWrites();
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(writesByKind(s.cluster)).toEqual({ 'patch registrycredentials/status': 1 });
    expect(getCondition(s.cluster.status(NAME)?.conditions, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretConflict' });
    expect(s.events).toEqual(['Warning SecretConflict']);
  });

  it('does not let a cache that lags behind its own write hold back a condition change', async () => {
    s.cluster.addNamespace('taken', { pulls: 'yes' });
    s.cluster.putManagedSecret({
      metadata: { name: NAME, namespace: 'taken', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: 'other' } },
      type: 'Opaque',
    });
    s.cluster.holdStatusEcho = true;
    await s.reconciler.reconcile(NAME);
    expect(getCondition(s.cluster.status(NAME)?.conditions, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretConflict' });

    // The other credential's Secret goes; the cache still shows Ready=True from before our write.
    s.cluster.managedSecrets.remove('taken', NAME);
    s.cluster.addServiceAccount('taken');
    s.clock.advance(100);
    s.cluster.clearWrites();
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(s.cluster.count('patch', 'registrycredentials/status')).toBe(1);
    expect(getCondition(s.cluster.status(NAME)?.conditions, 'Ready')).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(counts(s.cluster)).toEqual({ targets: 4, synced: 4, patched: 4 });
  });

  it('re-queues for whichever comes first, the held-back status or the refresh', async () => {
    const e = setup(2, { ecr: { region: 'us-east-1' } });
    await converged(e);
    addTarget(e.cluster, 'new-0');
    expect((await e.reconciler.reconcile(NAME)).requeueAfterMs).toBe(6 * 3600_000 - 10 * COALESCE_MS);
    e.clock.advance(250);
    addTarget(e.cluster, 'new-1');
    expect((await e.reconciler.reconcile(NAME)).requeueAfterMs).toBe(COALESCE_MS - 250);
  });
});
