import { describe, expect, it } from '@jest/globals';
import type { RegistryCredential, RegistryCredentialStatus } from '../../src/api/types.js';
import {
  conditionOf,
  decideVerification,
  verificationKey,
  type VerificationInput,
  type VerificationSettled,
} from '../../src/reconcile/decide-verification.js';
import type { HostOutcome } from '../../src/registry/types.js';
import { computeStatus, statusTransitions, type ReconcileFacts } from '../../src/status/compute.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const OBTAINED = new Date('2026-12-01T11:00:00Z');
const HOUR = 3_600_000;

function input(over: Partial<VerificationInput> = {}): VerificationInput {
  return {
    now: NOW,
    generation: 3,
    published: { digest: 'd1', obtainedAt: OBTAINED },
    memory: {},
    previous: {},
    headroomPercent: 10,
    ...over,
  };
}

function settled(over: Partial<VerificationSettled> = {}): VerificationSettled {
  return {
    key: verificationKey('d1', 3),
    at: new Date(NOW.getTime() - HOUR),
    condition: { status: 'True', reason: 'Verified', message: 'ghcr.io accepts the credential' },
    dockerHub: false,
    ...over,
  };
}

const outcome = (host: string, reason: HostOutcome['reason'], image?: string): HostOutcome => ({ host, reason, message: `${image ?? host} said ${reason}`, ...(image ? { image } : {}) });

