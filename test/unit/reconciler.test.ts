import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  ADDED_PULL_SECRETS_ANNOTATION,
  CREDENTIAL_DIGEST_ANNOTATION,
  CREDENTIAL_LABEL,
  DOCKERCONFIGJSON_TYPE,
  FINALIZER,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from '../../src/api/constants.js';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { ClusterView } from '../../src/controller/cluster-view.js';
import { recordingWriter } from '../../src/controller/recording-writer.js';
import { buildDockerConfigJson } from '../../src/desired/dockerconfig.js';
import { desiredSecret } from '../../src/desired/secret.js';
import { KubeApiError } from '../../src/kube/errors.js';
import type { KubeWriter } from '../../src/kube/writer.js';
import { createLogger } from '../../src/observability/logger.js';
import { ProviderError, type Provider, type ProviderCredential } from '../../src/providers/types.js';
import { retryAfterOf, TerminalError } from '../../src/reconcile/contract.js';
import { Reconciler, RetryableFanOutError } from '../../src/reconcile/reconciler.js';
import type { HostOutcome, VerificationRequest, Verifier } from '../../src/registry/types.js';
import { getCondition } from '../../src/status/conditions.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { FakeCluster } from '../support/fake-cluster.js';

/**
 * The Reconciler over in-memory caches: which writes one reconcile makes, when the provider is called,
 * and what status says. What a user sees end to end is covered by test/integration against a real API server.
 */

const NAME = 'rc';
const SELECTOR = { matchLabels: { pulls: 'yes' } };
const START = Date.parse('2026-11-22T00:00:00Z');
const ECR_REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const COALESCE_MS = 1_000;
const TIMEOUT_MS = 30_000;
const LIFETIME_MS = 12 * 3600_000;

type Answer = 'ok' | 'fail' | 'hang';

interface Setup {
  clock: FakeClock;
  cluster: FakeCluster;
  reconciler: Reconciler;
  events: string[];
  eventMessages: string[];
  /** Keys the reconciler put back on the queue (a provider call settled). */
  enqueued: string[];
  /** Keys put back for their status alone (a registry probe settled), with `statusQueue`. */
  statusEnqueued: string[];
  mints: () => number;
  /** How the next provider calls answer. */
  answer: { next: Answer };
}

function setup(
  namespaces: number,
  spec: Partial<RegistryCredentialSpec> = {},
  writer?: (cluster: FakeCluster) => KubeWriter,
  verifier?: Verifier,
  options: { statusQueue?: boolean } = {},
): Setup {
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
  const answer: { next: Answer } = { next: 'ok' };
  const ecr: Provider = {
    name: 'ecr',
    mint: (_spec, _sources, signal) => {
      mints++;
      if (answer.next === 'fail') return Promise.reject(new ProviderError('ProviderUnreachable', 'cannot reach ECR at https://api.ecr.example (ECONNREFUSED); will retry', true));
      if (answer.next === 'hang') {
        return new Promise<ProviderCredential>((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(new ProviderError('ProviderUnreachable', 'cannot reach ECR at https://api.ecr.example (no answer within the time allowed); will retry', true))),
        );
      }
      return Promise.resolve({ logins: [{ registry: ECR_REGISTRY, username: 'AWS', password: `token-${mints}` }], expiresAt: new Date(clock.now() + LIFETIME_MS) });
    },
  };
  const events: string[] = [];
  const eventMessages: string[] = [];
  const enqueued: string[] = [];
  const statusEnqueued: string[] = [];
  const view = new ClusterView(cluster.caches, cluster.operatorNamespace, () => clock.now());
  const reconciler = new Reconciler({
    view,
    writer: recordingWriter(writer ? writer(cluster) : cluster.writer, view),
    providers: { ecr },
    events: {
      record: (_credential, type, reason, message) => {
        events.push(`${type} ${reason}`);
        eventMessages.push(message);
        return Promise.resolve();
      },
    },
    clock,
    log: createLogger({ level: 'silent', pretty: false }),
    writeConcurrency: 4,
    random: () => 0.5,
    enqueue: (name) => enqueued.push(name),
    ...(options.statusQueue ? { enqueueStatus: (name: string) => statusEnqueued.push(name) } : {}),
    providerTimeoutMs: TIMEOUT_MS,
    providerConcurrency: 2,
    ...(verifier ? { verifier } : {}),
  });
  return { clock, cluster, reconciler, events, eventMessages, enqueued, statusEnqueued, mints: () => mints, answer };
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

function counts(cluster: FakeCluster, name = NAME): { targets?: number; synced?: number; patched?: number } {
  const status = cluster.status(name);
  return { targets: status?.targetNamespaces, synced: status?.syncedNamespaces, patched: status?.patchedServiceAccounts };
}

function condition(s: Setup, type: string, name = NAME): { status?: string; reason?: string } {
  const c = getCondition(s.cluster.status(name)?.conditions, type);
  return { status: c?.status, reason: c?.reason };
}

/** Reconcile; if that started a provider call, let it settle and reconcile again (what the queue does). */
async function reconcileThroughMint(s: Setup): Promise<Awaited<ReturnType<Reconciler['reconcile']>>> {
  let result = await s.reconciler.reconcile(NAME);
  await settle();
  while (s.enqueued.length > 0) {
    s.enqueued.length = 0;
    result = await s.reconciler.reconcile(NAME);
    await settle();
  }
  return result;
}

/** Converged, with the last status write far enough in the past that the next change is written at once. */
async function converged(s: Setup): Promise<void> {
  await reconcileThroughMint(s);
  s.clock.advance(10 * COALESCE_MS);
  s.cluster.clearWrites();
  s.events.length = 0;
  s.eventMessages.length = 0;
}

/** As the API server marks an object whose finalizers hold its deletion. */
function markDeleted(s: Setup, name: string): void {
  const credential = s.cluster.credentials.get(name)!;
  s.cluster.credentials.put({ ...credential, metadata: { ...credential.metadata, deletionTimestamp: '2026-11-22T01:00:00Z' as unknown as Date & string } });
}

function pullSecrets(s: Setup, namespace: string, sa = 'default'): string[] {
  return (s.cluster.serviceAccounts.get(sa, namespace)?.imagePullSecrets ?? []).map((r) => r.name ?? '');
}

function recorded(s: Setup, namespace: string, sa = 'default'): string | undefined {
  return s.cluster.serviceAccounts.get(sa, namespace)?.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION];
}

