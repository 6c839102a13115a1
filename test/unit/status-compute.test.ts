import { describe, expect, it } from '@jest/globals';
import type { Condition, FailedNamespace, RegistryCredential, RegistryCredentialStatus } from '../../src/api/types.js';
import { computeStatus, statusMergePatch, statusTransitions, type ReconcileFacts } from '../../src/status/compute.js';
import { getCondition } from '../../src/status/conditions.js';

const T0 = '2026-11-22T01:00:00Z';
const NOW = new Date('2026-11-22T02:30:00.789Z');
const NOW_KUBE = '2026-11-22T02:30:00Z';
const EXPIRES = new Date('2026-11-22T14:30:00.000Z');
const SECRET = 'regcred-ecr-prod';

function credential(status?: RegistryCredentialStatus): RegistryCredential {
  return {
    apiVersion: 'regcred.io/v1alpha1',
    kind: 'RegistryCredential',
    metadata: { name: 'ecr-prod', generation: 2 },
    spec: { ecr: { region: 'us-east-1' } },
    ...(status ? { status } : {}),
  };
}

function facts(overrides: Partial<ReconcileFacts> = {}): ReconcileFacts {
  return {
    now: NOW,
    provider: 'ecr',
    credential: { registries: ['123456789012.dkr.ecr.us-east-1.amazonaws.com'], expiresAt: EXPIRES, obtainedAt: NOW },
    secretName: SECRET,
    targets: 3,
    synced: 3,
    failed: [],
    patchedServiceAccounts: 3,
    serviceAccountFailures: 0,
    missingServiceAccounts: 0,
    ...overrides,
  };
}

function conflict(namespace: string): FailedNamespace {
  return { namespace, reason: 'SecretConflict', message: `secret ${SECRET} exists and is not managed by regcred-operator` };
}

function apiFailure(namespace: string): FailedNamespace {
  return { namespace, reason: 'ApiError', message: 'HTTP 500 internal error' };
}

type Summary = [status: string, reason: string];

function summary(conditions: Condition[] | undefined, type: string): Summary | undefined {
  const c = getCondition(conditions, type);
  return c ? [c.status, c.reason] : undefined;
}

