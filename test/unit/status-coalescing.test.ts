import { describe, expect, it } from '@jest/globals';
import type { RegistryCredential, RegistryCredentialStatus } from '../../src/api/types.js';
import { computeStatus, onlyCountsChanged, type ReconcileFacts } from '../../src/status/compute.js';

/** Which status changes may wait to be written with the next ones (docs/adr/0007-status-write-coalescing.md). */

const T0 = new Date('2026-11-22T01:00:00Z');
const LATER = new Date('2026-11-22T01:00:05Z');
const EXPIRES = new Date('2026-11-22T13:00:00Z');

function credential(status?: RegistryCredentialStatus, generation = 1): RegistryCredential {
  return {
    apiVersion: 'regcred.io/v1alpha1',
    kind: 'RegistryCredential',
    metadata: { name: 'ecr', generation },
    spec: { ecr: { region: 'us-east-1' } },
    ...(status ? { status } : {}),
  };
}

function facts(overrides: Partial<ReconcileFacts> = {}): ReconcileFacts {
  return {
    now: LATER,
    provider: 'ecr',
    credential: { registries: ['123456789012.dkr.ecr.us-east-1.amazonaws.com'], expiresAt: EXPIRES, obtainedAt: T0 },
    refresh: { nextRefreshTime: new Date('2026-11-22T07:00:00Z'), failedAttempts: 0 },
    secretName: 'regcred',
    targets: 100,
    synced: 100,
    failed: [],
    patchedServiceAccounts: 100,
    serviceAccountFailures: 0,
    missingServiceAccounts: 0,
    ...overrides,
  };
}

/** The status written at T0 from these facts. */
const previous = computeStatus(credential(), facts({ now: T0 }));

describe('onlyCountsChanged', () => {
  it.each<{ name: string; next: RegistryCredentialStatus; want: boolean }>([
    { name: 'nothing changed', next: computeStatus(credential(previous), facts()), want: true },
    { name: 'a new namespace, synced and patched', next: computeStatus(credential(previous), facts({ targets: 101, synced: 101, patchedServiceAccounts: 101 })), want: true },
    { name: 'a namespace gone', next: computeStatus(credential(previous), facts({ targets: 99, synced: 99, patchedServiceAccounts: 99 })), want: true },
    {
      name: 'a new namespace whose default ServiceAccount does not exist yet',
      next: computeStatus(credential(previous), facts({ targets: 101, synced: 101, missingServiceAccounts: 1 })),
      want: true,
    },
    { name: 'a namespace not synced yet (a condition turns False)', next: computeStatus(credential(previous), facts({ targets: 101 })), want: false },
    {
      name: 'a conflict (failedNamespaces, Ready reason)',
      next: computeStatus(credential(previous), facts({ targets: 101, failed: [{ namespace: 'x', reason: 'SecretConflict', message: 'm' }] })),
      want: false,
    },
    { name: 'a ServiceAccount write failed', next: computeStatus(credential(previous), facts({ serviceAccountFailures: 1 })), want: false },
    { name: 'the last target gone (reason NoTargets)', next: computeStatus(credential(previous), facts({ targets: 0, synced: 0, patchedServiceAccounts: 0 })), want: false },
    { name: 'a new credential (lastRefreshTime, expiresAt)', next: computeStatus(credential(previous), facts({ credential: { registries: ['r'], expiresAt: new Date('2026-11-22T14:00:00Z'), obtainedAt: LATER } })), want: false },
    { name: 'a new refresh time', next: computeStatus(credential(previous), facts({ refresh: { nextRefreshTime: new Date('2026-11-22T08:00:00Z'), failedAttempts: 0 } })), want: false },
    { name: 'a failed refresh attempt', next: computeStatus(credential(previous), facts({ refreshError: { reason: 'Throttled', message: 'slow down' }, refresh: { failedAttempts: 1 } })), want: false },
    { name: 'a new generation', next: computeStatus(credential(previous, 2), facts()), want: false },
  ])('$name: $want', ({ next, want }) => {
    expect(onlyCountsChanged(previous, next)).toBe(want);
  });

  it('is false without a previous status: the first status is always written at once', () => {
    expect(onlyCountsChanged(undefined, previous)).toBe(false);
  });

  it('is false when a count-bearing condition changes its status or reason, whatever its message', () => {
    const flipped = { ...previous, conditions: previous.conditions?.map((c) => (c.type === 'SecretsSynced' ? { ...c, status: 'False' as const } : c)) };
    expect(onlyCountsChanged(previous, flipped)).toBe(false);
  });

  it('is false when the TokenAvailable message changes', () => {
    const reworded = { ...previous, conditions: previous.conditions?.map((c) => (c.type === 'TokenAvailable' ? { ...c, message: 'other' } : c)) };
    expect(onlyCountsChanged(previous, reworded)).toBe(false);
  });
});
