/**
 * Which credential a reconcile publishes, whether it calls the provider, and what TokenAvailable says:
 * one pure function of what the reconcile gathered. No clock, no I/O: every case is a table test
 * (test/unit/decide-credential.test.ts).
 *
 * Expiring credentials (ECR, Google) come from provider calls that run outside the reconcile
 * (src/reconcile/mints.ts): this decides when to start one, takes in its result when it has settled,
 * and meanwhile keeps publishing the last good credential until it expires. Static credentials are read
 * from their source Secret in the cache every time; there is nothing to call.
 */
import type { ProviderName, RegistryCredentialStatus } from '../api/types.js';
import { buildDockerConfigJson, registriesOf } from '../desired/dockerconfig.js';
import { credentialDigest } from '../desired/secret.js';
import { isStillValid, mintDue, nextRefreshAfterSuccess, nextRetryAfterFailure } from '../policy/refresh.js';
import type { Random } from '../policy/schedule.js';
import { ProviderError, type ProviderCredential } from '../providers/types.js';
import type { TokenFacts } from '../status/compute.js';
import { getCondition } from '../status/conditions.js';
import { parseKubeTime, toKubeTime } from '../status/time.js';
import type { CredentialMemory, MintFor } from './memory.js';

/** A credential ready to publish, in the form every Secret of the credential holds. */
export interface Publishable {
  dockerConfigJson: string;
  /** SHA-256 of dockerConfigJson: which credential this is, without holding on to it. */
  digest: string;
  registries: string[];
  expiresAt?: Date;
  /** When it was obtained from the provider (or its source changed): status.lastRefreshTime. */
  obtainedAt: Date;
}

/** The copy of an expiring credential our Secrets hold, verified by its digest annotation. */
export interface HeldCredential {
  dockerConfigJson: string;
  digest: string;
  expiresAt?: Date;
}

export interface CredentialInput {
  now: Date;
  provider: ProviderName;
  /** What a mint now would be made for: the spec generation and the source Secret's version. */
  current: MintFor;
  schedule?: string;
  random: Random;
  /** What our Secrets hold now (for expiring providers, only a copy whose digest annotation matches). */
  held?: HeldCredential;
  /** The static source, read from the cache (static provider only). */
  staticSource?: { ok: true; credential: ProviderCredential } | { ok: false; error: ProviderError };
  memory: Pick<CredentialMemory, 'mintInFlight' | 'mintSettled' | 'lastMintFor' | 'refreshPlan' | 'published'>;
  previous: RegistryCredentialStatus;
}

export interface RefreshPlan {
  nextRefreshTime?: Date;
  failedAttempts: number;
}

export interface CredentialDecision {
  /** What to publish; absent: nothing valid to publish, and the Secrets stay as they are. */
  publish?: Publishable;
  /** Start a provider call for this (outside the workers). */
  startMint?: MintFor;
  /** That call is for a changed spec or source (what stays published meanwhile was made for the old one). */
  mintForChange?: boolean;
  /** The call in flight was made for an older spec or source: stop it. */
  abortInFlight?: boolean;
  /** The settled call's result has been used (or is stale): drop it from memory. */
  consumeSettled?: boolean;
  /** Record that the static source was read for this (a failure then counts once per source version). */
  readFor?: MintFor;
  refresh: RefreshPlan;
  token: TokenFacts;
  /** Wake up then even if nothing else happens: the published credential expires. */
  wakeAt?: Date;
  /**
   * A provider call is under way (started now or before): its settling queues the credential again, so
   * the reconcile must not also ask to run at a refresh time that has passed (that would loop hot).
   */
  awaitingCall?: boolean;
  /** For the log: a provider failure this reconcile took in, or a recovery after failures. */
  failure?: { reason: string; message: string; attempts: number; retryAt?: Date };
  recoveredAfter?: number;
}

export function decideCredential(input: CredentialInput): CredentialDecision {
  return input.provider === 'static' ? decideStatic(input) : decideExpiring(input);
}

function sameFor(a: MintFor | undefined, b: MintFor): boolean {
  return a !== undefined && a.generation === b.generation && a.sourceVersion === b.sourceVersion;
}

function previousPlan(input: CredentialInput): RefreshPlan {
  return (
    input.memory.refreshPlan ?? {
      nextRefreshTime: parseKubeTime(input.previous.nextRefreshTime),
      failedAttempts: input.previous.failedRefreshAttempts ?? 0,
    }
  );
}