describe('computeStatus: conditions', () => {
  const noCredential = { credential: undefined };
  it.each([
    {
      name: 'all synced',
      f: facts(),
      token: ['True', 'CredentialAvailable'],
      secrets: ['True', 'Synced'],
      accounts: ['True', 'Patched'],
      ready: ['True', 'Synced'],
      readyFollows: 'SecretsSynced',
    },
    {
      name: 'credential error',
      f: facts({ ...noCredential, credentialError: { reason: 'SourceSecretNotFound', message: 'Secret regcred-system/x not found' } }),
      token: ['False', 'SourceSecretNotFound'],
      secrets: ['False', 'NoCredential'],
      accounts: ['False', 'NoCredential'],
      ready: ['False', 'SourceSecretNotFound'],
      readyFollows: 'TokenAvailable',
    },
    {
      name: 'credential error even with failed namespaces and ServiceAccount failures',
      f: facts({ ...noCredential, credentialError: { reason: 'Expired', message: 'expired' }, synced: 1, failed: [conflict('b')], serviceAccountFailures: 2 }),
      token: ['False', 'Expired'],
      secrets: ['False', 'NoCredential'],
      accounts: ['False', 'NoCredential'],
      ready: ['False', 'Expired'],
      readyFollows: 'TokenAvailable',
    },
    {
      name: 'no targets',
      f: facts({ targets: 0, synced: 0, patchedServiceAccounts: 0 }),
      token: ['True', 'CredentialAvailable'],
      secrets: ['True', 'NoTargets'],
      accounts: ['True', 'Patched'],
      ready: ['True', 'NoTargets'],
      readyFollows: 'SecretsSynced',
    },
    {
      name: 'the first provider call under way',
      f: facts({ ...noCredential, minting: { provider: 'gcr', since: NOW } }),
      token: ['Unknown', 'Minting'],
      secrets: ['Unknown', 'NoCredential'],
      accounts: ['Unknown', 'NoCredential'],
      ready: ['Unknown', 'Minting'],
      readyFollows: 'TokenAvailable',
    },
    {
      name: 'a conflict',
      f: facts({ synced: 2, failed: [conflict('team-x')] }),
      token: ['True', 'CredentialAvailable'],
      secrets: ['False', 'SecretConflict'],
      accounts: ['True', 'Patched'],
      ready: ['False', 'SecretConflict'],
      readyFollows: 'SecretsSynced',
    },
    {
      name: 'a conflict among other failures',
      f: facts({ synced: 1, failed: [apiFailure('a'), conflict('b')] }),
      token: ['True', 'CredentialAvailable'],
      secrets: ['False', 'SecretConflict'],
      accounts: ['True', 'Patched'],
      ready: ['False', 'SecretConflict'],
      readyFollows: 'SecretsSynced',
    },
    {
      name: 'failures without conflicts',
      f: facts({ synced: 2, failed: [apiFailure('a')] }),
      token: ['True', 'CredentialAvailable'],
      secrets: ['False', 'SyncFailed'],
      accounts: ['True', 'Patched'],
      ready: ['False', 'SyncFailed'],
      readyFollows: 'SecretsSynced',
    },
    {
      name: 'ServiceAccount failures',
      f: facts({ serviceAccountFailures: 2, patchedServiceAccounts: 1 }),
      token: ['True', 'CredentialAvailable'],
      secrets: ['True', 'Synced'],
      accounts: ['False', 'PatchFailed'],
      ready: ['False', 'PatchFailed'],
      readyFollows: 'ServiceAccountsPatched',
    },
    {
      name: 'Secret failures and ServiceAccount failures: Ready follows the Secrets',
      f: facts({ synced: 2, failed: [conflict('x')], serviceAccountFailures: 1 }),
      token: ['True', 'CredentialAvailable'],
      secrets: ['False', 'SecretConflict'],
      accounts: ['False', 'PatchFailed'],
      ready: ['False', 'SecretConflict'],
      readyFollows: 'SecretsSynced',
    },
    {
      name: 'ServiceAccounts not created yet is not a failure',
      f: facts({ missingServiceAccounts: 2, patchedServiceAccounts: 1 }),
      token: ['True', 'CredentialAvailable'],
      secrets: ['True', 'Synced'],
      accounts: ['True', 'Patched'],
      ready: ['True', 'Synced'],
      readyFollows: 'SecretsSynced',
    },
  ])('$name', ({ f, token, secrets, accounts, ready, readyFollows }) => {
    const status = computeStatus(credential(), f);
    expect(status.conditions?.map((c) => c.type)).toEqual(['Ready', 'TokenAvailable', 'SecretsSynced', 'ServiceAccountsPatched']);
    expect(summary(status.conditions, 'TokenAvailable')).toEqual(token);
    expect(summary(status.conditions, 'SecretsSynced')).toEqual(secrets);
    expect(summary(status.conditions, 'ServiceAccountsPatched')).toEqual(accounts);
    expect(summary(status.conditions, 'Ready')).toEqual(ready);
    // Ready carries the message of the condition it follows
    expect(getCondition(status.conditions, 'Ready')?.message).toBe(getCondition(status.conditions, readyFollows)?.message);
    for (const c of status.conditions ?? []) {
      expect(c.observedGeneration).toBe(2);
      expect(c.lastTransitionTime).toBe(NOW_KUBE);
      expect(c.message).not.toBe('');
    }
  });

  it.each([
    {
      name: 'an expiring credential',
      f: facts(),
      type: 'TokenAvailable',
      want: 'credential for 123456789012.dkr.ecr.us-east-1.amazonaws.com, valid until 2026-11-22T14:30:00Z',
    },
    {
      name: 'a static credential',
      f: facts({ provider: 'static', credential: { registries: ['ghcr.io', 'quay.io'], obtainedAt: NOW } }),
      type: 'TokenAvailable',
      want: 'credential for ghcr.io, quay.io',
    },
    { name: 'the invalid spec message, on Ready', f: facts({ invalid: { reason: 'X', message: 'fix spec.x' }, synced: 0 }), type: 'Ready', want: 'fix spec.x' },
    {
      name: 'the invalid spec message says what stays published',
      f: facts({ invalid: { reason: 'X', message: 'fix spec.x' }, synced: 2 }),
      type: 'Ready',
      want: 'fix spec.x; the Secrets published before stay in place in 2 namespaces until the spec is fixed',
    },
    {
      name: 'a first provider call under way',
      f: facts({ credential: undefined, minting: { provider: 'ecr', since: new Date('2026-11-22T02:30:00Z') } }),
      type: 'TokenAvailable',
      want: 'waiting for the ecr provider (call started at 2026-11-22T02:30:00Z)',
    },
    {
      name: 'missing names beside the synced ones',
      f: facts({ missingNamespaces: ['ghost-a', 'ghost-b'] }),
      type: 'Ready',
      want: `Secret ${SECRET} is current in 3 namespaces; spec.namespaces.names lists namespaces that do not exist: ghost-a, ghost-b`,
    },
    {
      name: 'no targets because the one name does not exist',
      f: facts({ targets: 0, synced: 0, missingNamespaces: ['ghost'] }),
      type: 'Ready',
      want: 'no namespace matches spec.namespaces; spec.namespaces.names lists a namespace that does not exist: ghost',
    },
    { name: 'all synced, plural', f: facts(), type: 'SecretsSynced', want: `Secret ${SECRET} is current in 3 namespaces` },
    { name: 'all synced, singular', f: facts({ targets: 1, synced: 1 }), type: 'SecretsSynced', want: `Secret ${SECRET} is current in 1 namespace` },
    { name: 'no targets', f: facts({ targets: 0, synced: 0 }), type: 'SecretsSynced', want: 'no namespace matches spec.namespaces' },
    {
      name: 'partly synced',
      f: facts({ targets: 3, synced: 1, failed: [conflict('a'), apiFailure('b')] }),
      type: 'SecretsSynced',
      want: `Secret ${SECRET} is current in 1 of 3 namespaces; see status.failedNamespaces`,
    },
    { name: 'no credential', f: facts({ credentialError: { reason: 'E', message: 'm' } }), type: 'SecretsSynced', want: 'no credential to publish; see TokenAvailable' },
    { name: 'patched', f: facts(), type: 'ServiceAccountsPatched', want: `3 ServiceAccounts list ${SECRET} in imagePullSecrets` },
    {
      name: 'patched, some still missing',
      f: facts({ patchedServiceAccounts: 1, missingServiceAccounts: 2 }),
      type: 'ServiceAccountsPatched',
      want: `1 ServiceAccount lists ${SECRET} in imagePullSecrets (2 namespaces have no selected ServiceAccount yet)`,
    },
    {
      name: 'patched, one namespace still missing',
      f: facts({ patchedServiceAccounts: 2, missingServiceAccounts: 1 }),
      type: 'ServiceAccountsPatched',
      want: `2 ServiceAccounts list ${SECRET} in imagePullSecrets (1 namespace has no selected ServiceAccount yet)`,
    },
    {
      name: 'two ServiceAccounts failed',
      f: facts({ serviceAccountFailures: 2 }),
      type: 'ServiceAccountsPatched',
      want: '2 ServiceAccounts could not be updated; retrying',
    },
    {
      name: 'invalid spec, Secrets kept in one namespace',
      f: facts({ targets: 1, synced: 1, invalid: { reason: 'InvalidSelector', message: 'bad selector' } }),
      type: 'Ready',
      want: 'bad selector; the Secrets published before stay in place in 1 namespace until the spec is fixed',
    },
    {
      name: 'one ServiceAccount failed',
      f: facts({ serviceAccountFailures: 1 }),
      type: 'ServiceAccountsPatched',
      want: '1 ServiceAccount could not be updated; retrying',
    },
  ])('message: $name', ({ f, type, want }) => {
    expect(getCondition(computeStatus(credential(), f).conditions, type)?.message).toBe(want);
  });
});

