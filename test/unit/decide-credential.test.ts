import { describe, expect, it } from '@jest/globals';
import type { Condition, RegistryCredentialStatus } from '../../src/api/types.js';
import { buildDockerConfigJson } from '../../src/desired/dockerconfig.js';
import { credentialDigest } from '../../src/desired/secret.js';
import { ProviderError, type ProviderCredential } from '../../src/providers/types.js';
import { decideCredential, type CredentialDecision, type CredentialInput, type HeldCredential } from '../../src/reconcile/decide-credential.js';
import type { CredentialMemory, MintFor } from '../../src/reconcile/memory.js';

/**
 * The credential decision, case by case: what a reconcile publishes, whether it calls the provider, and
 * what TokenAvailable says, for every state the provider call and the published credential can be in.
 */

const NOW = new Date('2026-11-22T12:00:00Z');
const HOUR = 3600_000;
const REGISTRY = 'us-docker.pkg.dev';
const CURRENT: MintFor = { generation: 2, sourceVersion: 'absent' };
const OLDER: MintFor = { generation: 1, sourceVersion: 'absent' };
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);

function token(name: string, expiresAt?: Date): ProviderCredential {
  return { logins: [{ registry: REGISTRY, username: 'oauth2accesstoken', password: name }], expiresAt };
}

function held(name: string, expiresAt: Date): HeldCredential {
  const dockerConfigJson = buildDockerConfigJson(token(name).logins);
  return { dockerConfigJson, digest: credentialDigest(dockerConfigJson), expiresAt };
}

function tokenCondition(reason: string, status: Condition['status'] = 'False', message = `${reason} message`): Condition {
  return { type: 'TokenAvailable', status, reason, message, lastTransitionTime: '2026-11-22T11:00:00Z' };
}

const PUBLISHED: RegistryCredentialStatus = {
  observedGeneration: 2,
  registries: [REGISTRY],
  lastRefreshTime: '2026-11-22T11:30:00Z',
  nextRefreshTime: at(HOUR).toISOString(),
  failedRefreshAttempts: 0,
  conditions: [tokenCondition('CredentialAvailable', 'True')],
};

function input(overrides: Partial<CredentialInput> & { memory?: Partial<CredentialMemory> } = {}): CredentialInput {
  return {
    now: NOW,
    provider: 'gcr',
    current: CURRENT,
    random: () => 0.5,
    previous: {},
    ...overrides,
    memory: { ...overrides.memory },
  };
}

/** The parts of a decision a table row states. */
function summary(d: CredentialDecision): Record<string, unknown> {
  return {
    publish: d.publish ? (Object.values((JSON.parse(d.publish.dockerConfigJson) as { auths: Record<string, { password: string }> }).auths)[0]?.password) : undefined,
    startMint: d.startMint !== undefined,
    token: d.token.credentialError?.reason ?? d.token.keptTokenCondition?.reason ?? (d.token.minting ? 'Minting' : d.token.refreshError ? `RefreshFailing:${d.token.refreshError.reason}` : 'CredentialAvailable'),
    attempts: d.refresh.failedAttempts,
  };
}

