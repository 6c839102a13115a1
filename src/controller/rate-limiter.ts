/**
 * How a backoff delay is randomised. Without jitter, credentials that fail together (a provider
 * outage) retry together, in lockstep, forever.
 * - `none`: the exact exponential delay.
 * - `full`: uniform in [0, delay]; spreads retries the most, but a retry can come almost at once.
 * - `spread`: uniform in [delay * (1 - fraction), delay * (1 + fraction)].
 */
export type Jitter =
  | { readonly kind: 'none' }
  | { readonly kind: 'full' }
  | { readonly kind: 'spread'; readonly fraction: number };

export interface BackoffOptions {
  /** Delay before the first retry. */
  readonly baseDelayMs: number;
  /** No delay, jitter included, is ever longer than this. */
  readonly maxDelayMs: number;
  readonly jitter: Jitter;
}

/** Per-key failure counting, as client-go's `TypedRateLimiter`. */
export interface RateLimiter {
  /** The delay before the next retry of `key`; counts one more failure. */
  when(key: string): number;
  /** Resets `key` after a success, so its next failure starts again from the base delay. */
  forget(key: string): void;
  /** Failures counted for `key` since it was last forgotten. */
  failures(key: string): number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  jitter: { kind: 'spread', fraction: 0.2 },
};

// 2^64 times any sane base already dwarfs any sane cap; stopping there keeps the product finite.
const MAX_EXPONENT = 64;

/**
 * The delay after `failures` earlier failures: base * 2^failures, jittered with `random` (a value in
 * [0, 1)), never above maxDelayMs.
 */
export function computeBackoffDelay(failures: number, options: BackoffOptions, random: () => number): number {
  const { baseDelayMs, maxDelayMs, jitter } = options;
  const exponential = baseDelayMs * 2 ** Math.min(Math.max(0, failures), MAX_EXPONENT);
  switch (jitter.kind) {
    case 'none':
      return Math.min(exponential, maxDelayMs);
    case 'full':
      return Math.min(exponential, maxDelayMs) * random();
    case 'spread': {
      // Capping before jitter at max / (1 + fraction) keeps the cap a hard bound and the draws uniform
      // there too; capping after jitter would pile half of all capped retries onto exactly maxDelayMs.
      const capped = Math.min(exponential, maxDelayMs / (1 + jitter.fraction));
      return capped * (1 - jitter.fraction + 2 * jitter.fraction * random());
    }
  }
}

export function validateBackoffOptions(options: BackoffOptions): void {
  const { baseDelayMs, maxDelayMs, jitter } = options;
  if (!(Number.isFinite(baseDelayMs) && baseDelayMs > 0)) {
    throw new RangeError(`backoff baseDelayMs must be a positive number of milliseconds, got ${baseDelayMs}`);
  }
  if (!(Number.isFinite(maxDelayMs) && maxDelayMs >= baseDelayMs)) {
    throw new RangeError(`backoff maxDelayMs must be at least baseDelayMs (${baseDelayMs}), got ${maxDelayMs}`);
  }
  if (jitter.kind === 'spread' && !(jitter.fraction >= 0 && jitter.fraction <= 1)) {
    throw new RangeError(`backoff jitter fraction must be between 0 and 1, got ${jitter.fraction}`);
  }
}

/** Exponential per-key backoff (factor 2) with jitter; the only state is a failure count per key. */
export class ExponentialRateLimiter implements RateLimiter {
  readonly #options: BackoffOptions;
  readonly #random: () => number;
  readonly #failures = new Map<string, number>();

  constructor(options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random) {
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