describe('computeStatus: lastTransitionTime', () => {
  function previousConditions(statuses: Partial<Record<string, 'True' | 'False'>>): Condition[] {
    return Object.entries(statuses).map(([type, status]): Condition => ({
      type,
      status: status ?? 'Unknown',
      reason: 'Old',
      message: 'old message',
      observedGeneration: 1,
      lastTransitionTime: T0,
    }));
  }

  it.each([
    {
      name: 'kept for every condition whose status is unchanged',
      before: { Ready: 'True', TokenAvailable: 'True', SecretsSynced: 'True', ServiceAccountsPatched: 'True' } as const,
      f: facts(),
      want: { Ready: T0, TokenAvailable: T0, SecretsSynced: T0, ServiceAccountsPatched: T0 },
    },
    {
      name: 'moved only for the conditions that flipped',
      before: { Ready: 'True', TokenAvailable: 'True', SecretsSynced: 'True', ServiceAccountsPatched: 'True' } as const,
      f: facts({ synced: 2, failed: [conflict('x')] }),
      want: { Ready: NOW_KUBE, TokenAvailable: T0, SecretsSynced: NOW_KUBE, ServiceAccountsPatched: T0 },
    },
    {
      name: 'moved on recovery',
      before: { Ready: 'False', TokenAvailable: 'False', SecretsSynced: 'False', ServiceAccountsPatched: 'False' } as const,
      f: facts(),
      want: { Ready: NOW_KUBE, TokenAvailable: NOW_KUBE, SecretsSynced: NOW_KUBE, ServiceAccountsPatched: NOW_KUBE },
    },
    {
      name: 'kept while staying False for another reason',
      before: { Ready: 'False', TokenAvailable: 'False', SecretsSynced: 'False', ServiceAccountsPatched: 'False' } as const,
      f: facts({ credential: undefined, credentialError: { reason: 'Expired', message: 'expired' } }),
      want: { Ready: T0, TokenAvailable: T0, SecretsSynced: T0, ServiceAccountsPatched: T0 },
    },
    {
      name: 'set now for a condition that did not exist',
      before: { Ready: 'True' } as const,
      f: facts(),
      want: { Ready: T0, TokenAvailable: NOW_KUBE, SecretsSynced: NOW_KUBE, ServiceAccountsPatched: NOW_KUBE },
    },
  ])('$name', ({ before, f, want }) => {
    const status = computeStatus(credential({ conditions: previousConditions(before) }), f);
    const got = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.lastTransitionTime]));
    expect(got).toEqual(want);
    // reason, message and generation are always the new ones
    for (const c of status.conditions ?? []) {
      expect(c.reason).not.toBe('Old');
      expect(c.observedGeneration).toBe(2);
    }
  });

  it('recomputing from its own output changes nothing', () => {
    const first = computeStatus(credential(), facts({ synced: 2, failed: [conflict('x')] }));
    const later = { ...facts({ synced: 2, failed: [conflict('x')] }), now: new Date('2026-11-22T05:00:00Z') };
    const second = computeStatus(credential(first), { ...later, credential: { ...later.credential!, obtainedAt: NOW } });
    expect(second).toEqual(first);
  });
});