/** When the credential with this digest was obtained: remembered, or (after a restart) what status said. */
function obtainedAt(input: CredentialInput, digest: string, fresh: Date): Date {
  if (input.memory.published?.digest === digest) return input.memory.published.obtainedAt;
  if (input.held?.digest === digest) return parseKubeTime(input.previous.lastRefreshTime) ?? fresh;
  return fresh;
}

/** The provider's raw material as the document every Secret holds; a ProviderError when it cannot be one. */
export function toPublishable(credential: ProviderCredential, provider: ProviderName, now: Date): Omit<Publishable, 'obtainedAt'> {
  if (credential.logins.length === 0) {
    // An empty mint must never overwrite a working Secret.
    throw new ProviderError('EmptyCredential', `the ${provider} provider returned no credential`, true);
  }
  if (credential.expiresAt && credential.expiresAt.getTime() <= now.getTime()) {
    // Publishing it would break pulls, and refreshing "at half its lifetime" would loop: back off instead.
    throw new ProviderError(
      'ExpiredOnArrival',
      `the ${provider} provider returned a credential that expired at ${toKubeTime(credential.expiresAt)}; check the clock of the operator's node`,
      true,
    );
  }
  let dockerConfigJson: string;
  try {
    dockerConfigJson = buildDockerConfigJson(credential.logins);
  } catch (err) {
    throw new ProviderError('InvalidCredential', `the ${provider} provider returned a credential that cannot be published: ${(err as Error).message}`, false);
  }
  return { dockerConfigJson, digest: credentialDigest(dockerConfigJson), registries: registriesOf(credential), expiresAt: credential.expiresAt };
}

function decideStatic(input: CredentialInput): CredentialDecision {
  const { now, current } = input;
  const plan = previousPlan(input);
  const cronNext = nextRefreshAfterSuccess({ now, schedule: input.schedule, random: input.random });
  const source = input.staticSource ?? { ok: false, error: new ProviderError('InvalidProvider', 'spec.static is not set', false) };
  let failure: ProviderError;
  if (source.ok) {
    try {
      const built = toPublishable(source.credential, 'static', now);
      return {
        publish: { ...built, obtainedAt: obtainedAt(input, built.digest, now) },
        readFor: current,
        refresh: { nextRefreshTime: cronNext, failedAttempts: 0 },
        token: {},
        recoveredAfter: plan.failedAttempts > 0 ? plan.failedAttempts : undefined,
      };
    } catch (err) {
      failure = err as ProviderError;
    }
  } else {
    failure = source.error;
  }
  // One failed attempt per source version (and spec): reading the same broken Secret again is not another.
  const counted = sameFor(input.memory.lastMintFor, current) && plan.failedAttempts > 0;
  const attempts = counted ? plan.failedAttempts : plan.failedAttempts + 1;
  return {
    readFor: current,
    refresh: { nextRefreshTime: cronNext, failedAttempts: attempts },
    token: { credentialError: { reason: failure.reason, message: failure.message } },
    failure: counted ? undefined : { reason: failure.reason, message: failure.message, attempts },
  };
}