describe('Reconciler: writes', () => {
  it('converges in one reconcile, writing each namespace the Secret desiredSecret builds for it, then makes no writes', async () => {
    const s = setup(5);
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(writesByKind(s.cluster)).toEqual({ 'create secrets': 5, 'patch serviceaccounts': 5, 'patch registrycredentials/status': 1 });
    expect(s.events).toEqual(['Normal Synced']);
    expect(counts(s.cluster)).toEqual({ targets: 5, synced: 5, patched: 5 });
    const uid = s.cluster.credentials.get(NAME)!.metadata.uid!;
    const json = buildDockerConfigJson([{ registry: 'ghcr.io', username: 'robot', password: 'pw-1' }]);
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
    // Static credentials are read from the source Secret: no provider call.
    expect(s.mints()).toBe(0);

    s.cluster.clearWrites();
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(s.cluster.writes).toEqual([]);
  });

  it('restores a Secret edited by hand, rewriting only that Secret, without moving lastRefreshTime', async () => {
    const s = setup(3);
    await converged(s);
    const edited = structuredClone(s.cluster.managedSecrets.get(NAME, 'team-1')!);
    edited.data = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') };
    edited.metadata!.labels = { ...edited.metadata!.labels, 'someone-else': 'keeps-this' };
    s.cluster.putManagedSecret(edited);
    const refreshedAt = s.cluster.status(NAME)?.lastRefreshTime;
    expect(refreshedAt).toBe('2026-11-22T00:00:00Z');
    s.clock.advance(60_000);
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.writes).toEqual([{ verb: 'update', resource: 'secrets', namespace: 'team-1', name: NAME }]);
    expect(s.cluster.status(NAME)?.lastRefreshTime).toBe(refreshedAt);
    const restored = s.cluster.managedSecrets.get(NAME, 'team-1')!;
    expect(restored.data).toEqual(s.cluster.managedSecrets.get(NAME, 'team-0')!.data);
    expect(restored.metadata?.labels?.['someone-else']).toBe('keeps-this');
  });

  it('a changed source moves lastRefreshTime to when the new credential was read', async () => {
    const s = setup(2);
    await converged(s);
    s.clock.advance(60_000);
    s.cluster.addSourceSecret('src', { username: 'robot', password: 'pw-2' });
    await s.reconciler.reconcile(NAME);
    expect(writesByKind(s.cluster)).toEqual({ 'update secrets': 2, 'patch registrycredentials/status': 1 });
    expect(s.cluster.status(NAME)?.lastRefreshTime).toBe('2026-11-22T00:01:10Z');
  });

  it('removes its Secret and its entry from a namespace that stops matching, and leaves the others alone', async () => {
    const s = setup(3);
    await converged(s);
    s.cluster.addNamespace('team-1', { pulls: 'no' });
    await s.reconciler.reconcile(NAME);
    expect(writesByKind(s.cluster)).toEqual({ 'delete secrets': 1, 'patch serviceaccounts': 1, 'patch registrycredentials/status': 1 });
    expect(s.cluster.managedSecrets.get(NAME, 'team-1')).toBeUndefined();
    expect(pullSecrets(s, 'team-1')).toEqual([]);
    expect(recorded(s, 'team-1')).toBeUndefined();
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
    expect(pullSecrets(s, 'team-0', 'builder')).toEqual([NAME]);
    expect(pullSecrets(s, 'team-0', 'default')).toEqual(['mine']);
    expect(pullSecrets(s, 'team-0', 'other')).toEqual([NAME]);
    expect(counts(s.cluster)).toEqual({ targets: 1, synced: 1, patched: 1 });
  });

  it('renaming secretName removes the old entry it added, keeps a pre-existing entry of the new name, then deletes the old Secrets', async () => {
    const s = setup(0, { secretName: 'pull', serviceAccounts: { names: ['default', 'builder'] } });
    addTarget(s.cluster, 'team-0');
    s.cluster.addServiceAccount('team-0', 'builder', { imagePullSecrets: [{ name: 'keep-me' }, { name: 'pull2' }] });
    await converged(s);
    expect(pullSecrets(s, 'team-0', 'builder')).toEqual(['keep-me', 'pull2', 'pull']);

    const credential = s.cluster.credentials.get(NAME)!;
    s.cluster.credentials.put({ ...credential, metadata: { ...credential.metadata, generation: 2 }, spec: { ...credential.spec, secretName: 'pull2' } });
    await s.reconciler.reconcile(NAME);
    expect(pullSecrets(s, 'team-0', 'default')).toEqual(['pull2']);
    expect(pullSecrets(s, 'team-0', 'builder')).toEqual(['keep-me', 'pull2']);
    expect(recorded(s, 'team-0', 'default')).toBe('["pull2"]');
    // pull2 was there before us on builder: not ours, never recorded.
    expect(recorded(s, 'team-0', 'builder')).toBeUndefined();
    expect(s.cluster.managedSecrets.get('pull', 'team-0')).toBeUndefined();
    expect(s.cluster.managedSecrets.get('pull2', 'team-0')).toBeDefined();
    // The entries went before the Secret they name.
    const order = s.cluster.writes.filter((w) => w.resource !== 'registrycredentials/status').map((w) => `${w.verb} ${w.resource}`);
    expect(order.lastIndexOf('patch serviceaccounts')).toBeLessThan(order.indexOf('delete secrets'));
  });

  it('keeps an old Secret while an entry naming it could not be removed', async () => {
    let failPatches = false;
    const s = setup(1, { secretName: 'pull' }, (cluster) => ({
      ...cluster.writer,
      patchServiceAccount: (ns, name, patch) =>
        failPatches ? Promise.reject(new KubeApiError('Transient', 503, 'patch ServiceAccount: HTTP 503 unavailable')) : cluster.writer.patchServiceAccount(ns, name, patch),
    }));
    await converged(s);
    failPatches = true;
    const credential = s.cluster.credentials.get(NAME)!;
    s.cluster.credentials.put({ ...credential, metadata: { ...credential.metadata, generation: 2 }, spec: { ...credential.spec, secretName: 'pull2' } });
    await expect(s.reconciler.reconcile(NAME)).rejects.toThrow(/needs? another try/);
    expect(s.cluster.managedSecrets.get('pull', 'team-0')).toBeDefined();
    failPatches = false;
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.managedSecrets.get('pull', 'team-0')).toBeUndefined();
    expect(pullSecrets(s, 'team-0')).toEqual(['pull2']);
  });

  it('reports a namespace where another credential owns the Secret, with the fix, and never touches that Secret', async () => {
    const s = setup(2);
    s.cluster.addNamespace('taken', { pulls: 'yes' });
    s.cluster.putManagedSecret({
      metadata: { name: NAME, namespace: 'taken', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: 'other' } },
      type: 'Opaque',
      data: { x: 'eQ==' },
    });
    const before = s.cluster.managedSecrets.get(NAME, 'taken');
    const result = await s.reconciler.reconcile(NAME);
    expect(result).toEqual({ failed: true });
    expect(s.cluster.managedSecrets.get(NAME, 'taken')).toBe(before);
    const status = s.cluster.status(NAME)!;
    expect(status.failedNamespaces).toEqual([
      { namespace: 'taken', reason: 'SecretConflict', message: `Secret ${NAME} in taken is managed by RegistryCredential other: give one of them another spec.secretName` },
    ]);
    expect(condition(s, 'Ready')).toEqual({ status: 'False', reason: 'SecretConflict' });
  });

  it('publishes an expiring credential from a call made outside the reconcile, with its digest, and re-queues for the refresh', async () => {
    const s = setup(4, { ecr: { region: 'us-east-1' } });
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    // The call is under way: nothing published, status says so, no Warning.
    expect(condition(s, 'Ready')).toEqual({ status: 'Unknown', reason: 'Minting' });
    expect(s.cluster.count('create', 'secrets')).toBe(0);
    await settle();
    expect(s.enqueued).toEqual([NAME]);
    s.enqueued.length = 0;
    const first = await s.reconciler.reconcile(NAME);
    expect(s.mints()).toBe(1);
    // About half of the 12 h lifetime (random() = 0.5: no jitter).
    expect(first.requeueAfterMs).toBe(6 * 3600_000);
    expect(s.events).toEqual(['Normal Synced']);
    const json = buildDockerConfigJson([{ registry: ECR_REGISTRY, username: 'AWS', password: 'token-1' }]);
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

describe('Reconciler: a failing or hanging provider', () => {
  it('keeps the last good credential, reports RefreshFailing, and turns Expired at the expiry time, not at the next attempt', async () => {
    const s = setup(2, { ecr: { region: 'us-east-1' } });
    await converged(s);
    const published = s.cluster.managedSecrets.get(NAME, 'team-0')!.data;
    s.answer.next = 'fail';
    // Due for refresh: the call fails; the published credential stays.
    s.clock.advance(6 * 3600_000);
    await reconcileThroughMint(s);
    expect(condition(s, 'TokenAvailable')).toEqual({ status: 'True', reason: 'RefreshFailing' });
    expect(s.events).toEqual(['Warning RefreshFailed']);
    expect(s.cluster.managedSecrets.get(NAME, 'team-0')!.data).toEqual(published);
    expect(s.cluster.status(NAME)?.failedRefreshAttempts).toBe(1);

    // Backed off far (attempt 7: minutes), with the expiry sooner: the reconcile asks to run at the expiry.
    s.clock.advance(6 * 3600_000 - 30_000);
    const memory = s.reconciler.memories.get(NAME);
    memory.refreshPlan = { failedAttempts: 7, nextRefreshTime: new Date(s.clock.now() + 5 * 60_000) };
    const expiresAt = Date.parse(s.cluster.status(NAME)!.expiresAt!);
    expect(expiresAt - s.clock.now()).toBeLessThan(5 * 60_000);
    const waiting = await s.reconciler.reconcile(NAME);
    expect(waiting.requeueAfterMs).toBe(expiresAt - s.clock.now());
    s.clock.advance(waiting.requeueAfterMs!);
    const mintsBefore = s.mints();
    const expired = await s.reconciler.reconcile(NAME);
    expect(s.mints()).toBe(mintsBefore);
    expect(condition(s, 'TokenAvailable')).toEqual({ status: 'False', reason: 'Expired' });
    expect(condition(s, 'Ready')).toEqual({ status: 'False', reason: 'Expired' });
    expect(expired.failed).toBe(true);
    // Still never overwritten by a failed mint.
    expect(s.cluster.managedSecrets.get(NAME, 'team-0')!.data).toEqual(published);
  });

  it('a hanging provider holds no reconcile: the call times out on its own, and the failure is reported', async () => {
    const s = setup(1, { ecr: { region: 'us-east-1' } });
    s.answer.next = 'hang';
    // Returns at once although the call never answers.
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    await settle();
    expect(s.enqueued).toEqual([]);
    expect(condition(s, 'Ready')).toEqual({ status: 'Unknown', reason: 'Minting' });
    // Another reconcile meanwhile does not call again.
    await s.reconciler.reconcile(NAME);
    expect(s.mints()).toBe(1);
    s.clock.advance(TIMEOUT_MS);
    await settle();
    expect(s.enqueued).toEqual([NAME]);
    expect(await s.reconciler.reconcile(NAME)).toEqual({ requeueAfterMs: 3750, failed: true });
    expect(condition(s, 'TokenAvailable')).toEqual({ status: 'False', reason: 'ProviderUnreachable' });
    expect(s.events).toEqual(['Warning ProviderUnreachable']);
  });

  it('while a refresh call is under way, asks to run again only at the expiry: the call brings it back (no hot loop)', async () => {
    const s = setup(1, { ecr: { region: 'us-east-1' } });
    await converged(s);
    s.answer.next = 'hang';
    s.clock.advance(6 * 3600_000);
    const started = await s.reconciler.reconcile(NAME);
    expect(s.mints()).toBe(2);
    const untilExpiry = Date.parse(s.cluster.status(NAME)!.expiresAt!) - s.clock.now();
    expect(started).toEqual({ requeueAfterMs: untilExpiry });
    // Woken meanwhile by an event: the same answer, and no second call.
    expect(await s.reconciler.reconcile(NAME)).toEqual({ requeueAfterMs: untilExpiry });
    expect(s.mints()).toBe(2);
  });

  it('deleting the credential stops its provider call and forgets it', async () => {
    const s = setup(1, { ecr: { region: 'us-east-1' } });
    s.answer.next = 'hang';
    await s.reconciler.reconcile(NAME);
    const memory = s.reconciler.memories.get(NAME);
    const signal = memory.mintInFlight!.abort.signal;
    s.cluster.credentials.remove(undefined, NAME);
    await s.reconciler.reconcile(NAME);
    expect(signal.aborted).toBe(true);
    expect(s.reconciler.memories.size).toBe(0);
    await settle();
    expect(s.enqueued).toEqual([]);
  });
});

describe('Reconciler: status and results that tell the truth', () => {
  it('an invalid spec: terminal, Ready says why, the published Secrets and their counts stay', async () => {
    const s = setup(2);
    await converged(s);
    const credential = s.cluster.credentials.get(NAME)!;
    s.cluster.credentials.put({ ...credential, metadata: { ...credential.metadata, generation: 2 }, spec: { ...credential.spec, refresh: { schedule: 'every tuesday' } } });
    await expect(s.reconciler.reconcile(NAME)).rejects.toBeInstanceOf(TerminalError);
    const status = s.cluster.status(NAME)!;
    expect(condition(s, 'Ready')).toEqual({ status: 'False', reason: 'InvalidSchedule' });
    expect(condition(s, 'SecretsSynced')).toEqual({ status: 'True', reason: 'Synced' });
    expect({ provider: status.provider, registries: status.registries, targets: status.targetNamespaces, synced: status.syncedNamespaces }).toEqual({
      provider: 'static',
      registries: ['ghcr.io'],
      targets: 2,
      synced: 2,
    });
    expect(writesByKind(s.cluster)).toEqual({ 'patch registrycredentials/status': 1 });
    expect(s.events).toEqual(['Warning InvalidSchedule']);
  });

  it('a missing source is a failed reconcile, one failed attempt, and the Secrets stay', async () => {
    const s = setup(2);
    await converged(s);
    s.cluster.sourceSecrets.remove('regcred-system', 'src');
    expect(await s.reconciler.reconcile(NAME)).toEqual({ failed: true });
    expect(s.cluster.status(NAME)?.failedRefreshAttempts).toBe(1);
    expect(condition(s, 'TokenAvailable')).toEqual({ status: 'False', reason: 'SourceSecretNotFound' });
    expect(counts(s.cluster)).toEqual({ targets: 2, synced: 2, patched: 2 });
    expect(writesByKind(s.cluster)).toEqual({ 'patch registrycredentials/status': 1 });
    // Read again, unchanged: not another attempt.
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.status(NAME)?.failedRefreshAttempts).toBe(1);
  });

  it('names listed that do not exist: said in Ready and in one Warning event', async () => {
    const s = setup(1, { namespaces: { names: ['team-0', 'ghost'] } });
    await s.reconciler.reconcile(NAME);
    expect(condition(s, 'Ready')).toEqual({ status: 'True', reason: 'Synced' });
    expect(getCondition(s.cluster.status(NAME)?.conditions, 'Ready')?.message).toBe(
      `Secret ${NAME} is current in 1 namespace; spec.namespaces.names lists a namespace that does not exist: ghost`,
    );
    expect(s.events).toEqual(['Warning NamespacesNotFound', 'Normal Synced']);
    await s.reconciler.reconcile(NAME);
    expect(s.events).toHaveLength(2);
  });

  it('a credential that holds no namespace (every target in conflict) keeps its lastRefreshTime: no status write per reconcile', async () => {
    const s = setup(0);
    s.cluster.addNamespace('taken', { pulls: 'yes' });
    s.cluster.putManagedSecret({
      metadata: { name: NAME, namespace: 'taken', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: 'other' } },
      type: 'Opaque',
    });
    await s.reconciler.reconcile(NAME);
    const first = s.cluster.status(NAME)?.lastRefreshTime;
    s.clock.advance(60_000);
    s.cluster.clearWrites();
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.status(NAME)?.lastRefreshTime).toBe(first);
    expect(s.cluster.writes).toEqual([]);
  });

  it('no target at all: Ready True with reason NoTargets', async () => {
    const s = setup(0, { namespaces: { names: ['ghost-only'] } });
    await s.reconciler.reconcile(NAME);
    expect(condition(s, 'Ready')).toEqual({ status: 'True', reason: 'NoTargets' });
    expect(counts(s.cluster).targets).toBe(0);
  });

  it('a write the API server rejects as invalid (422) is reported, not retried hot', async () => {
    const s = setup(2, {}, (cluster) => ({
      ...cluster.writer,
      createSecret: (secret) =>
        secret.metadata?.namespace === 'team-1'
          ? Promise.reject(new KubeApiError('Invalid', 422, 'create Secret team-1/rc: HTTP 422 Secret "rc" is invalid'))
          : cluster.writer.createSecret(secret),
    }));
    // No throw (which would retry with backoff): the failure is reported and the reconcile counted as failed.
    expect(await s.reconciler.reconcile(NAME)).toEqual({ failed: true });
    expect(condition(s, 'SecretsSynced')).toEqual({ status: 'False', reason: 'WriteRejected' });
    expect(s.cluster.status(NAME)?.failedNamespaces?.[0]).toMatchObject({ namespace: 'team-1', reason: 'WriteRejected' });
  });
});