describe('computeStatus: an invalid spec', () => {
  const published = computeStatus(credential(), facts());
  const invalid = { reason: 'InvalidSchedule', message: 'spec.refresh.schedule "every tuesday" is not a valid cron expression' };

  it('Ready says why; everything else keeps describing what is still published', () => {
    const status = computeStatus(credential(published), facts({ ...{ credential: undefined }, invalid, targets: 3, synced: 3 }));
    expect(summary(status.conditions, 'Ready')).toEqual(['False', 'InvalidSchedule']);
    expect(getCondition(status.conditions, 'Ready')?.message).toBe(`${invalid.message}; the Secrets published before stay in place in 3 namespaces until the spec is fixed`);
    for (const type of ['TokenAvailable', 'SecretsSynced', 'ServiceAccountsPatched']) {
      expect(getCondition(status.conditions, type)).toEqual(getCondition(published.conditions, type));
    }
    expect(status).toMatchObject({
      provider: published.provider,
      registries: published.registries,
      expiresAt: published.expiresAt,
      lastRefreshTime: published.lastRefreshTime,
      targetNamespaces: 3,
      syncedNamespaces: 3,
    });
  });

  it('with nothing published before, only Ready is there', () => {
    const status = computeStatus(credential(), facts({ credential: undefined, invalid, targets: 0, synced: 0 }));
    expect(status.conditions?.map((c) => c.type)).toEqual(['Ready']);
    expect(status.provider).toBeUndefined();
  });
});

