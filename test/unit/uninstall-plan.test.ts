import { describe, expect, it } from '@jest/globals';
import type { RegistryCredential } from '../../src/api/types.js';
import { describeHeld } from '../../src/uninstall/command.js';
import { operatorObjects, planLines, uninstallOptions, UsageError, type ClusterFacts } from '../../src/uninstall/plan.js';

const facts: ClusterFacts = {
  server: 'https://127.0.0.1:6443 (context admin)',
  crdInstalled: true,
  credentials: [
    { name: 'ghcr', deletionPolicy: 'Delete', secrets: 2, hasFinalizer: true, deleting: false },
    { name: 'legacy', deletionPolicy: 'Orphan', secrets: 1, hasFinalizer: true, deleting: true },
  ],
  deployment: { availableReplicas: 1, replicas: 1 },
};

describe('regcred uninstall: the flags', () => {
  it('defaults to regcred-system/regcred-operator, keeping the CRD and the namespace, 120 s', () => {
    expect(uninstallOptions({})).toEqual({
      namespace: 'regcred-system',
      name: 'regcred-operator',
      deleteCrd: false,
      deleteNamespace: false,
      timeoutMs: 120_000,
      dryRun: false,
      yes: false,
      forceOrphan: false,
    });
  });

  it.each([
    [{ namespace: 'Bad_NS' }, /--namespace/],
    [{ name: '-x' }, /--name/],
    [{ timeoutSeconds: '0' }, /--timeout-seconds/],
    [{ timeoutSeconds: '1.5' }, /--timeout-seconds/],
    [{ dryRun: true, yes: true }, /--dry-run and --yes/],
  ])('%j is a usage error', (flags, message) => {
    expect(() => uninstallOptions(flags)).toThrow(UsageError);
    expect(() => uninstallOptions(flags)).toThrow(message);
  });
});

describe('regcred uninstall: the plan', () => {
  it('deletes the Deployment first, cluster-wide RBAC after the namespaced, the CRD and namespace only when asked, last', () => {
    const base = { namespace: 'ops', name: 'rc' };
    expect(operatorObjects({ ...base, deleteCrd: false, deleteNamespace: false }).map((o) => `${o.kind}:${o.namespace ?? ''}:${o.name}`)).toEqual([
      'Deployment:ops:rc',
      'ServiceAccount:ops:rc',
      'RoleBinding:ops:rc',
      'Role:ops:rc',
      'ClusterRoleBinding::rc',
      'ClusterRole::rc',
    ]);
    expect(operatorObjects({ ...base, deleteCrd: true, deleteNamespace: true }).slice(-2).map((o) => `${o.kind}:${o.name}`)).toEqual([
      'CustomResourceDefinition:registrycredentials.regcred.io',
      'Namespace:ops',
    ]);
  });

  it('says what becomes of each credential: the operator honours its policy, --force-orphan keeps everything', () => {
    const safe = planLines(uninstallOptions({ yes: true }), facts).join('\n');
    expect(safe).toContain('check that the operator is running');
    expect(safe).toContain('ghcr: deletionPolicy Delete, 2 Secrets and its ServiceAccount entries removed by the operator');
    expect(safe).toContain('legacy: deletionPolicy Orphan, 1 Secret and its ServiceAccount entries kept (Orphan), already being deleted');
    expect(safe).toContain('keep CustomResourceDefinition registrycredentials.regcred.io (--delete-crd removes it)');
    expect(safe).toContain('keep Namespace regcred-system');

    const forced = planLines(uninstallOptions({ yes: true, forceOrphan: true, deleteCrd: true }), facts).join('\n');
    expect(forced).toContain('check that the operator is not running');
    expect(forced).toContain('ghcr: 2 Secrets and its ServiceAccount entries are kept (its deletionPolicy Delete cannot be carried out without the operator)');
    expect(forced).toContain('delete CustomResourceDefinition registrycredentials.regcred.io');
    expect(forced).not.toContain('keep CustomResourceDefinition');
  });

  it('needs no operator when there is no RegistryCredential', () => {
    const none = planLines(uninstallOptions({}), { ...facts, credentials: [] }).join('\n');
    expect(none).toContain('no RegistryCredentials to delete, so the operator need not be running');
    expect(none).not.toContain('probe');
    expect(planLines(uninstallOptions({}), { ...facts, crdInstalled: false, credentials: [] }).join('\n')).toContain('is not installed');
  });
});

describe('a RegistryCredential still held at the timeout', () => {
  it('is described by its finalizers, its deletion time and the conditions that are not True', () => {
    const held = {
      metadata: { name: 'ghcr', finalizers: ['regcred.io/cleanup'], deletionTimestamp: '2026-01-01T00:00:00Z' },
      spec: {},
      status: {
        conditions: [
          { type: 'Ready', status: 'False', reason: 'PatchFailed', message: 'cannot patch', lastTransitionTime: '' },
          { type: 'TokenAvailable', status: 'True', reason: 'CredentialAvailable', message: '', lastTransitionTime: '' },
        ],
      },
    } as unknown as RegistryCredential;
    expect(describeHeld(held)).toBe('ghcr: finalizers [regcred.io/cleanup]; deleted at 2026-01-01T00:00:00Z; Ready=False PatchFailed: cannot patch');
    expect(describeHeld({ metadata: { name: 'new' }, spec: {} } as unknown as RegistryCredential)).toBe('new: finalizers []; no status: no operator has reconciled it');
  });
});
