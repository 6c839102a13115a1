import { computeBackoffDelay, validateBackoffOptions, type BackoffOptions } from '../policy/backoff.js';

export { computeBackoffDelay, validateBackoffOptions, type BackoffOptions, type Jitter } from '../policy/backoff.js';

/** The work queue's retry after a failed reconcile: 1 s doubling to 5 min, ±20 %. */
export const QUEUE_BACKOFF: BackoffOptions = {
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  jitter: { kind: 'spread', fraction: 0.2 },
};

/** Per-key failure counting, as client-go's `TypedRateLimiter`. */
export interface RateLimiter {
  /** The delay before the next retry of `key`; counts one more failure. */
  when(key: string): number;
  /** Resets `key` after a success, so its next failure starts again from the base delay. */
  forget(key: string): void;
  /** Failures counted for `key` since it was last forgotten. */
  failures(key: string): number;
}

/** Exponential per-key backoff (factor 2) with jitter; the only state is a failure count per key. */
export class ExponentialRateLimiter implements RateLimiter {
  readonly #options: BackoffOptions;
  readonly #random: () => number;
  readonly #failures = new Map<string, number>();

  constructor(options: BackoffOptions = QUEUE_BACKOFF, random: () => number = Math.random) {
    validateBackoffOptions(options);
    this.#options = options;
    this.#random = random;
  }

  when(key: string): number {
    const earlier = this.failures(key);
    this.#failures.set(key, earlier + 1);
    return computeBackoffDelay(earlier, this.#options, this.#random);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}