describe('computeStatus: fields', () => {
  it('fills every field from the facts', () => {
    const previous: RegistryCredentialStatus = { nextRefreshTime: '2026-11-22T07:12:31Z', failedRefreshAttempts: 2 };
    expect(computeStatus(credential(previous), facts({ synced: 2, failed: [conflict('team-x')], patchedServiceAccounts: 2 }))).toEqual({
      observedGeneration: 2,
      provider: 'ecr',
      registries: ['123456789012.dkr.ecr.us-east-1.amazonaws.com'],
      lastRefreshTime: NOW_KUBE,
      expiresAt: '2026-11-22T14:30:00Z',
      nextRefreshTime: '2026-11-22T07:12:31Z',
      targetNamespaces: 3,
      syncedNamespaces: 2,
      failedNamespaces: [conflict('team-x')],
      patchedServiceAccounts: 2,
      failedRefreshAttempts: 2,
      conditions: expect.any(Array),
    });
  });

  it('failedRefreshAttempts defaults to 0', () => {
    expect(computeStatus(credential(), facts()).failedRefreshAttempts).toBe(0);
  });

  it.each([
    { name: 'no failures', failed: [] as FailedNamespace[], want: undefined },
    { name: 'one failure', failed: [conflict('a')], want: ['a'] },
    { name: 'sorted by namespace', failed: [apiFailure('team-c'), conflict('team-a'), apiFailure('team-b')], want: ['team-a', 'team-b', 'team-c'] },
    {
      name: 'exactly 20 kept',
      failed: Array.from({ length: 20 }, (_, i) => conflict(`ns-${String(19 - i).padStart(2, '0')}`)),
      want: Array.from({ length: 20 }, (_, i) => `ns-${String(i).padStart(2, '0')}`),
    },
    {
      name: 'capped at the first 20 after sorting',
      failed: Array.from({ length: 25 }, (_, i) => conflict(`ns-${String((i * 7) % 25).padStart(2, '0')}`)),
      want: Array.from({ length: 20 }, (_, i) => `ns-${String(i).padStart(2, '0')}`),
    },
  ])('failedNamespaces: $name', ({ failed, want }) => {
    const snapshot = structuredClone(failed);
    const status = computeStatus(credential(), facts({ targets: 30, synced: 30 - failed.length, failed }));
    expect(status.failedNamespaces?.map((x) => x.namespace)).toEqual(want);
    // the input is not reordered in place
    expect(failed).toEqual(snapshot);
  });

  it.each([
    { name: 'first credential', previous: undefined, credential: { obtainedAt: NOW }, want: NOW_KUBE },
    { name: 'a new credential', previous: T0, credential: { obtainedAt: NOW }, want: NOW_KUBE },
    { name: 'the credential obtained before: its time, not now', previous: T0, credential: { obtainedAt: new Date(T0) }, want: T0 },
    { name: 'an older status is corrected to the credential held', previous: '2026-01-01T00:00:00Z', credential: { obtainedAt: new Date(T0) }, want: T0 },
    { name: 'no credential this time', previous: T0, credential: undefined, want: T0 },
    { name: 'no credential ever', previous: undefined, credential: undefined, want: undefined },
  ])('lastRefreshTime: $name', ({ previous, credential: minted, want }) => {
    const f = minted
      ? facts({ credential: { registries: ['r.example'], obtainedAt: minted.obtainedAt } })
      : facts({ credential: undefined, credentialError: { reason: 'ProviderError', message: 'throttled' } });
    expect(computeStatus(credential({ lastRefreshTime: previous }), f).lastRefreshTime).toBe(want);
  });

  it.each([
    { name: 'expiring credential', previous: '2026-01-01T00:00:00Z', f: facts(), want: '2026-11-22T14:30:00Z' },
    {
      name: 'non-expiring credential clears a previous expiry',
      previous: '2026-01-01T00:00:00Z',
      f: facts({ credential: { registries: ['ghcr.io'], obtainedAt: NOW } }),
      want: undefined,
    },
    {
      name: 'no credential keeps the previous expiry',
      previous: '2026-01-01T00:00:00Z',
      f: facts({ credential: undefined, credentialError: { reason: 'E', message: 'm' } }),
      want: '2026-01-01T00:00:00Z',
    },
  ])('expiresAt: $name', ({ previous, f, want }) => {
    expect(computeStatus(credential({ expiresAt: previous }), f).expiresAt).toBe(want);
  });

  it.each([
    { name: 'from the credential', f: facts({ credential: { registries: ['a.example', 'b.example'], obtainedAt: NOW } }), want: ['a.example', 'b.example'] },
    { name: 'kept when there is no credential', f: facts({ credential: undefined, credentialError: { reason: 'E', message: 'm' } }), want: ['old.example'] },
  ])('registries: $name', ({ f, want }) => {
    expect(computeStatus(credential({ registries: ['old.example'] }), f).registries).toEqual(want);
  });
});