describe('Reconciler: adoption of existing Secrets (spec.adoptExisting)', () => {
  function withExisting(adoptExisting: boolean): Setup {
    const s = setup(0, { secretName: 'pull', adoptExisting });
    addTarget(s.cluster, 'team-0');
    addTarget(s.cluster, 'team-1');
    s.cluster.putUnmanagedSecret({
      metadata: { name: 'pull', namespace: 'team-0', labels: { team: 'x' }, annotations: { 'example.com/by': 'cronjob' } },
      type: DOCKERCONFIGJSON_TYPE,
      data: { '.dockerconfigjson': Buffer.from('{"auths":{"old.example":{"auth":"dTpw"}}}').toString('base64') },
    });
    s.cluster.putUnmanagedSecret({ metadata: { name: 'pull', namespace: 'team-1' }, type: 'Opaque', data: { x: 'eQ==' } });
    return s;
  }

  it('without the opt-in: both reported with the fix, neither touched, and not retried within five minutes', async () => {
    const s = withExisting(false);
    const before = [s.cluster.secret('team-0', 'pull'), s.cluster.secret('team-1', 'pull')].map((x) => x?.metadata?.resourceVersion);
    await s.reconciler.reconcile(NAME);
    const failed = s.cluster.status(NAME)?.failedNamespaces ?? [];
    expect(failed.map((f) => [f.namespace, f.reason])).toEqual([
      ['team-0', 'SecretConflict'],
      ['team-1', 'SecretConflict'],
    ]);
    expect(failed[0]?.message).toContain('set spec.adoptExisting: true');
    expect([s.cluster.secret('team-0', 'pull'), s.cluster.secret('team-1', 'pull')].map((x) => x?.metadata?.resourceVersion)).toEqual(before);
    s.cluster.clearWrites();
    s.clock.advance(60_000);
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.count('create', 'secrets')).toBe(0);
  });

  it('with the opt-in: the dockerconfigjson Secret is taken over (its other labels kept) with an Adopted event; the Opaque one is left alone', async () => {
    const s = withExisting(true);
    const opaque = s.cluster.secret('team-1', 'pull')!;
    await s.reconciler.reconcile(NAME);
    const adopted = s.cluster.managedSecrets.get('pull', 'team-0')!;
    expect(adopted.metadata?.labels).toEqual({ team: 'x', [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: NAME });
    expect(adopted.metadata?.annotations?.['example.com/by']).toBe('cronjob');
    expect(Buffer.from(adopted.data!['.dockerconfigjson']!, 'base64').toString()).toContain('"ghcr.io"');
    expect(s.events).toContain('Normal Adopted');
    expect(s.eventMessages.find((m) => m.startsWith('adopted'))).toBe('adopted the existing Secret pull in team-0 (spec.adoptExisting)');
    expect(s.cluster.secret('team-1', 'pull')).toBe(opaque);
    const failed = s.cluster.status(NAME)?.failedNamespaces ?? [];
    expect(failed).toEqual([
      {
        namespace: 'team-1',
        reason: 'SecretConflict',
        message: `Secret pull in team-1 has type Opaque; spec.adoptExisting takes over only ${DOCKERCONFIGJSON_TYPE} Secrets, so it is left alone: delete or rename it, or choose another spec.secretName`,
      },
    ]);
    expect(pullSecrets(s, 'team-0')).toEqual(['pull']);
  });
});

