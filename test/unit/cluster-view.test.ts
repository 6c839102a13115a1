import { describe, expect, it } from '@jest/globals';
import { CREDENTIAL_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/constants.js';
import { ClusterView } from '../../src/controller/cluster-view.js';
import { FakeCluster } from '../support/fake-cluster.js';

/** The reconciler's reads: the informer caches with our own recent writes laid over them. */

const labels = (credential: string): Record<string, string> => ({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: credential });

function world(): { cluster: FakeCluster; view: ClusterView } {
  const cluster = new FakeCluster();
  for (const ns of ['a', 'b', 'c']) {
    cluster.addNamespace(ns);
    cluster.addServiceAccount(ns, 'default');
    cluster.addServiceAccount(ns, 'builder');
    cluster.putManagedSecret({ metadata: { namespace: ns, name: 'pull', labels: labels('one') }, type: 'Opaque' });
  }
  cluster.putManagedSecret({ metadata: { namespace: 'a', name: 'other', labels: labels('two') }, type: 'Opaque' });
  return { cluster, view: new ClusterView(cluster.caches, cluster.operatorNamespace, () => 0) };
}

const names = (objects: { namespace?: string; name?: string; metadata?: { namespace?: string; name?: string } }[]): string[] =>
  objects.map((o) => `${o.metadata?.namespace ?? o.namespace}/${o.metadata?.name ?? o.name}`).sort();

describe('ClusterView.managedSecretsOf', () => {
  it('lists the Secrets labelled for one credential', () => {
    const { view } = world();
    expect(names(view.managedSecretsOf('one'))).toEqual(['a/pull', 'b/pull', 'c/pull']);
    expect(names(view.managedSecretsOf('two'))).toEqual(['a/other']);
    expect(view.managedSecretsOf('three')).toEqual([]);
  });

  it('shows our own delete and relabel before the informer does', () => {
    const { cluster, view } = world();
    view.secretWrites.deleted('a', 'pull');
    const relabelled = { ...cluster.managedSecrets.get('pull', 'b')!, metadata: { ...cluster.managedSecrets.get('pull', 'b')!.metadata, labels: labels('two'), resourceVersion: '999999' } };
    view.secretWrites.wrote(relabelled);
    expect(names(view.managedSecretsOf('one'))).toEqual(['c/pull']);
    expect(names(view.managedSecretsOf('two'))).toEqual(['a/other']);
  });
});

describe('ClusterView.allServiceAccounts', () => {
  it.each<{ name: string; except?: string[]; want: string[] }>([
    { name: 'every namespace', want: ['a/builder', 'a/default', 'b/builder', 'b/default', 'c/builder', 'c/default'] },
    { name: 'except some namespaces', except: ['a', 'c'], want: ['b/builder', 'b/default'] },
    { name: 'except every namespace', except: ['a', 'b', 'c'], want: [] },
    { name: 'except a namespace that has none', except: ['z'], want: ['a/builder', 'a/default', 'b/builder', 'b/default', 'c/builder', 'c/default'] },
  ])('$name', ({ except, want }) => {
    const { view } = world();
    expect(names(view.allServiceAccounts(except ? new Set(except) : undefined))).toEqual(want);
  });

  it('shows our own write of a ServiceAccount before the informer does', () => {
    const { cluster, view } = world();
    const cached = cluster.serviceAccounts.get('default', 'b')!;
    view.serviceAccountWrites.wrote({ ...cached, metadata: { ...cached.metadata, resourceVersion: '999999' }, imagePullSecrets: [{ name: 'pull' }] });
    const found = view.allServiceAccounts(new Set(['a'])).find((sa) => sa.namespace === 'b' && sa.name === 'default');
    expect(found?.imagePullSecrets).toEqual([{ name: 'pull' }]);
    expect(found?.resourceVersion).toBe('999999');
  });
});