describe('decideVerification', () => {
  it('probes a newly published credential and says Verifying meanwhile', () => {
    const d = decideVerification(input());
    expect(d.start).toBe(verificationKey('d1', 3));
    expect(d.facts.condition).toMatchObject({ status: 'Unknown', reason: 'Verifying' });
  });

  it('does not start a second probe while one is in flight for the same credential', () => {
    const abort = new AbortController();
    const d = decideVerification(input({ memory: { inFlight: { key: verificationKey('d1', 3), startedAt: new Date(NOW.getTime() - 5000), abort } } }));
    expect(d.start).toBeUndefined();
    expect(d.abortInFlight).toBe(false);
    expect(d.facts.condition.message).toContain('2026-12-01T11:59:55Z');
  });

  it('reports a settled probe and wakes at the next interval', () => {
    const d = decideVerification(input({ memory: { settled: settled() }, spec: { intervalMinutes: 120 } }));
    expect(d.start).toBeUndefined();
    expect(d.facts).toEqual({ condition: settled().condition, lastVerifiedTime: settled().at });
    expect(d.wakeAt).toEqual(new Date(NOW.getTime() + HOUR));
  });

  it('probes again when the interval has passed, keeping the last result meanwhile', () => {
    const d = decideVerification(input({ memory: { settled: settled({ at: new Date(NOW.getTime() - 6 * HOUR) }) } }));
    expect(d.start).toBe(verificationKey('d1', 3));
    expect(d.facts.condition.reason).toBe('Verified');
  });

  it('a new credential (another digest) or a new spec generation means a new probe, and stops the old one', () => {
    const abort = new AbortController();
    const memory = { settled: settled(), inFlight: { key: verificationKey('d1', 3), startedAt: NOW, abort } };
    const rotated = decideVerification(input({ memory, published: { digest: 'd2', obtainedAt: NOW } }));
    expect(rotated).toMatchObject({ start: verificationKey('d2', 3), abortInFlight: true });
    expect(rotated.facts.condition.reason).toBe('Verifying');
    const edited = decideVerification(input({ memory: { settled: settled() }, generation: 4 }));
    expect(edited.start).toBe(verificationKey('d1', 4));
  });

  it('is Disabled by spec.verify.enabled: false, stops a probe in flight and drops the headroom', () => {
    const abort = new AbortController();
    const d = decideVerification(
      input({
        spec: { enabled: false },
        memory: { inFlight: { key: 'k', startedAt: NOW, abort } },
        previous: { rateLimit: { limit: 200, remaining: 100, windowSeconds: 21600, checkedAt: 'x' }, lastVerifiedTime: '2026-12-01T10:00:00Z' },
      }),
    );
    expect(d).toMatchObject({ abortInFlight: true, facts: { condition: { status: 'Unknown', reason: 'Disabled' } } });
    expect(d.facts.rateLimit).toBeUndefined();
    expect(d.facts.lastVerifiedTime).toBeUndefined();
    expect(d.start).toBeUndefined();
  });

  it('says NotPublished without a credential, and probes nothing', () => {
    const d = decideVerification(input({ published: undefined }));
    expect(d.start).toBeUndefined();
    expect(d.facts.condition).toMatchObject({ status: 'Unknown', reason: 'NotPublished' });
  });

  describe('after a restart', () => {
    const previous = (over: Partial<RegistryCredentialStatus> = {}): RegistryCredentialStatus => ({
      lastVerifiedTime: '2026-12-01T11:30:00Z',
      conditions: [{ type: 'Verified', status: 'False', reason: 'Unauthorized', message: 'ghcr.io rejected it', observedGeneration: 3, lastTransitionTime: '2026-12-01T11:30:00Z' }],
      ...over,
    });
    it('takes a result of this generation, checked after the credential was obtained and within the interval', () => {
      const d = decideVerification(input({ previous: previous() }));
      expect(d.start).toBeUndefined();
      expect(d.adopt).toMatchObject({ key: verificationKey('d1', 3), condition: { reason: 'Unauthorized' } });
      expect(d.facts.condition).toMatchObject({ status: 'False', reason: 'Unauthorized', message: 'ghcr.io rejected it' });
    });
    it.each([
      ['an older generation', input({ generation: 4, previous: previous() })],
      ['a check before the credential was obtained', input({ published: { digest: 'd1', obtainedAt: new Date('2026-12-01T11:45:00Z') }, previous: previous() })],
      ['a check more than an interval ago', input({ spec: { intervalMinutes: 10 }, previous: previous() })],
      ['a condition that is not a probe answer', input({ previous: previous({ conditions: [{ type: 'Verified', status: 'Unknown', reason: 'Verifying', message: '', observedGeneration: 3, lastTransitionTime: 'x' }] }) })],
    ])('probes again after %s', (_, given) => {
      const d = decideVerification(given);
      expect(d.adopt).toBeUndefined();
      expect(d.start).toBeDefined();
    });
  });

  describe('Docker Hub headroom', () => {
    const reading = (remaining: number) => ({ limit: 200, remaining, windowSeconds: 21600, checkedAt: '2026-12-01T11:00:00Z' });
    it('reports the reading, with a note in the message when under the threshold', () => {
      const plenty = decideVerification(input({ memory: { settled: settled({ dockerHub: true, rateLimit: reading(150) }) } }));
      expect(plenty.facts.rateLimit).toEqual(reading(150));
      expect(plenty.facts.condition.message).toBe('ghcr.io accepts the credential');
      const low = decideVerification(input({ memory: { settled: settled({ dockerHub: true, rateLimit: reading(19) }) } }));
      expect(low.facts.condition.message).toMatch(/headroom is low: 19 of 200 pulls left in the 6 h window/);
      const custom = decideVerification(input({ headroomPercent: 50, memory: { settled: settled({ dockerHub: true, rateLimit: reading(99) }) } }));
      expect(custom.facts.condition.message).toMatch(/headroom is low/);
    });
    it('keeps the last reading when a probe of a Docker Hub credential could not read it, and drops it when there is no Docker Hub entry', () => {
      const previous = { rateLimit: reading(120) };
      expect(decideVerification(input({ previous, memory: { settled: settled({ dockerHub: true }) } })).facts.rateLimit).toEqual(reading(120));
      expect(decideVerification(input({ previous, memory: { settled: settled({ dockerHub: false }) } })).facts.rateLimit).toBeUndefined();
    });
  });
});

describe('conditionOf: the worst outcome speaks, the others are named', () => {
  it.each([
    [[outcome('ghcr.io', 'Verified')], 'True', 'Verified'],
    [[outcome('a.io', 'Verified'), outcome('b.io', 'Unauthorized')], 'False', 'Unauthorized'],
    [[outcome('a.io', 'Verified'), outcome('a.io', 'Denied', 'a.io/x:1')], 'False', 'Denied'],
    [[outcome('a.io', 'Verified'), outcome('a.io', 'ImageNotFound', 'a.io/x:1')], 'False', 'ImageNotFound'],
    [[outcome('a.io', 'InvalidImage', 'b.io/x')], 'False', 'InvalidImage'],
    [[outcome('a.io', 'RateLimited'), outcome('b.io', 'Unreachable')], 'Unknown', 'RateLimited'],
    [[outcome('a.io', 'Unreachable'), outcome('b.io', 'Verified')], 'Unknown', 'Unreachable'],
    [[outcome('a.io', 'Unreachable'), outcome('b.io', 'Denied', 'b.io/y:2')], 'False', 'Denied'],
  ])('%j → %s/%s', (outcomes, status, reason) => {
    expect(conditionOf({ outcomes })).toMatchObject({ status, reason });
  });

  it('names every host and image when all pass, and the other failures when not', () => {
    expect(conditionOf({ outcomes: [outcome('a.io', 'Verified'), outcome('b.io', 'Verified'), outcome('a.io', 'Verified', 'a.io/x:1')] }).message).toBe(
      'a.io, b.io accept the credential; image a.io/x:1 readable',
    );
    expect(conditionOf({ outcomes: [outcome('a.io', 'Unauthorized'), outcome('b.io', 'Unreachable')] }).message).toBe('a.io said Unauthorized; also b.io: Unreachable');
  });

  it('says so when nothing could be probed (glob keys only)', () => {
    expect(conditionOf({ outcomes: [] })).toMatchObject({ status: 'Unknown', message: expect.stringContaining('spec.verify.images') });
  });
});

