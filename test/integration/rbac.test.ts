import { describe, expect, it } from '@jest/globals';
import { kubectl, OPERATOR_CONTEXT } from '../support/cluster.js';

/** namespace '' = cluster-wide (jest's it.each must get every argument: a missing one is taken for a done callback). */
async function canI(verb: string, resource: string, namespace: string): Promise<boolean> {
  const args = ['auth', 'can-i', verb, resource, ...(namespace ? ['-n', namespace] : ['--all-namespaces'])];
  const result = await kubectl(args, { context: OPERATOR_CONTEXT });
  return result.stdout.trim() === 'yes';
}

describe('config/default on a real kube-apiserver', () => {
  it('applies with kubectl apply -k (CRD, RBAC, Deployment)', async () => {
    const applied = await kubectl(['apply', '-k', 'config/default']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/customresourcedefinition.apiextensions.k8s.io\/registrycredentials.regcred.io (created|configured|unchanged)/);
    expect(applied.stdout).toMatch(/deployment.apps\/regcred-operator (created|configured|unchanged)/);
  });

  // Each call the operator makes, by the identity it runs as.
  const allowed: [verb: string, resource: string, namespace: string][] = [
    ['list', 'registrycredentials.regcred.io', ''],
    ['watch', 'registrycredentials.regcred.io', ''],
    ['patch', 'registrycredentials.regcred.io', ''],
    ['patch', 'registrycredentials.regcred.io/status', ''],
    ['list', 'namespaces', ''],
    ['watch', 'namespaces', ''],
    ['list', 'secrets', ''],
    // Only to check an unmanaged Secret before adopting it (spec.adoptExisting).
    ['get', 'secrets', 'team-a'],
    ['create', 'secrets', 'team-a'],
    ['update', 'secrets', 'team-a'],
    ['delete', 'secrets', 'team-a'],
    ['watch', 'secrets', 'regcred-system'],
    ['get', 'serviceaccounts', 'team-a'],
    ['patch', 'serviceaccounts', 'team-a'],
    ['create', 'events', 'default'],
    // Leader election (--leader-elect): the Lease regcred-operator in the operator's namespace.
    ['create', 'leases.coordination.k8s.io', 'regcred-system'],
    ['get', 'leases.coordination.k8s.io/regcred-operator', 'regcred-system'],
    ['update', 'leases.coordination.k8s.io/regcred-operator', 'regcred-system'],
  ];
  it.each(allowed)('allows the operator to %s %s in %s', async (verb, resource, namespace) => {
    expect(await canI(verb, resource, namespace)).toBe(true);
  });

  // What it must not be able to do.
  const denied: [verb: string, resource: string, namespace: string][] = [
    ['patch', 'secrets', 'team-a'],
    ['update', 'events', 'default'],
    ['delete', 'registrycredentials.regcred.io', ''],
    ['delete', 'namespaces', ''],
    ['create', 'namespaces', ''],
    ['update', 'namespaces', ''],
    ['get', 'configmaps', 'team-a'],
    ['create', 'pods', 'team-a'],
    ['delete', 'serviceaccounts', 'team-a'],
    ['create', 'clusterroles', ''],
    ['create', 'clusterrolebindings', ''],
    ['delete', 'customresourcedefinitions', ''],
    ['impersonate', 'users', ''],
    // Only its own Lease, only in its own namespace, and never deleted.
    ['get', 'leases.coordination.k8s.io/kube-scheduler', 'regcred-system'],
    ['update', 'leases.coordination.k8s.io/another-lease', 'regcred-system'],
    ['delete', 'leases.coordination.k8s.io/regcred-operator', 'regcred-system'],
    ['patch', 'leases.coordination.k8s.io/regcred-operator', 'regcred-system'],
    ['list', 'leases.coordination.k8s.io', 'regcred-system'],
    ['create', 'leases.coordination.k8s.io', 'kube-system'],
    ['update', 'leases.coordination.k8s.io/regcred-operator', 'kube-system'],
  ];
  it.each(denied)('denies the operator %s %s in %s', async (verb, resource, namespace) => {
    expect(await canI(verb, resource, namespace)).toBe(false);
  });
});