describe('statusMergePatch', () => {
  it.each([
    {
      name: 'from nothing: the new status as it is',
      from: undefined,
      to: { observedGeneration: 1, targetNamespaces: 2 },
      want: { observedGeneration: 1, targetNamespaces: 2 },
    },
    {
      name: 'a key removed becomes null',
      from: { expiresAt: T0, targetNamespaces: 2 },
      to: { targetNamespaces: 3 },
      want: { expiresAt: null, targetNamespaces: 3 },
    },
    {
      name: 'a key set to undefined becomes null',
      from: { failedNamespaces: [conflict('a')], syncedNamespaces: 1 },
      to: { failedNamespaces: undefined, syncedNamespaces: 2 },
      want: { failedNamespaces: null, syncedNamespaces: 2 },
    },
    {
      name: 'arrays are replaced whole',
      from: { registries: ['a', 'b'] },
      to: { registries: ['c'] },
      want: { registries: ['c'] },
    },
    {
      name: 'unchanged keys are repeated',
      from: { provider: 'ecr' as const, targetNamespaces: 1 },
      to: { provider: 'ecr' as const, targetNamespaces: 1 },
      want: { provider: 'ecr', targetNamespaces: 1 },
    },
    {
      name: 'zero is a value, not a removal',
      from: { failedRefreshAttempts: 3 },
      to: { failedRefreshAttempts: 0 },
      want: { failedRefreshAttempts: 0 },
    },
  ])('$name', ({ from, to, want }) => {
    expect(statusMergePatch(from as RegistryCredentialStatus | undefined, to as RegistryCredentialStatus)).toEqual(want);
  });

  it('applied as a JSON merge patch it yields exactly the new status', () => {
    const from = computeStatus(credential(), facts({ synced: 2, failed: [conflict('x')] }));
    const to = computeStatus(credential(from), facts({ provider: 'static', credential: { registries: ['ghcr.io'], obtainedAt: NOW } }));
    const patch = statusMergePatch(from, to);
    const applied: Record<string, unknown> = { ...from };
    for (const [key, value] of Object.entries(JSON.parse(JSON.stringify(patch)) as Record<string, unknown>)) {
      if (value === null) delete applied[key];
      else applied[key] = value;
    }
    expect(applied).toEqual(JSON.parse(JSON.stringify(to)));
    expect(patch.expiresAt).toBeNull();
    expect(patch.failedNamespaces).toBeNull();
  });
});