describe('Reconciler: deletion', () => {
  it('Delete: removes its entries (not others\') and its Secrets, then releases the finalizer', async () => {
    const s = setup(2);
    s.cluster.addServiceAccount('team-0', 'builder', { imagePullSecrets: [{ name: NAME }] });
    await converged(s);
    markDeleted(s, NAME);
    await s.reconciler.reconcile(NAME);
    expect(writesByKind(s.cluster)).toEqual({ 'patch serviceaccounts': 2, 'delete secrets': 2, 'patch registrycredentials': 1 });
    expect(pullSecrets(s, 'team-0')).toEqual([]);
    expect(pullSecrets(s, 'team-0', 'builder')).toEqual([NAME]);
    expect(s.cluster.managedSecrets.list()).toEqual([]);
    expect(s.cluster.credentials.get(NAME)?.metadata.finalizers).toEqual([]);
    expect(s.reconciler.memories.size).toBe(0);
  });

  it('a credential it has released is not cleaned up again while the cache still shows it marked deleted', async () => {
    const s = setup(2, { secretName: 'shared' });
    s.cluster.addCredential('younger', { static: { registry: 'quay.io', credentialsSecretRef: { name: 'src' } }, secretName: 'shared', namespaces: { selector: SELECTOR } }, { creationTimestamp: '2026-06-01T00:00:00Z' });
    await converged(s);
    await s.reconciler.reconcile('younger');
    markDeleted(s, NAME);
    const stale = s.cluster.credentials.get(NAME)!;
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.credentials.get(NAME)?.metadata.finalizers).not.toContain(FINALIZER);
    await s.reconciler.reconcile('younger');
    expect(pullSecrets(s, 'team-0')).toEqual(['shared']);
    expect(s.cluster.managedSecrets.get('shared', 'team-0')?.metadata?.labels?.[CREDENTIAL_LABEL]).toBe('younger');

    // The watch has not delivered the finalizer's removal yet; the deletes of its Secrets queue it again.
    s.cluster.credentials.put(stale);
    s.cluster.clearWrites();
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(writesByKind(s.cluster)).toEqual({});
    expect(pullSecrets(s, 'team-0')).toEqual(['shared']);

    // Gone from the cache: forgotten. The same name created again (another uid) is a new credential.
    s.cluster.credentials.remove(undefined, NAME);
    await s.reconciler.reconcile(NAME);
    s.cluster.addCredential(NAME, { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'src' } }, secretName: 'other', namespaces: { selector: SELECTOR } }, { finalizer: true });
    markDeleted(s, NAME);
    s.cluster.clearWrites();
    await s.reconciler.reconcile(NAME);
    expect(writesByKind(s.cluster)).toEqual({ 'patch registrycredentials': 1 });
  });

  it('Orphan: keeps Secrets and entries, drops only the ownerReference', async () => {
    const s = setup(2, { deletionPolicy: 'Orphan' });
    await converged(s);
    markDeleted(s, NAME);
    await s.reconciler.reconcile(NAME);
    expect(writesByKind(s.cluster)).toEqual({ 'update secrets': 2, 'patch registrycredentials': 1 });
    for (const secret of s.cluster.managedSecrets.list()) expect(secret.metadata?.ownerReferences).toEqual([]);
    expect(pullSecrets(s, 'team-1')).toEqual([NAME]);
    expect(s.cluster.credentials.get(NAME)?.metadata.finalizers).not.toContain(FINALIZER);
  });

  it('the loser of a shared Secret name takes the namespace once the winner is being deleted', async () => {
    const s = setup(1, { secretName: 'shared' });
    s.cluster.addCredential('younger', { static: { registry: 'quay.io', credentialsSecretRef: { name: 'src' } }, secretName: 'shared', namespaces: { selector: SELECTOR } }, { creationTimestamp: '2026-06-01T00:00:00Z' });
    await converged(s);
    await s.reconciler.reconcile('younger');
    expect(s.cluster.status('younger')?.failedNamespaces?.map((f) => f.reason)).toEqual(['SecretConflict']);
    markDeleted(s, NAME);
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.managedSecrets.get('shared', 'team-0')).toBeUndefined();
    await s.reconciler.reconcile('younger');
    expect(s.cluster.managedSecrets.get('shared', 'team-0')?.metadata?.labels?.[CREDENTIAL_LABEL]).toBe('younger');
    expect(pullSecrets(s, 'team-0')).toEqual(['shared']);
    expect(condition(s, 'Ready', 'younger')).toEqual({ status: 'True', reason: 'Synced' });
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
    expect(await s.reconciler.reconcile(NAME)).toEqual({ failed: true });
    expect(writesByKind(s.cluster)).toEqual({ 'patch registrycredentials/status': 1 });
    expect(condition(s, 'Ready')).toEqual({ status: 'False', reason: 'SecretConflict' });
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
    expect(condition(s, 'Ready')).toEqual({ status: 'False', reason: 'SecretConflict' });

    // The other credential's Secret goes; the cache still shows Ready=True from before our write.
    s.cluster.managedSecrets.remove('taken', NAME);
    s.cluster.addServiceAccount('taken');
    s.clock.advance(100);
    s.cluster.clearWrites();
    expect(await s.reconciler.reconcile(NAME)).toEqual({});
    expect(s.cluster.count('patch', 'registrycredentials/status')).toBe(1);
    expect(condition(s, 'Ready')).toEqual({ status: 'True', reason: 'Synced' });
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

describe('Reconciler: a name too long to be a label value', () => {
  it('is reported as InvalidName and never written with', async () => {
    const s = setup(1);
    const long = 'x'.repeat(64);
    s.cluster.addCredential(long, { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'src' } }, namespaces: { selector: SELECTOR } });
    await expect(s.reconciler.reconcile(long)).rejects.toBeInstanceOf(TerminalError);
    expect(condition(s, 'Ready', long)).toEqual({ status: 'False', reason: 'InvalidName' });
    expect(s.cluster.count('create', 'secrets')).toBe(0);
  });
});

