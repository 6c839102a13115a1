import { describe, expect, it } from '@jest/globals';
import { ADDED_PULL_SECRETS_ANNOTATION, CREDENTIAL_LABEL, DOCKERCONFIGJSON_KEY, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/constants.js';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { ClusterView } from '../../src/controller/cluster-view.js';
import { desiredSecretIn, secretTemplate, type SecretTemplate } from '../../src/desired/secret.js';
import { gather, type Snapshot } from '../../src/reconcile/gather.js';
import type { CredentialMemory } from '../../src/reconcile/memory.js';
import { planSecrets } from '../../src/reconcile/plan-secrets.js';
import { planServiceAccounts } from '../../src/reconcile/plan-service-accounts.js';
import { StatusTally, type FanOut } from '../../src/reconcile/tally.js';
import { FakeCluster } from '../support/fake-cluster.js';

/**
 * A reconcile scoped to some namespaces must do there exactly what the whole reconcile would, and nothing
 * elsewhere: the plans made from a scoped snapshot are the whole plans' part in those namespaces. Checked
 * over random clusters: namespaces in and out of the selection or terminating, our Secrets under the
 * current and an old name (up to date or not), another credential's Secrets and claims, unmanaged
 * conflicts remembered, and ServiceAccounts with entries that are ours, recorded or someone else's.
 */

const NAME = 'rc';
const NOW = new Date('2026-12-01T12:00:00Z');

/** A small deterministic generator (mulberry32), so a failure names the seed that reproduces it. */
function generator(seed: number): { pick<T>(items: readonly T[]): T; chance(p: number): boolean; subset<T>(items: readonly T[]): T[] } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
    subset: (items) => items.filter(() => next() < 0.4),
  };
}

interface World {
  view: ClusterView;
  memory: CredentialMemory;
  template: SecretTemplate;
  namespaces: string[];
}

function randomWorld(seed: number): World {
  const r = generator(seed);
  const cluster = new FakeCluster();
  const namespaces = Array.from({ length: 10 }, (_, i) => `ns-${i}`);
  const secretName = r.pick(['pull', NAME]);
  const spec: RegistryCredentialSpec = {
    static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'src' } },
    secretName,
    namespaces: r.chance(0.5) ? { selector: { matchLabels: { pulls: 'yes' } } } : { names: [...r.subset(namespaces), ...(r.chance(0.5) ? ['gone'] : [])], exclude: r.subset(namespaces) },
    serviceAccounts: { names: r.pick([['default'], ['default', 'builder'], ['*'], []]) },
  };
  cluster.addSourceSecret('src', { username: 'robot', password: 'pw' });
  const credential = cluster.addCredential(NAME, spec, { creationTimestamp: '2026-06-01T00:00:00Z' });
  // An older credential that publishes the same name in some namespaces: it wins where neither owns the Secret.
  if (r.chance(0.5)) cluster.addCredential('older', { ...spec, namespaces: { names: r.subset(namespaces) } }, { creationTimestamp: '2026-01-01T00:00:00Z' });

  const template = secretTemplate({ credentialName: NAME, credentialUid: credential.metadata.uid!, secretName, dockerConfigJson: '{"auths":{"ghcr.io":{"auth":"cm9ib3Q6cHc="}}}' });
  for (const ns of namespaces) {
    cluster.addNamespace(ns, { pulls: r.pick(['yes', 'no']) });
    if (r.chance(0.15)) {
      const cached = cluster.namespaces.get(ns)!;
      cluster.namespaces.put({ ...cached, status: { phase: 'Terminating' } });
    }
    for (const name of ['pull', NAME, 'old']) {
      if (r.chance(0.35)) {
        const secret = desiredSecretIn({ ...template, metadata: { ...template.metadata, name } }, ns);
        const data = r.chance(0.7) ? secret.data : { [DOCKERCONFIGJSON_KEY]: Buffer.from('{"auths":{}}').toString('base64') };
        cluster.putManagedSecret({ ...secret, data });
      } else if (r.chance(0.15)) {
        cluster.putManagedSecret({ metadata: { name, namespace: ns, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: 'older' } }, type: 'Opaque' });
      }
    }
    for (const sa of ['default', 'builder', 'other']) {
      if (!r.chance(0.8)) continue;
      const entries = r.subset(['pull', NAME, 'old', 'mine']);
      const recorded = r.subset(entries);
      cluster.addServiceAccount(ns, sa, {
        imagePullSecrets: entries.map((name) => ({ name })),
        metadata: recorded.length > 0 ? { annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: JSON.stringify(recorded) } } : {},
      });
    }
  }
  const unmanagedConflicts = new Map(r.subset(namespaces).map((ns) => [ns, NOW.getTime() - 60_000]));
  return { view: new ClusterView(cluster.caches, cluster.operatorNamespace, () => NOW.getTime()), memory: { unmanagedConflicts, verification: {} }, template, namespaces };
}

/** Both plans of a snapshot, as comparable facts, with the namespaces whose Secret would be in place after the writes. */
function plans(snapshot: Snapshot, template: SecretTemplate, memory: CredentialMemory, within: (ns: string) => boolean) {
  const secrets = planSecrets(snapshot, template, memory);
  const synced = new Set([...secrets.settled.filter((r) => r.synced).map((r) => r.namespace), ...secrets.writes.map((w) => w.namespace)]);
  const accounts = planServiceAccounts(snapshot, synced);
  return {
    settled: secrets.settled.filter((r) => within(r.namespace)),
    writes: secrets.writes.filter((w) => within(w.namespace)).map((w) => `${w.kind} ${w.namespace}`),
    edits: accounts.edits
      .filter((e) => within(e.sa.namespace))
      .map((e) => `${e.sa.namespace}/${e.sa.name} +${e.add ?? ''} -${[...e.remove].sort().join(',')}`)
      .sort(),
    stale: accounts.staleSecrets
      .filter((s) => within(s.metadata.namespace))
      .map((s) => `${s.metadata.namespace}/${s.metadata.name}`)
      .sort(),
  };
}