describe('decideCredential: expiring providers', () => {
  it.each<{ name: string; in: CredentialInput; want: Record<string, unknown> }>([
    {
      name: 'a new credential: call the provider, nothing to publish yet',
      in: input(),
      want: { publish: undefined, startMint: true, token: 'Minting', attempts: 0 },
    },
    {
      name: 'the call is under way: wait, do not call again',
      in: input({ memory: { mintInFlight: { ...CURRENT, startedAt: at(-2000), abort: new AbortController() } } }),
      want: { publish: undefined, startMint: false, token: 'Minting', attempts: 0 },
    },
    {
      name: 'the call succeeded: publish it',
      in: input({ memory: { mintSettled: { ...CURRENT, at: at(-10), ok: true, credential: token('t1', at(HOUR)) } } }),
      want: { publish: 't1', startMint: false, token: 'CredentialAvailable', attempts: 0 },
    },
    {
      name: 'the first call failed: report its reason, back off',
      in: input({ memory: { mintSettled: { ...CURRENT, at: NOW, ok: false, error: new ProviderError('Unauthorized', 'denied', true) } } }),
      want: { publish: undefined, startMint: false, token: 'Unauthorized', attempts: 1 },
    },
    {
      name: 'a refresh failed: the valid credential stays published',
      in: input({
        previous: PUBLISHED,
        held: held('t1', at(HOUR)),
        memory: { mintSettled: { ...CURRENT, at: NOW, ok: false, error: new ProviderError('ProviderUnreachable', 'cannot reach', true) } },
      }),
      want: { publish: 't1', startMint: false, token: 'RefreshFailing:ProviderUnreachable', attempts: 1 },
    },
    {
      name: 'a refresh failed after the credential expired: Expired',
      in: input({
        previous: PUBLISHED,
        held: held('t1', at(-1000)),
        memory: { mintSettled: { ...CURRENT, at: NOW, ok: false, error: new ProviderError('ProviderUnreachable', 'cannot reach', true) } },
      }),
      want: { publish: undefined, startMint: false, token: 'Expired', attempts: 1 },
    },
    {
      name: 'an empty credential is a failure, never published',
      in: input({ previous: PUBLISHED, held: held('t1', at(HOUR)), memory: { mintSettled: { ...CURRENT, at: NOW, ok: true, credential: { logins: [], expiresAt: at(HOUR) } } } }),
      want: { publish: 't1', startMint: false, token: 'RefreshFailing:EmptyCredential', attempts: 1 },
    },
    {
      name: 'a credential that expired on arrival is a failure',
      in: input({ memory: { mintSettled: { ...CURRENT, at: NOW, ok: true, credential: token('t2', at(-1)) } } }),
      want: { publish: undefined, startMint: false, token: 'ExpiredOnArrival', attempts: 1 },
    },
    {
      name: 'a result made for an older spec is dropped, and a new call starts',
      in: input({ previous: { ...PUBLISHED, observedGeneration: 1 }, memory: { lastMintFor: OLDER, mintSettled: { ...OLDER, at: NOW, ok: true, credential: token('old', at(HOUR)) } } }),
      want: { publish: undefined, startMint: true, token: 'Minting', attempts: 0 },
    },
    {
      name: 'restart with a fresh credential in the Secrets: reuse it, no call',
      in: input({ previous: PUBLISHED, held: held('t1', at(2 * HOUR)) }),
      want: { publish: 't1', startMint: false, token: 'CredentialAvailable', attempts: 0 },
    },
    {
      name: 'the refresh time has come: call, keep publishing meanwhile',
      in: input({ previous: { ...PUBLISHED, nextRefreshTime: at(-1).toISOString() }, held: held('t1', at(HOUR)) }),
      want: { publish: 't1', startMint: true, token: 'CredentialAvailable', attempts: 0 },
    },
    {
      name: 'backing off, the credential still valid: keep RefreshFailing as it was, no call',
      in: input({
        previous: { ...PUBLISHED, failedRefreshAttempts: 2, nextRefreshTime: at(60_000).toISOString(), conditions: [tokenCondition('RefreshFailing', 'True')] },
        held: held('t1', at(HOUR)),
      }),
      want: { publish: 't1', startMint: false, token: 'RefreshFailing', attempts: 2 },
    },
    {
      name: 'backing off with nothing published: the last reason stands',
      in: input({ previous: { observedGeneration: 2, failedRefreshAttempts: 3, nextRefreshTime: at(60_000).toISOString(), conditions: [tokenCondition('Unauthorized')] } }),
      want: { publish: undefined, startMint: false, token: 'Unauthorized', attempts: 3 },
    },
    {
      name: 'retrying after a failure: the failure stands while the call is under way (no flapping to Unknown)',
      in: input({ previous: { failedRefreshAttempts: 3, nextRefreshTime: at(-1).toISOString(), conditions: [tokenCondition('Unauthorized')] } }),
      want: { publish: undefined, startMint: true, token: 'Unauthorized', attempts: 3 },
    },
    {
      name: 'backing off after the credential expired: Expired',
      in: input({ previous: { ...PUBLISHED, failedRefreshAttempts: 4, nextRefreshTime: at(60_000).toISOString() }, held: held('t1', at(-1)) }),
      want: { publish: undefined, startMint: false, token: 'Expired', attempts: 4 },
    },
    {
      name: 'a changed source Secret calls for a new credential at once; the old one serves meanwhile, but is not claimed as current',
      in: input({ previous: PUBLISHED, held: held('t1', at(HOUR)), memory: { lastMintFor: { ...CURRENT, sourceVersion: '7' } } }),
      want: { publish: 't1', startMint: true, token: 'Minting', attempts: 0 },
    },
    {
      name: "a spec change's call is under way: still Minting",
      in: input({ previous: PUBLISHED, held: held('t1', at(HOUR)), memory: { lastMintFor: CURRENT, mintInFlight: { ...CURRENT, startedAt: at(-1), abort: new AbortController(), forChange: true } } }),
      want: { publish: 't1', startMint: false, token: 'Minting', attempts: 0 },
    },
    {
      name: 'a scheduled refresh is under way: the published credential is current, CredentialAvailable',
      in: input({ previous: PUBLISHED, held: held('t1', at(HOUR)), memory: { lastMintFor: CURRENT, mintInFlight: { ...CURRENT, startedAt: at(-1), abort: new AbortController() } } }),
      want: { publish: 't1', startMint: false, token: 'CredentialAvailable', attempts: 0 },
    },
  ])('$name', ({ in: given, want }) => {
    expect(summary(decideCredential(given))).toEqual(want);
  });

  it('a call under way for an older spec is stopped and a new one started', () => {
    const d = decideCredential(input({ previous: { observedGeneration: 1 }, memory: { lastMintFor: OLDER, mintInFlight: { ...OLDER, startedAt: at(-1), abort: new AbortController() } } }));
    expect(d.abortInFlight).toBe(true);
    expect(d.startMint).toEqual(CURRENT);
  });

  it('after a success: refresh at half the lifetime from when the call settled, wake at the expiry', () => {
    const settledAt = at(-60_000);
    const d = decideCredential(input({ memory: { mintSettled: { ...CURRENT, at: settledAt, ok: true, credential: token('t1', at(2 * HOUR)) } } }));
    expect(d.refresh.nextRefreshTime).toEqual(new Date(settledAt.getTime() + (2 * HOUR + 60_000) / 2));
    expect(d.wakeAt).toEqual(at(2 * HOUR));
    expect(d.publish?.obtainedAt).toEqual(settledAt);
    expect(d.consumeSettled).toBe(true);
  });

  it('while a refresh keeps failing, the decision wakes at the expiry, however far the next retry is', () => {
    const d = decideCredential(
      input({
        previous: { ...PUBLISHED, failedRefreshAttempts: 6, nextRefreshTime: at(5 * 60_000).toISOString(), conditions: [tokenCondition('RefreshFailing', 'True')] },
        held: held('t1', at(30_000)),
      }),
    );
    expect(d.wakeAt).toEqual(at(30_000));
    expect(d.refresh.nextRefreshTime).toEqual(at(5 * 60_000));
  });

  it('each failure backs off further: 3.75 s, then 7.5 s (random 0.5)', () => {
    const fail = new ProviderError('ProviderUnreachable', 'x', true);
    const first = decideCredential(input({ memory: { mintSettled: { ...CURRENT, at: NOW, ok: false, error: fail } } }));
    expect(first.refresh).toEqual({ failedAttempts: 1, nextRefreshTime: at(3750) });
    const second = decideCredential(input({ memory: { refreshPlan: first.refresh, mintSettled: { ...CURRENT, at: NOW, ok: false, error: fail } } }));
    expect(second.refresh).toEqual({ failedAttempts: 2, nextRefreshTime: at(7500) });
  });

  it('lastRefreshTime: a reused credential keeps the time it was obtained, remembered or from status', () => {
    const h = held('t1', at(HOUR));
    expect(decideCredential(input({ previous: PUBLISHED, held: h })).publish?.obtainedAt).toEqual(new Date('2026-11-22T11:30:00Z'));
    const remembered = at(-5 * 60_000);
    expect(decideCredential(input({ previous: PUBLISHED, held: h, memory: { published: { digest: h.digest, obtainedAt: remembered } } })).publish?.obtainedAt).toEqual(remembered);
  });

  it('a held copy is not reused without the registries it was published for', () => {
    const d = decideCredential(input({ previous: { ...PUBLISHED, registries: undefined }, held: held('t1', at(HOUR)) }));
    expect(d.publish).toBeUndefined();
    expect(d.startMint).toEqual(CURRENT);
  });
});

