/**
 * Exponential backoff with jitter: the one place its arithmetic lives. The work queue retries failed
 * reconciles with it (src/controller/rate-limiter.ts, QUEUE_BACKOFF) and the refresh policy spaces out
 * provider retries with it (src/policy/schedule.ts, REFRESH_BACKOFF). Pure: randomness comes in.
 */
/**
 * How a backoff delay is randomised. Without jitter, credentials that fail together (a provider
 * outage) retry together, in lockstep, forever.
 * - `none`: the exact exponential delay.
 * - `full`: uniform in [0, delay]; spreads retries the most, but a retry can come almost at once.
 * - `equal`: uniform in [delay / 2, delay] ("equal jitter").
 * - `spread`: uniform in [delay * (1 - fraction), delay * (1 + fraction)].
 */
export type Jitter =
  | { readonly kind: 'none' }
  | { readonly kind: 'full' }
  | { readonly kind: 'equal' }
  | { readonly kind: 'spread'; readonly fraction: number };

export interface BackoffOptions {
  /** Delay before the first retry. */
  readonly baseDelayMs: number;
  /** No delay, jitter included, is ever longer than this. */
  readonly maxDelayMs: number;
  readonly jitter: Jitter;
}

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
    case 'equal':
      // Between half and all of the delay: retries spread out but never come back hot.
      return (Math.min(exponential, maxDelayMs) * (1 + random())) / 2;
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