/**
 * What a fan-out over the snapshot would report if every write went through, except creates in the
 * namespaces `refusing` (a conflict there) and edits of ServiceAccounts named 'builder' in namespaces
 * `failingAccounts`.
 */
function fanOut(snapshot: Snapshot, template: SecretTemplate, memory: CredentialMemory, refusing: ReadonlySet<string>, failingAccounts: ReadonlySet<string>): FanOut {
  const secrets = planSecrets(snapshot, template, memory);
  const written = secrets.writes.map((w) =>
    refusing.has(w.namespace)
      ? { namespace: w.namespace, synced: false, failure: { namespace: w.namespace, reason: 'WriteRejected', message: `refused in ${w.namespace}` } }
      : { namespace: w.namespace, synced: true },
  );
  const results = [...secrets.settled, ...written];
  const synced = new Set(results.filter((r) => r.synced).map((r) => r.namespace));
  const accountPlan = planServiceAccounts(snapshot, synced);
  const accountResults = accountPlan.edits.map((edit) => {
    const failed = edit.sa.name === 'builder' && failingAccounts.has(edit.sa.namespace);
    return { edit, failed, carries: !failed && edit.add !== undefined };
  });
  return { results, synced, accountPlan, accountResults };
}

describe('A scoped snapshot', () => {
  it('plans in its namespaces exactly what the whole snapshot plans there, over 300 random clusters', () => {
    let writesSeen = 0;
    let editsSeen = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const world = randomWorld(seed);
      const credential = world.view.credential(NAME)!;
      const deps = { view: world.view, now: NOW, random: () => 0.5 };
      const scope = new Set([...generator(seed * 7919).subset(world.namespaces), 'not-a-namespace']);
      const whole = plans(gather(deps, credential, world.memory), world.template, world.memory, (ns) => scope.has(ns));
      const scoped = plans(gather(deps, credential, world.memory, scope), world.template, world.memory, () => true);
      expect({ seed, ...scoped }).toEqual({ seed, ...whole });
      writesSeen += whole.writes.length + whole.stale.length;
      editsSeen += whole.edits.length;
    }
    // The worlds are varied enough to exercise every kind of plan.
    expect(writesSeen).toBeGreaterThan(100);
    expect(editsSeen).toBeGreaterThan(100);
  });

  it('brings the status tally up to date: namespace by namespace, from any earlier tally, it ends where the whole reconcile counts (300 random clusters)', () => {
    let failuresSeen = 0;
    let missingSeen = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const world = randomWorld(seed);
      const r = generator(seed * 104729);
      const credential = world.view.credential(NAME)!;
      const deps = { view: world.view, now: NOW, random: () => 0.5 };
      const refusing = new Set(r.subset(world.namespaces));
      const failingAccounts = new Set(r.subset(world.namespaces));
      const wholeSnapshot = gather(deps, credential, world.memory);
      const expected = StatusTally.of(wholeSnapshot, fanOut(wholeSnapshot, world.template, world.memory, refusing, failingAccounts)).counts();

      // Start from another cluster's tally (every entry stale), then scope over the namespaces in random groups.
      const other = randomWorld(seed + 1000);
      const otherSnapshot = gather({ ...deps, view: other.view }, other.view.credential(NAME)!, other.memory);
      const tally = StatusTally.of(otherSnapshot, fanOut(otherSnapshot, other.template, other.memory, new Set(), new Set(world.namespaces)));
      const pending = [...world.namespaces, 'not-a-namespace', 'gone'];
      while (pending.length > 0) {
        const group = new Set(pending.splice(0, 1 + Math.floor(r.pick([0, 1, 2, 3]))));
        const scoped = gather(deps, credential, world.memory, group);
        tally.update(scoped, fanOut(scoped, world.template, world.memory, refusing, failingAccounts));
      }
      const counts = tally.counts();
      expect({ seed, ...counts, failed: [...counts.failed].sort((a, b) => a.namespace.localeCompare(b.namespace)) }).toEqual({
        seed,
        ...expected,
        failed: [...expected.failed].sort((a, b) => a.namespace.localeCompare(b.namespace)),
      });
      failuresSeen += expected.failed.length + expected.serviceAccountFailures;
      missingSeen += expected.missingNamespaces?.length ?? 0;
    }
    expect(failuresSeen).toBeGreaterThan(50);
    expect(missingSeen).toBeGreaterThan(20);
  });

  it('reads only its namespaces: lists no missing names and leaves the credential decision out', () => {
    const world = randomWorld(42);
    const snapshot = gather({ view: world.view, now: NOW, random: () => 0.5 }, world.view.credential(NAME)!, world.memory, new Set(['ns-1']));
    expect(snapshot.targets.every((ns) => ns === 'ns-1')).toBe(true);
    expect(snapshot.ours.every((s) => s.metadata.namespace === 'ns-1')).toBe(true);
    expect(snapshot.serviceAccountsOutside(new Set()).every((sa) => sa.namespace === 'ns-1')).toBe(true);
    expect(snapshot.missingNamespaces).toEqual([]);
    expect(snapshot.credentialInput).toBeUndefined();
  });
});