/** A Verifier that answers what the test says and records what it was asked (hosts and passwords seen). */
class ScriptedVerifier implements Verifier {
  readonly requests: VerificationRequest[] = [];
  answer: HostOutcome['reason'] = 'Verified';
  verify(request: VerificationRequest) {
    this.requests.push(request);
    const outcomes = request.logins.map((l) => ({ host: l.registry, reason: this.answer, message: `${l.registry}: ${this.answer}` }));
    return Promise.resolve({ outcomes, durationMs: 1 });
  }
}

describe('Reconciler: verification at the registry (the Verified condition)', () => {
  it('checks a newly published credential outside the reconcile, reports it, and checks nothing more in steady state', async () => {
    const verifier = new ScriptedVerifier();
    const s = setup(2, {}, undefined, verifier);
    await s.reconciler.reconcile(NAME);
    // Published first; the check runs after, and Verified says so meanwhile.
    expect(condition(s, 'Ready')).toEqual({ status: 'True', reason: 'Synced' });
    expect(condition(s, 'Verified')).toEqual({ status: 'Unknown', reason: 'Verifying' });
    await settle();
    expect(s.enqueued).toEqual([NAME]);
    expect(verifier.requests.map((r) => r.logins.map((l) => [l.registry, l.password]))).toEqual([[['ghcr.io', 'pw-1']]]);
    await reconcileThroughMint(s);
    expect(condition(s, 'Verified')).toEqual({ status: 'True', reason: 'Verified' });
    expect(s.cluster.status(NAME)?.lastVerifiedTime).toBe('2026-11-22T00:00:00Z');
    s.clock.advance(60_000);
    s.cluster.clearWrites();
    await s.reconciler.reconcile(NAME);
    await settle();
    expect(s.cluster.writes).toEqual([]);
    expect(verifier.requests).toHaveLength(1);
  });

  it('a refused credential stays published: Verified False with a Warning, Ready unchanged; a new source is checked again and recovers', async () => {
    const verifier = new ScriptedVerifier();
    verifier.answer = 'Unauthorized';
    const s = setup(2, {}, undefined, verifier);
    await reconcileThroughMint(s);
    expect(condition(s, 'Verified')).toEqual({ status: 'False', reason: 'Unauthorized' });
    expect(condition(s, 'Ready')).toEqual({ status: 'True', reason: 'Synced' });
    expect(s.events).toContain('Warning VerificationFailed');
    expect(s.cluster.managedSecrets.get(NAME, 'team-0')).toBeDefined();

    verifier.answer = 'Verified';
    s.clock.advance(60_000);
    s.cluster.addSourceSecret('src', { username: 'robot', password: 'pw-2' });
    await reconcileThroughMint(s);
    expect(verifier.requests.map((r) => r.logins[0]!.password)).toEqual(['pw-1', 'pw-2']);
    expect(condition(s, 'Verified')).toEqual({ status: 'True', reason: 'Verified' });
    expect(s.events).toContain('Normal VerificationRecovered');
  });

  it('checks again when the interval has passed (asking to be woken then), and after a spec change', async () => {
    const verifier = new ScriptedVerifier();
    const s = setup(1, { verify: { intervalMinutes: 30, images: ['ghcr.io/acme/api:1'] } }, undefined, verifier);
    const result = await reconcileThroughMint(s);
    expect(result.requeueAfterMs).toBe(30 * 60_000);
    expect(verifier.requests[0]!.images).toEqual(['ghcr.io/acme/api:1']);
    s.clock.advance(30 * 60_000);
    await reconcileThroughMint(s);
    expect(verifier.requests).toHaveLength(2);
    const credential = s.cluster.credentials.get(NAME)!;
    s.cluster.credentials.put({ ...credential, metadata: { ...credential.metadata, generation: (credential.metadata.generation ?? 1) + 1 }, spec: { ...credential.spec, verify: { images: [] } } });
    await reconcileThroughMint(s);
    expect(verifier.requests).toHaveLength(3);
    expect(verifier.requests[2]!.images).toEqual([]);
  });

  it('a settled probe is reported by a reconcile of no namespace: status alone is written, and the next probe is asked for at its interval', async () => {
    const verifier = new ScriptedVerifier();
    verifier.answer = 'Unauthorized';
    const s = setup(3, { verify: { intervalMinutes: 30 } }, undefined, verifier, { statusQueue: true });
    await s.reconciler.reconcile(NAME);
    expect(condition(s, 'Verified')).toEqual({ status: 'Unknown', reason: 'Verifying' });
    await settle();
    // Back on the queue for its status only (the queue's addIn without a namespace: an empty scope).
    expect(s.statusEnqueued).toEqual([NAME]);
    expect(s.enqueued).toEqual([]);
    s.clock.advance(10 * COALESCE_MS);
    s.cluster.clearWrites();
    // A namespace this reconcile must not look at: a whole reconcile would put the Secret back.
    s.cluster.managedSecrets.remove('team-2', NAME);
    const result = await s.reconciler.reconcile(NAME, new Set());
    expect(condition(s, 'Verified')).toEqual({ status: 'False', reason: 'Unauthorized' });
    expect(s.events).toContain('Warning VerificationFailed');
    expect(writesByKind(s.cluster)).toEqual({ 'patch registrycredentials/status': 1 });
    expect(s.cluster.managedSecrets.get(NAME, 'team-2')).toBeUndefined();
    // 30 minutes after the probe settled.
    expect(result.requeueAfterMs).toBe(30 * 60_000 - 10 * COALESCE_MS);

    // A fixed registry, checked at the next interval (that requeue brings a whole reconcile): recovered.
    verifier.answer = 'Verified';
    s.clock.advance(30 * 60_000);
    await s.reconciler.reconcile(NAME);
    await settle();
    expect(s.statusEnqueued).toEqual([NAME, NAME]);
    expect(s.cluster.managedSecrets.get(NAME, 'team-2')).toBeDefined();
    await s.reconciler.reconcile(NAME, new Set());
    expect(condition(s, 'Verified')).toEqual({ status: 'True', reason: 'Verified' });
    expect(s.events).toContain('Normal VerificationRecovered');
    expect(verifier.requests).toHaveLength(2);
  });

  it('spec.verify.enabled: false checks nothing and says Disabled', async () => {
    const verifier = new ScriptedVerifier();
    const s = setup(1, { verify: { enabled: false } }, undefined, verifier);
    await reconcileThroughMint(s);
    expect(verifier.requests).toEqual([]);
    expect(condition(s, 'Verified')).toEqual({ status: 'Unknown', reason: 'Disabled' });
  });

  it('an expiring credential is checked when a mint publishes it, not before', async () => {
    const verifier = new ScriptedVerifier();
    const s = setup(1, { ecr: { region: 'us-east-1' } }, undefined, verifier);
    await s.reconciler.reconcile(NAME);
    expect(condition(s, 'Verified')).toEqual({ status: 'Unknown', reason: 'NotPublished' });
    expect(verifier.requests).toEqual([]);
    await reconcileThroughMint(s);
    expect(verifier.requests.map((r) => r.logins.map((l) => l.registry))).toEqual([[ECR_REGISTRY]]);
    expect(condition(s, 'Verified')).toEqual({ status: 'True', reason: 'Verified' });
  });
});

