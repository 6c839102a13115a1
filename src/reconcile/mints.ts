import pLimit from 'p-limit';
import type { ProviderName, RegistryCredentialSpec } from '../api/types.js';
import type { Clock } from '../controller/clock.js';
import { NotLeaderError, type LeaseGuard } from '../leader/fence.js';
import type { Logger } from '../observability/logger.js';
import { untilAborted } from '../providers/abort.js';
import { ProviderError, type Provider, type ProviderCredential, type SourceReader } from '../providers/types.js';
import type { CredentialMemories, CredentialMemory, MintFor } from './memory.js';

export interface MintRunnerDeps {
  providers: Partial<Record<ProviderName, Provider>>;
  clock: Clock;
  log: Logger;
  /** How long one call may take; the provider gets an abort signal at this time. */
  timeoutMs: number;
  /** Calls in flight at once per provider; the rest wait for a slot. */
  concurrency: number;
  memories: CredentialMemories;
  /** A call settled (its result is in the credential's memory): run the credential's reconcile again. */
  settled(name: string): void;
  /** Told how many calls are in flight and waiting, per provider, whenever that changes. */
  report?(provider: ProviderName, inFlight: number, waiting: number): void;
  /** Asked before every call: only the leader calls a provider (src/leader/fence.ts). */
  guard?: LeaseGuard;
}

export interface MintRequest {
  name: string;
  provider: ProviderName;
  spec: RegistryCredentialSpec;
  sources: SourceReader;
  for: MintFor;
  /** Started because the spec or the source changed. */
  forChange?: boolean;
}

/**
 * After the timeout the provider's signal fires and it reports its own, more precise failure (which
 * endpoint it could not reach); a provider that ignores the signal is given up on this much later.
 */
const IGNORED_ABORT_GRACE_MS = 2_000;

/**
 * Provider calls (ECR, Google) run here, outside the reconcile workers: a slow or black-holed provider
 * holds only its own slots, never a worker, so other credentials' fan-out, new namespaces and cleanup go
 * on. Each provider has its own bound, each call its own timeout. A reconcile that finds a mint due starts
 * one and returns; when the call settles, its result is put in the credential's memory and the credential
 * is reconciled again, which publishes it (or records the failure and its backoff).
 */
export class MintRunner {
  private readonly limits = new Map<ProviderName, ReturnType<typeof pLimit>>();

  constructor(private readonly deps: MintRunnerDeps) {}

  /**
   * Starts a call unless one is already in flight for this credential. Never awaits. Throws NotLeaderError,
   * starting nothing, when this replica does not hold the lease: the reconcile fails and is retried.
   */
  start(request: MintRequest, memory: CredentialMemory): void {
    if (memory.mintInFlight) return;
    this.deps.guard?.check(`call the ${request.provider} provider for ${request.name}`);
    const abort = new AbortController();
    memory.mintInFlight = { ...request.for, startedAt: new Date(this.deps.clock.now()), abort, forChange: request.forChange };
    memory.lastMintFor = request.for;
    const limit = this.limitFor(request.provider);
    const run = limit(() => this.call(request, abort.signal));
    this.report(request.provider);
    void run.then(
      (credential) => this.settle(request, memory, abort, { ok: true, credential }),
      (err: unknown) =>
        err instanceof NotLeaderError
          ? this.refused(request, memory, abort)
          : this.settle(request, memory, abort, { ok: false, error: asProviderError(err, request.provider, this.deps.timeoutMs) }),
    );
  }

  private limitFor(provider: ProviderName): ReturnType<typeof pLimit> {
    let limit = this.limits.get(provider);
    if (!limit) {
      limit = pLimit(this.deps.concurrency);
      this.limits.set(provider, limit);
    }
    return limit;
  }

  private async call(request: MintRequest, cancelled: AbortSignal): Promise<ProviderCredential> {
    this.report(request.provider);
    const provider = this.deps.providers[request.provider];
    if (!provider) {
      throw new ProviderError('ProviderUnavailable', `the ${request.provider} provider is not available in this build of regcred-operator`, false);
    }
    if (cancelled.aborted) throw new ProviderError('Cancelled', 'the call was no longer needed', true);
    // Asked again: the call may have waited for a slot while the lease lapsed.
    this.deps.guard?.check(`call the ${request.provider} provider for ${request.name}`);
    const { clock, timeoutMs } = this.deps;
    const signal = new AbortController();
    const hard = new AbortController();
    const onCancel = (): void => {
      signal.abort(cancelled.reason);
      hard.abort(cancelled.reason);
    };
    cancelled.addEventListener('abort', onCancel, { once: true });
    const timer = clock.setTimeout(() => signal.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const hardTimer = clock.setTimeout(() => hard.abort(new Error('the provider ignored its abort signal')), timeoutMs + IGNORED_ABORT_GRACE_MS);
    try {
      return await untilAborted(provider.mint(request.spec, request.sources, signal.signal, { credentialName: request.name }), hard.signal);
    } finally {
      clock.clearTimeout(timer);
      clock.clearTimeout(hardTimer);
      cancelled.removeEventListener('abort', onCancel);
    }
  }

  private settle(
    request: MintRequest,
    memory: CredentialMemory,
    abort: AbortController,
    result: { ok: true; credential: ProviderCredential } | { ok: false; error: ProviderError },
  ): void {
    this.report(request.provider);
    // Forgotten (deleted) or replaced by a newer call meanwhile: this result is nobody's.
    if (memory.mintInFlight?.abort !== abort || !this.deps.memories.holds(request.name, memory)) return;
    memory.mintInFlight = undefined;
    memory.mintSettled = { ...request.for, at: new Date(this.deps.clock.now()), ...result };
    if (!result.ok) this.deps.log.debug({ credential: request.name, reason: result.error.reason }, 'provider call failed');
    this.deps.settled(request.name);
  }

  /** The lease lapsed before the call went out: no result and no failure to record; the reconcile runs again and asks anew. */
  private refused(request: MintRequest, memory: CredentialMemory, abort: AbortController): void {
    this.report(request.provider);
    if (memory.mintInFlight?.abort !== abort || !this.deps.memories.holds(request.name, memory)) return;
    memory.mintInFlight = undefined;
    this.deps.settled(request.name);
  }

  private report(provider: ProviderName): void {
    const limit = this.limits.get(provider);
    if (!limit || !this.deps.report) return;
    try {
      this.deps.report(provider, limit.activeCount, limit.pendingCount);
    } catch {
      // Observation is best effort.
    }
  }
}

/** Whatever a provider threw, as a failure a user can act on (providers throw ProviderErrors; this is the net). */
export function asProviderError(err: unknown, provider: ProviderName, timeoutMs: number): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new ProviderError('ProviderUnreachable', `the ${provider} provider gave no answer within ${Math.round(timeoutMs / 1000)} s; will retry`, true, { cause: err });
  }
  // Only the error's name: an unclassified message could quote what the provider was given.
  const name = err instanceof Error ? err.name : typeof err;
  return new ProviderError('ProviderError', `the ${provider} provider failed unexpectedly (${name}); will retry`, true, { cause: err });
}