describe('Verified in status and Events', () => {
  const credential = (status?: RegistryCredentialStatus): RegistryCredential => ({
    apiVersion: 'regcred.io/v1alpha1',
    kind: 'RegistryCredential',
    metadata: { name: 'c', generation: 3 },
    spec: { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 's' } } },
    ...(status ? { status } : {}),
  });
  const facts = (verification?: ReconcileFacts['verification']): ReconcileFacts => ({
    now: NOW,
    provider: 'static',
    credential: { registries: ['ghcr.io'], obtainedAt: OBTAINED },
    secretName: 'c',
    targets: 1,
    synced: 1,
    failed: [],
    patchedServiceAccounts: 1,
    serviceAccountFailures: 0,
    missingServiceAccounts: 0,
    ...(verification ? { verification } : {}),
  });

  it('writes the condition, lastVerifiedTime and rateLimit, and keeps them when a reconcile says nothing of verification', () => {
    const rateLimit = { limit: 200, remaining: 150, windowSeconds: 21600, checkedAt: '2026-12-01T11:00:00Z' };
    const status = computeStatus(credential(), facts({ condition: { status: 'False', reason: 'Unauthorized', message: 'no' }, lastVerifiedTime: OBTAINED, rateLimit }));
    expect(status.conditions?.find((c) => c.type === 'Verified')).toMatchObject({ status: 'False', reason: 'Unauthorized', observedGeneration: 3 });
    expect(status.lastVerifiedTime).toBe('2026-12-01T11:00:00Z');
    expect(status.rateLimit).toEqual(rateLimit);
    // Ready keeps meaning "published everywhere".
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const kept = computeStatus(credential(status), facts());
    expect(kept.conditions?.find((c) => c.type === 'Verified')?.reason).toBe('Unauthorized');
    expect(kept.rateLimit).toEqual(rateLimit);
    expect(kept.lastVerifiedTime).toBe(status.lastVerifiedTime);
  });

  it('warns on every transition to False, and once when headroom falls low', () => {
    const verified = (status: 'True' | 'False' | 'Unknown', reason: string): RegistryCredentialStatus => ({
      conditions: [{ type: 'Verified', status, reason, message: `m-${reason}`, lastTransitionTime: 'x' }],
    });
    expect(statusTransitions(verified('Unknown', 'Verifying'), verified('False', 'Unauthorized'))).toEqual([
      { type: 'Warning', reason: 'VerificationFailed', message: 'Unauthorized: m-Unauthorized' },
    ]);
    expect(statusTransitions(verified('False', 'Unauthorized'), verified('False', 'Unauthorized'))).toEqual([]);
    expect(statusTransitions(verified('False', 'Unauthorized'), verified('False', 'Denied'))).toHaveLength(1);
    // Recovery is reported by the reconcile, which knows the answer before a Verifying in between.
    expect(statusTransitions(verified('False', 'Denied'), verified('True', 'Verified'))).toEqual([]);
    expect(statusTransitions(verified('Unknown', 'Verifying'), verified('True', 'Verified'))).toEqual([]);
    expect(statusTransitions(verified('True', 'Verified'), verified('Unknown', 'Unreachable'))).toEqual([]);

    const r = (remaining: number) => ({ rateLimit: { limit: 100, remaining, windowSeconds: 21600, checkedAt: 'x' } });
    expect(statusTransitions(r(50), r(9), { headroomPercent: 10 }).map((t) => t.reason)).toEqual(['RateLimitLow']);
    expect(statusTransitions(r(9), r(5), { headroomPercent: 10 })).toEqual([]);
    expect(statusTransitions(r(50), r(40), { headroomPercent: 50 }).map((t) => t.reason)).toEqual(['RateLimitLow']);
  });
});
