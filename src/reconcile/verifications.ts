/**
 * Registry probes run here, outside the reconcile workers, like provider calls (mints.ts): a slow or
 * unreachable registry holds only its own probe, never a worker. A reconcile that finds a probe due
 * starts one and returns; when it settles, its condition goes into the credential's memory and the
 * credential is reconciled again, which writes it to status.
 *
 * The logins are handed to the prober for the call only; memory keeps the condition, never a login.
 */
import type { Clock } from '../controller/clock.js';
import type { LeaseGuard } from '../leader/fence.js';
import type { Logger } from '../observability/logger.js';
import type { RegistryLogin } from '../providers/types.js';
import { isDockerHubKey } from '../registry/keyring.js';
import type { VerificationResult, Verifier } from '../registry/types.js';
import { conditionOf, rateLimitStatus, type VerificationSettled } from './decide-verification.js';
import type { CredentialMemories, CredentialMemory } from './memory.js';

export interface VerificationRunnerDeps {
  verifier: Verifier;
  clock: Clock;
  log: Logger;
  memories: CredentialMemories;
  /** A probe settled: run the credential's reconcile again. */
  settled(name: string): void;
  /** Told each probe's duration and the reason it ended with. */
  observe?(seconds: number, reason: string): void;
  /** Asked before every probe: only the leader probes registries (src/leader/fence.ts). */
  guard?: LeaseGuard;
}

export interface VerificationRequestFor {
  name: string;
  key: string;
  logins: readonly RegistryLogin[];
  images: readonly string[];
}

export class VerificationRunner {
  constructor(private readonly deps: VerificationRunnerDeps) {}

  /** Starts a probe unless one is already in flight for this key. Never awaits. Throws NotLeaderError, starting nothing, off the lease. */
  start(request: VerificationRequestFor, memory: CredentialMemory): void {
    if (memory.verification.inFlight?.key === request.key) return;
    this.deps.guard?.check(`probe the registries of ${request.name}`);
    memory.verification.inFlight?.abort.abort();
    const abort = new AbortController();
    const startedAt = new Date(this.deps.clock.now());
    memory.verification.inFlight = { key: request.key, startedAt, abort };
    const dockerHub = request.logins.some((login) => isDockerHubKey(login.registry));
    void this.deps.verifier.verify({ logins: request.logins, images: request.images, signal: abort.signal }).then(
      (result) => this.settle(request, memory, abort, settledFrom(request.key, new Date(this.deps.clock.now()), result, dockerHub), result.durationMs),
      (err: unknown) => {
        // The prober reports every failure as an outcome; anything thrown is a bug, said without its details.
        const name = err instanceof Error ? err.name : typeof err;
        this.deps.log.error({ credential: request.name, error: name }, 'registry verification failed unexpectedly');
        const condition = { status: 'Unknown' as const, reason: 'Unreachable', message: `the registry check failed unexpectedly (${name}); it is retried at the next interval` };
        this.settle(request, memory, abort, { key: request.key, at: new Date(this.deps.clock.now()), condition, dockerHub }, this.deps.clock.now() - startedAt.getTime());
      },
    );
  }

  private settle(request: VerificationRequestFor, memory: CredentialMemory, abort: AbortController, settled: VerificationSettled, durationMs: number): void {
    if (memory.verification.inFlight?.abort !== abort || !this.deps.memories.holds(request.name, memory)) return;
    memory.verification.inFlight = undefined;
    const before = memory.verification.settled?.condition.status;
    memory.verification.settled = { ...settled, ...(settled.condition.status === 'True' && before === 'False' ? { recovered: true } : {}) };
    this.deps.observe?.(durationMs / 1000, settled.condition.reason);
    this.deps.log.debug({ credential: request.name, reason: settled.condition.reason }, 'registry verification settled');
    this.deps.settled(request.name);
  }
}

function settledFrom(key: string, at: Date, result: VerificationResult, dockerHub: boolean): VerificationSettled {
  return {
    key,
    at,
    condition: conditionOf(result),
    ...(result.rateLimit ? { rateLimit: rateLimitStatus(result.rateLimit) } : {}),
    dockerHub,
  };
}