describe('statusTransitions', () => {
  function status(ready: 'True' | 'False' | undefined, reason = 'Synced', failed?: FailedNamespace[]): RegistryCredentialStatus {
    return {
      ...(failed ? { failedNamespaces: failed } : {}),
      conditions: ready ? [{ type: 'Ready', status: ready, reason, message: `ready ${ready} ${reason}`, lastTransitionTime: T0 }] : [],
    };
  }

  it.each([
    { name: 'first sync', prev: undefined, next: status('True'), want: [{ type: 'Normal', reason: 'Synced', message: 'ready True Synced' }] },
    {
      name: 'first sync after a status without Ready',
      prev: status(undefined),
      next: status('True'),
      want: [{ type: 'Normal', reason: 'Synced', message: 'ready True Synced' }],
    },
    {
      name: 'first reconcile fails',
      prev: undefined,
      next: status('False', 'InvalidSchedule'),
      want: [{ type: 'Warning', reason: 'InvalidSchedule', message: 'ready False InvalidSchedule' }],
    },
    { name: 'True → False', prev: status('True'), next: status('False', 'Expired'), want: [{ type: 'Warning', reason: 'Expired', message: 'ready False Expired' }] },
    {
      name: 'False → False for another reason',
      prev: status('False', 'ProviderError'),
      next: status('False', 'Expired'),
      want: [{ type: 'Warning', reason: 'Expired', message: 'ready False Expired' }],
    },
    { name: 'False → True', prev: status('False', 'Expired'), next: status('True'), want: [{ type: 'Normal', reason: 'Recovered', message: 'ready True Synced' }] },
    { name: 'steady True', prev: status('True'), next: status('True'), want: [] },
    { name: 'steady False', prev: status('False', 'Expired'), next: status('False', 'Expired'), want: [] },
    { name: 'no Ready in next', prev: status('True'), next: status(undefined), want: [] },
    {
      name: 'True → SecretConflict: one conflict Warning, no Ready Warning',
      prev: status('True'),
      next: status('False', 'SecretConflict', [conflict('team-x')]),
      want: [{ type: 'Warning', reason: 'SecretConflict', message: `${conflict('team-x').message} (namespace: team-x)` }],
    },
    {
      name: 'the same conflicts again',
      prev: status('False', 'SecretConflict', [conflict('team-x')]),
      next: status('False', 'SecretConflict', [conflict('team-x')]),
      want: [],
    },
    {
      name: 'only new conflicts are reported',
      prev: status('False', 'SecretConflict', [conflict('a'), conflict('c')]),
      next: status('False', 'SecretConflict', [conflict('a'), conflict('b'), conflict('c'), conflict('d')]),
      want: [{ type: 'Warning', reason: 'SecretConflict', message: `${conflict('b').message} (namespaces: b, d)` }],
    },
    {
      name: 'a namespace that failed otherwise and now conflicts is new',
      prev: status('False', 'SyncFailed', [apiFailure('a')]),
      next: status('False', 'SecretConflict', [conflict('a')]),
      want: [{ type: 'Warning', reason: 'SecretConflict', message: `${conflict('a').message} (namespace: a)` }],
    },
    {
      name: 'new non-conflict failures give no conflict Warning',
      prev: status('False', 'SyncFailed', [apiFailure('a')]),
      next: status('False', 'SyncFailed', [apiFailure('a'), apiFailure('b')]),
      want: [],
    },
    {
      name: 'a conflict resolved and nothing new',
      prev: status('False', 'SecretConflict', [conflict('a'), conflict('b')]),
      next: status('False', 'SecretConflict', [conflict('a')]),
      want: [],
    },
    {
      name: 'more than five new conflicts are summarised',
      prev: status('True'),
      next: status('False', 'SecretConflict', ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map(conflict)),
      want: [{ type: 'Warning', reason: 'SecretConflict', message: `${conflict('a').message} (namespaces: a, b, c, d, e and 2 more)` }],
    },
    {
      name: 'Ready Warning and conflict Warning together',
      prev: status('True'),
      next: status('False', 'PatchFailed', [conflict('z')]),
      want: [
        { type: 'Warning', reason: 'PatchFailed', message: 'ready False PatchFailed' },
        { type: 'Warning', reason: 'SecretConflict', message: `${conflict('z').message} (namespace: z)` },
      ],
    },
  ])('$name', ({ prev, next, want }) => {
    expect(statusTransitions(prev, next)).toEqual(want);
  });

  it('end to end: first sync, steady state, conflict, recovery', () => {
    const first = computeStatus(credential(), facts());
    expect(statusTransitions(undefined, first)).toEqual([{ type: 'Normal', reason: 'Synced', message: `Secret ${SECRET} is current in 3 namespaces` }]);

    const steady = computeStatus(credential(first), facts({ credential: { ...facts().credential!, obtainedAt: NOW } }));
    expect(statusTransitions(first, steady)).toEqual([]);

    const conflicted = computeStatus(credential(steady), facts({ synced: 2, failed: [conflict('team-x')] }));
    expect(statusTransitions(steady, conflicted)).toEqual([
      { type: 'Warning', reason: 'SecretConflict', message: `${conflict('team-x').message} (namespace: team-x)` },
    ]);
    expect(statusTransitions(conflicted, computeStatus(credential(conflicted), facts({ synced: 2, failed: [conflict('team-x')] })))).toEqual([]);

    const recovered = computeStatus(credential(conflicted), facts());
    expect(statusTransitions(conflicted, recovered)).toEqual([{ type: 'Normal', reason: 'Recovered', message: `Secret ${SECRET} is current in 3 namespaces` }]);
  });
});

describe('computeStatus while a failing refresh waits for its next attempt', () => {
  it('keeps TokenAvailable as the failed attempt left it, with Ready still True', () => {
    const kept = { status: 'True' as const, reason: 'RefreshFailing', message: 'refresh failed (ProviderUnreachable): cannot reach ECR; the published credential stays valid' };
    const status = computeStatus(
      credential(),
      facts({ keptTokenCondition: kept, refresh: { failedAttempts: 2, nextRefreshTime: EXPIRES } }),
    );
    const token = status.conditions?.find((c) => c.type === 'TokenAvailable');
    expect(token).toMatchObject(kept);
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(status.failedRefreshAttempts).toBe(2);
  });
});