describe('Reconciler: a server that asks to slow down (429 with Retry-After)', () => {
  it('fails the fan-out with the longest Retry-After among its failed writes, so the retry waits at least that', async () => {
    let refusals = 0;
    const s = setup(3, {}, (cluster) => ({
      ...cluster.writer,
      createSecret: (secret) => {
        if (secret.metadata?.namespace === 'team-1' && refusals++ < 1) {
          return Promise.reject(new KubeApiError('Transient', 429, 'create secret: HTTP 429 Too many requests, please try again later.', { retryAfterMs: 4_000 }));
        }
        return cluster.writer.createSecret(secret);
      },
    }));
    const failure = await s.reconciler.reconcile(NAME).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RetryableFanOutError);
    expect(failure).toMatchObject({ retryAfterMs: 4_000 });
    expect(retryAfterOf(failure)).toBe(4_000);
    // The other namespaces were written; the next reconcile finishes the one that was refused.
    expect(counts(s.cluster).synced).toBe(2);
    await s.reconciler.reconcile(NAME);
    expect(counts(s.cluster).synced).toBe(3);
  });
});

describe('Reconciler: a reconcile scoped to the namespaces that changed', () => {
  const only = (...namespaces: string[]): ReadonlySet<string> => new Set(namespaces);

  it('brings a new namespace in line alone (one Secret, one entry) and counts it in status from its tally, without the whole reconcile', async () => {
    const s = setup(5);
    await converged(s);
    addTarget(s.cluster, 'team-new');
    expect(await s.reconciler.reconcile(NAME, only('team-new'))).toEqual({});
    expect(s.cluster.writes.map((w) => `${w.verb} ${w.resource} ${w.namespace ?? ''}`)).toEqual([
      'create secrets team-new',
      'patch serviceaccounts team-new',
      'patch registrycredentials/status ',
    ]);
    expect(pullSecrets(s, 'team-new')).toEqual([NAME]);
    expect(s.cluster.managedSecrets.get(NAME, 'team-new')?.data).toEqual(s.cluster.managedSecrets.get(NAME, 'team-0')?.data);
    expect(counts(s.cluster)).toEqual({ targets: 6, synced: 6, patched: 6 });
    expect(condition(s, 'Ready')).toEqual({ status: 'True', reason: 'Synced' });
    expect(getCondition(s.cluster.status(NAME)?.conditions, 'SecretsSynced')?.message).toBe(`Secret ${NAME} is current in 6 namespaces`);
  });

  it('a burst: counts within a second of the last status write wait, and a recount of no namespace writes them', async () => {
    const s = setup(3);
    await converged(s);
    addTarget(s.cluster, 'team-a');
    expect(await s.reconciler.reconcile(NAME, only('team-a'))).toEqual({});
    s.clock.advance(250);
    addTarget(s.cluster, 'team-b');
    expect(await s.reconciler.reconcile(NAME, only('team-b'))).toEqual({ recountAfterMs: COALESCE_MS - 250 });
    addTarget(s.cluster, 'team-c');
    s.cluster.addNamespace('team-0', { pulls: 'no' });
    expect(await s.reconciler.reconcile(NAME, only('team-c', 'team-0'))).toEqual({ recountAfterMs: COALESCE_MS - 250 });
    expect(writesByKind(s.cluster)).toEqual({ 'create secrets': 3, 'patch serviceaccounts': 4, 'delete secrets': 1, 'patch registrycredentials/status': 1 });
    expect(counts(s.cluster)).toEqual({ targets: 4, synced: 4, patched: 4 });
    s.clock.advance(COALESCE_MS - 250);
    s.cluster.clearWrites();
    expect(await s.reconciler.reconcile(NAME, only())).toEqual({});
    expect(writesByKind(s.cluster)).toEqual({ 'patch registrycredentials/status': 1 });
    // team-b and team-c came, team-0 left: what the whole reconcile counts, and it then finds nothing to write.
    expect(counts(s.cluster)).toEqual({ targets: 5, synced: 5, patched: 5 });
    const recounted = s.cluster.status(NAME);
    s.cluster.clearWrites();
    s.clock.advance(10 * COALESCE_MS);
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.writes).toEqual([]);
    expect(s.cluster.status(NAME)).toEqual(recounted);
  });

  it('names in spec.namespaces.names: one created later leaves the missing list, one deleted joins it (status and Event)', async () => {
    const s = setup(0, { namespaces: { names: ['team-a', 'team-b', 'team-c'] } });
    s.cluster.addNamespace('team-a');
    s.cluster.addServiceAccount('team-a');
    await converged(s);
    expect(getCondition(s.cluster.status(NAME)?.conditions, 'SecretsSynced')?.message).toContain('not exist: team-b, team-c');
    s.cluster.addNamespace('team-b');
    s.cluster.addServiceAccount('team-b');
    await s.reconciler.reconcile(NAME, only('team-b'));
    expect(counts(s.cluster)).toEqual({ targets: 2, synced: 2, patched: 2 });
    expect(getCondition(s.cluster.status(NAME)?.conditions, 'SecretsSynced')?.message).toBe(
      `Secret ${NAME} is current in 2 namespaces; spec.namespaces.names lists a namespace that does not exist: team-c`,
    );
    s.clock.advance(10 * COALESCE_MS);
    s.cluster.namespaces.remove(undefined, 'team-a');
    await s.reconciler.reconcile(NAME, only('team-a'));
    expect(getCondition(s.cluster.status(NAME)?.conditions, 'SecretsSynced')?.message).toContain('not exist: team-a, team-c');
    expect(s.eventMessages.filter((m) => m.includes('do not exist'))).toEqual([
      'spec.namespaces.names lists namespaces that do not exist: team-c; they get the Secret once created',
      'spec.namespaces.names lists namespaces that do not exist: team-a, team-c; they get the Secret once created',
    ]);
  });

  it('touches nothing outside its namespaces: a Secret edited by hand elsewhere waits for the whole reconcile', async () => {
    const s = setup(3);
    await converged(s);
    const edited = structuredClone(s.cluster.managedSecrets.get(NAME, 'team-1')!);
    edited.data = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') };
    s.cluster.putManagedSecret(edited);
    addTarget(s.cluster, 'team-new');
    await s.reconciler.reconcile(NAME, only('team-new'));
    expect(s.cluster.writes.filter((w) => w.namespace === 'team-1')).toEqual([]);
    s.cluster.clearWrites();
    await s.reconciler.reconcile(NAME);
    expect(s.cluster.writes.filter((w) => w.resource === 'secrets')).toEqual([{ verb: 'update', resource: 'secrets', namespace: 'team-1', name: NAME }]);
  });

  it('does there what the whole reconcile would: a namespace that stops matching loses our Secret and our entry', async () => {
    const s = setup(3);
    await converged(s);
    s.cluster.addNamespace('team-1', { pulls: 'no' });
    await s.reconciler.reconcile(NAME, only('team-1', 'team-2'));
    expect(writesByKind(s.cluster)).toEqual({ 'delete secrets': 1, 'patch serviceaccounts': 1, 'patch registrycredentials/status': 1 });
    expect(counts(s.cluster)).toEqual({ targets: 2, synced: 2, patched: 2 });
    expect(s.cluster.managedSecrets.get(NAME, 'team-1')).toBeUndefined();
    expect(pullSecrets(s, 'team-1')).toEqual([]);
    expect(recorded(s, 'team-1')).toBeUndefined();
  });

  it('a namespace it does not select and holds nothing in costs no write', async () => {
    const s = setup(3);
    await converged(s);
    s.cluster.addNamespace('elsewhere', { pulls: 'no' });
    s.cluster.addServiceAccount('elsewhere');
    expect(await s.reconciler.reconcile(NAME, only('elsewhere'))).toEqual({});
    expect(s.cluster.writes).toEqual([]);
  });

  it('runs the whole reconcile instead when the decision may have changed: a new spec, a new source, a new object of the same name', async () => {
    const spec = setup(3);
    await converged(spec);
    const credential = spec.cluster.credentials.get(NAME)!;
    spec.cluster.credentials.put({ ...credential, metadata: { ...credential.metadata, generation: 2 }, spec: { ...credential.spec, static: { registry: 'quay.io', credentialsSecretRef: { name: 'src' } } } });
    addTarget(spec.cluster, 'team-new');
    await spec.reconciler.reconcile(NAME, only('team-new'));
    expect(writesByKind(spec.cluster)).toEqual({ 'create secrets': 1, 'update secrets': 3, 'patch serviceaccounts': 1, 'patch registrycredentials/status': 1 });

    const source = setup(3);
    await converged(source);
    source.cluster.addSourceSecret('src', { username: 'robot', password: 'pw-2' });
    addTarget(source.cluster, 'team-new');
    await source.reconciler.reconcile(NAME, only('team-new'));
    expect(writesByKind(source.cluster)).toEqual({ 'create secrets': 1, 'update secrets': 3, 'patch serviceaccounts': 1, 'patch registrycredentials/status': 1 });

    const recreated = setup(2);
    await converged(recreated);
    const old = recreated.cluster.credentials.get(NAME)!;
    recreated.cluster.credentials.put({ ...old, metadata: { ...old.metadata, uid: 'uid-new' }, status: undefined });
    addTarget(recreated.cluster, 'team-new');
    await recreated.reconciler.reconcile(NAME, only('team-new'));
    // The Secrets name their owner by uid: every one is rewritten for the new object, not only the new namespace's.
    expect(recreated.cluster.count('update', 'secrets')).toBe(2);
    expect(recreated.cluster.managedSecrets.get(NAME, 'team-new')?.metadata?.ownerReferences?.[0]?.uid).toBe('uid-new');
  });

  it('an expiring credential: scoped runs until its refresh is due, then the whole reconcile (and the provider) again', async () => {
    const s = setup(2, { ecr: { region: 'us-east-1' } });
    await reconcileThroughMint(s);
    expect(s.mints()).toBe(1);
    s.cluster.clearWrites();
    addTarget(s.cluster, 'team-new');
    s.clock.advance(60_000);
    expect(await s.reconciler.reconcile(NAME, only('team-new'))).toEqual({});
    expect(writesByKind(s.cluster)).toEqual({ 'create secrets': 1, 'patch serviceaccounts': 1, 'patch registrycredentials/status': 1 });
    expect(s.cluster.managedSecrets.get(NAME, 'team-new')?.metadata?.annotations?.[CREDENTIAL_DIGEST_ANNOTATION]).toBe(
      s.cluster.managedSecrets.get(NAME, 'team-0')?.metadata?.annotations?.[CREDENTIAL_DIGEST_ANNOTATION],
    );
    // Past the refresh time (half of the 12 h lifetime): a namespace event runs the whole reconcile, which calls the provider.
    s.clock.advance(6 * 3600_000);
    addTarget(s.cluster, 'team-later');
    await s.reconciler.reconcile(NAME, only('team-later'));
    await settle();
    expect(s.mints()).toBe(2);
    // While that call is under way nothing is scoped either: the next reconcile takes the new token in everywhere.
    s.cluster.clearWrites();
    await s.reconciler.reconcile(NAME, only('team-later'));
    expect(s.cluster.count('update', 'secrets')).toBe(4);
  });

  it('after a whole reconcile that left writes to retry, namespace events run the whole reconcile until one succeeds', async () => {
    let failing = true;
    const s = setup(2, {}, (cluster) => ({
      ...cluster.writer,
      createSecret: (secret) =>
        failing && secret.metadata?.namespace === 'team-1' ? Promise.reject(new KubeApiError('Transient', 500, 'create secret: HTTP 500 etcd timeout')) : cluster.writer.createSecret(secret),
    }));
    await expect(s.reconciler.reconcile(NAME)).rejects.toBeInstanceOf(RetryableFanOutError);
    failing = false;
    s.cluster.clearWrites();
    addTarget(s.cluster, 'team-new');
    await s.reconciler.reconcile(NAME, only('team-new'));
    expect(s.cluster.writes.map((w) => `${w.verb} ${w.resource} ${w.namespace ?? ''}`).sort()).toEqual([
      'create secrets team-1',
      'create secrets team-new',
      'patch registrycredentials/status ',
      'patch serviceaccounts team-1',
      'patch serviceaccounts team-new',
    ]);
  });

  it('a namespace that cannot take the Secret is reported in status at once: conditions never wait', async () => {
    const s = setup(2);
    await converged(s);
    addTarget(s.cluster, 'team-a');
    await s.reconciler.reconcile(NAME, only('team-a'));
    addTarget(s.cluster, 'team-new');
    s.cluster.putUnmanagedSecret({ metadata: { name: NAME, namespace: 'team-new' }, type: 'Opaque' });
    // Within a second of the last status write, but a condition changes: written now (and counted as a failed reconcile).
    expect(await s.reconciler.reconcile(NAME, only('team-new'))).toEqual({ failed: true });
    expect(s.cluster.status(NAME)?.failedNamespaces?.map((f) => `${f.namespace} ${f.reason}`)).toEqual(['team-new SecretConflict']);
    expect(condition(s, 'Ready')).toEqual({ status: 'False', reason: 'SecretConflict' });
    expect(counts(s.cluster)).toEqual({ targets: 4, synced: 3, patched: 3 });
  });

  it('a failed write in a scoped run fails it with the retry the whole reconcile takes (Retry-After kept)', async () => {
    let failing = false;
    const s = setup(2, {}, (cluster) => ({
      ...cluster.writer,
      createSecret: (secret) =>
        failing
          ? Promise.reject(new KubeApiError('Transient', 429, 'create secret: HTTP 429 Too many requests, please try again later.', { retryAfterMs: 3_000 }))
          : cluster.writer.createSecret(secret),
    }));
    await converged(s);
    failing = true;
    addTarget(s.cluster, 'team-new');
    const failure = await s.reconciler.reconcile(NAME, only('team-new')).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RetryableFanOutError);
    expect(retryAfterOf(failure)).toBe(3_000);
  });
});