describe('decideCredential: static', () => {
  const source = (password: string): CredentialInput['staticSource'] => ({ ok: true, credential: { logins: [{ registry: 'ghcr.io', username: 'robot', password }] } });
  const missing: CredentialInput['staticSource'] = { ok: false, error: new ProviderError('SourceSecretNotFound', 'Secret regcred-system/src not found', false) };

  it.each<{ name: string; in: CredentialInput; want: Record<string, unknown> }>([
    { name: 'a readable source is published, with no call', in: input({ provider: 'static', staticSource: source('pw') }), want: { publish: 'pw', startMint: false, token: 'CredentialAvailable', attempts: 0 } },
    { name: 'a missing source is one failed attempt', in: input({ provider: 'static', staticSource: missing }), want: { publish: undefined, startMint: false, token: 'SourceSecretNotFound', attempts: 1 } },
    {
      name: 'the same missing source read again is not another attempt',
      in: input({ provider: 'static', staticSource: missing, memory: { lastMintFor: CURRENT, refreshPlan: { failedAttempts: 1 } } }),
      want: { publish: undefined, startMint: false, token: 'SourceSecretNotFound', attempts: 1 },
    },
    {
      name: 'a changed but still broken source is another attempt',
      in: input({ provider: 'static', staticSource: missing, memory: { lastMintFor: { ...CURRENT, sourceVersion: '9' }, refreshPlan: { failedAttempts: 1 } } }),
      want: { publish: undefined, startMint: false, token: 'SourceSecretNotFound', attempts: 2 },
    },
    {
      name: 'a fixed source resets the count',
      in: input({ provider: 'static', staticSource: source('pw'), memory: { refreshPlan: { failedAttempts: 2 } } }),
      want: { publish: 'pw', startMint: false, token: 'CredentialAvailable', attempts: 0 },
    },
  ])('$name', ({ in: given, want }) => {
    const d = decideCredential(given);
    expect(summary(d)).toEqual(want);
  });

  it('lastRefreshTime moves only when the credential changes', () => {
    const first = decideCredential(input({ provider: 'static', staticSource: source('pw') }));
    expect(first.publish?.obtainedAt).toEqual(NOW);
    const remembered = { digest: first.publish!.digest, obtainedAt: at(-HOUR) };
    expect(decideCredential(input({ provider: 'static', staticSource: source('pw'), memory: { published: remembered } })).publish?.obtainedAt).toEqual(at(-HOUR));
    expect(decideCredential(input({ provider: 'static', staticSource: source('pw2'), memory: { published: remembered } })).publish?.obtainedAt).toEqual(NOW);
  });

  it('a username the kubelet would misread is a failure, not a Secret', () => {
    const d = decideCredential(input({ provider: 'static', staticSource: { ok: true, credential: { logins: [{ registry: 'ghcr.io', username: 'a:b', password: 'p' }] } } }));
    expect(d.publish).toBeUndefined();
    expect(d.token.credentialError?.reason).toBe('InvalidCredential');
  });
});