function decideExpiring(input: CredentialInput): CredentialDecision {
  const { now, current, memory, previous, provider } = input;
  const plan = previousPlan(input);
  const held = input.held;
  const heldValid = held !== undefined && isStillValid(held, now);
  const heldPublishable = (): Publishable | undefined =>
    held && heldValid && previous.registries?.length
      ? { ...held, registries: previous.registries, obtainedAt: obtainedAt(input, held.digest, now) }
      : undefined;

  const settled = memory.mintSettled;
  if (settled && sameFor(settled, current)) {
    let error: ProviderError;
    if (settled.ok) {
      try {
        const built = toPublishable(settled.credential, provider, now);
        return {
          publish: { ...built, obtainedAt: settled.at },
          consumeSettled: true,
          refresh: {
            failedAttempts: 0,
            nextRefreshTime: nextRefreshAfterSuccess({ now: settled.at, expiresAt: built.expiresAt, schedule: input.schedule, random: input.random }),
          },
          token: {},
          wakeAt: built.expiresAt,
          recoveredAfter: plan.failedAttempts > 0 ? plan.failedAttempts : undefined,
        };
      } catch (err) {
        error = err as ProviderError;
      }
    } else {
      error = settled.error;
    }
    // Every failure backs off, persisted in status, so neither events nor restarts call the provider hot.
    const attempts = plan.failedAttempts + 1;
    const retryAt = nextRetryAfterFailure({ now, attempts, random: input.random });
    const refresh = { failedAttempts: attempts, nextRefreshTime: retryAt };
    const failure = { reason: error.reason, message: error.message, attempts, retryAt };
    const keep = heldPublishable();
    if (keep) {
      // The last good credential stays in place, and keeps serving new namespaces, until it expires.
      return { publish: keep, consumeSettled: true, refresh, failure, token: { refreshError: { reason: error.reason, message: error.message } }, wakeAt: keep.expiresAt };
    }
    const credentialError = held ? expiredError(held, error.message) : { reason: error.reason, message: error.message };
    return { consumeSettled: true, refresh, failure, token: { credentialError } };
  }

  // A result made for an older spec or source is of no use.
  const consumeSettled = settled !== undefined;
  const specChanged = current.generation !== previous.observedGeneration && memory.lastMintFor?.generation !== current.generation;
  const sourceChanged = memory.lastMintFor !== undefined && memory.lastMintFor.sourceVersion !== current.sourceVersion;
  const inFlight = memory.mintInFlight;
  const inFlightCurrent = inFlight !== undefined && sameFor(inFlight, current);
  const abortInFlight = inFlight !== undefined && !inFlightCurrent;
  const due =
    !inFlightCurrent &&
    (abortInFlight ||
      mintDue({
        now,
        expiring: true,
        specChanged: specChanged || sourceChanged,
        published: heldPublishable(),
        nextRefreshTime: plan.nextRefreshTime,
        failedAttempts: plan.failedAttempts,
      }));
  const waiting = inFlightCurrent || due;
  const forChange = due ? specChanged || sourceChanged || abortInFlight : inFlightCurrent && inFlight.forChange === true;
  const base = { consumeSettled, abortInFlight, startMint: due ? current : undefined, mintForChange: due ? forChange : undefined, refresh: plan, awaitingCall: waiting };

  const keep = heldPublishable();
  if (keep && forChange) {
    // The spec (or source) changed and its credential is on its way: what is published serves meanwhile,
    // but it is not yet what the spec asks for, and status must not say Ready for this generation.
    return { ...base, publish: keep, token: { minting: { provider, since: inFlightCurrent ? inFlight.startedAt : now } }, wakeAt: keep.expiresAt };
  }
  if (keep) {
    // Still failing, waiting for the next attempt: TokenAvailable says so until an attempt succeeds.
    const token = getCondition(previous.conditions, 'TokenAvailable');
    const kept = plan.failedAttempts > 0 && token?.reason === 'RefreshFailing' ? { keptTokenCondition: token } : {};
    return { ...base, publish: keep, token: kept, wakeAt: keep.expiresAt };
  }
  if (held && !heldValid) {
    const detail = lastFailure(previous)?.message ?? `next attempt at ${toKubeTime(plan.nextRefreshTime ?? now)}`;
    return { ...base, token: { credentialError: expiredError(held, detail) } };
  }
  // Retrying after a failure: the failure stands until an attempt succeeds (no False → Unknown → False flapping).
  const failedBefore = plan.failedAttempts > 0 ? lastFailure(previous) : undefined;
  if (waiting && !failedBefore) {
    return { ...base, token: { minting: { provider, since: inFlightCurrent ? inFlight.startedAt : now } } };
  }
  // Backing off with nothing to publish: the reason stays the one the last attempt gave.
  const credentialError = failedBefore ?? lastFailure(previous) ?? {
    reason: 'RefreshPending',
    message: `no credential yet; next attempt at ${toKubeTime(plan.nextRefreshTime ?? now)}`,
  };
  return { ...base, token: { credentialError } };
}

/** The failure the last attempt reported (TokenAvailable=False), kept while waiting for the next one. */
function lastFailure(status: RegistryCredentialStatus): { reason: string; message: string } | undefined {
  const token = getCondition(status.conditions, 'TokenAvailable');
  if (!token || token.status !== 'False' || token.reason === 'Expired' || token.reason === 'Minting') return undefined;
  return { reason: token.reason, message: token.message };
}

function expiredError(held: HeldCredential, detail: string): { reason: string; message: string } {
  return { reason: 'Expired', message: `the published credential expired at ${toKubeTime(held.expiresAt!)}; ${detail}` };
}
