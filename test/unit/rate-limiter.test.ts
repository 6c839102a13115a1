import { describe, expect, it } from '@jest/globals';
import {
  type BackoffOptions,
  computeBackoffDelay,
  QUEUE_BACKOFF,
  ExponentialRateLimiter,
  validateBackoffOptions,
} from '../../src/controller/rate-limiter.js';

const EXACT: BackoffOptions = { baseDelayMs: 100, maxDelayMs: 1_000, jitter: { kind: 'none' } };
const FULL: BackoffOptions = { ...EXACT, jitter: { kind: 'full' } };
const SPREAD: BackoffOptions = { ...EXACT, jitter: { kind: 'spread', fraction: 0.25 } };

/** A deterministic stand-in for Math.random: a small LCG, values in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('computeBackoffDelay', () => {
  it.each([
    { failures: 0, expected: 100 },
    { failures: 1, expected: 200 },
    { failures: 2, expected: 400 },
    { failures: 3, expected: 800 },
    { failures: 4, expected: 1_000 },
    { failures: 50, expected: 1_000 },
    { failures: 10_000, expected: 1_000 },
  ])('doubles from the base and stops at the cap: $failures earlier failures → $expected ms', ({ failures, expected }) => {
    expect(computeBackoffDelay(failures, EXACT, () => 0.5)).toBe(expected);
  });

  it.each([
    { random: 0, expected: 0 },
    { random: 0.5, expected: 200 },
    { random: 0.999, expected: 399.6 },
  ])('full jitter scales the delay by the random draw ($random)', ({ random, expected }) => {
    expect(computeBackoffDelay(2, FULL, () => random)).toBeCloseTo(expected);
  });

  it.each([
    { failures: 2, random: 0, expected: 300 },
    { failures: 2, random: 0.5, expected: 400 },
    { failures: 2, random: 1, expected: 500 },
    // At the cap the pre-jitter delay is max / 1.25, so the spread still ends exactly at the cap.
    { failures: 9, random: 0, expected: 600 },
    { failures: 9, random: 1, expected: 1_000 },
  ])('spread jitter goes ±fraction around the delay: $failures failures, random $random → $expected ms', ({
    failures,
    random,
    expected,
  }) => {
    expect(computeBackoffDelay(failures, SPREAD, () => random)).toBeCloseTo(expected);
  });

  it.each([
    { name: 'full', options: FULL, lower: (_delay: number) => 0, upper: (delay: number) => delay },
    { name: 'spread', options: SPREAD, lower: (delay: number) => delay * 0.75, upper: (delay: number) => delay * 1.25 },
  ])('$name jitter stays within its bounds and never above the cap', ({ options, lower, upper }) => {
    const random = seededRandom(42);
    for (let failures = 0; failures < 12; failures++) {
      const exact = computeBackoffDelay(failures, EXACT, () => 0);
      const nominal = options.jitter.kind === 'spread' ? Math.min(exact, EXACT.maxDelayMs / 1.25) : exact;
      for (let draw = 0; draw < 200; draw++) {
        const delay = computeBackoffDelay(failures, options, random);
        expect(delay).toBeGreaterThanOrEqual(lower(nominal));
        expect(delay).toBeLessThanOrEqual(upper(nominal));
        expect(delay).toBeLessThanOrEqual(EXACT.maxDelayMs);
      }
    }
  });
});

describe('ExponentialRateLimiter', () => {
  it('grows per failure up to the cap and counts the failures', () => {
    const limiter = new ExponentialRateLimiter(EXACT);
    const delays = Array.from({ length: 6 }, () => limiter.when('a'));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(limiter.failures('a')).toBe(6);
  });

  it('keeps each key separate', () => {
    const limiter = new ExponentialRateLimiter(EXACT);
    limiter.when('a');
    limiter.when('a');
    expect(limiter.when('b')).toBe(100);
    expect(limiter.failures('a')).toBe(2);
    expect(limiter.failures('b')).toBe(1);
  });

  it('starts again from the base after forget', () => {
    const limiter = new ExponentialRateLimiter(EXACT);
    limiter.when('a');
    limiter.when('a');
    limiter.forget('a');
    expect(limiter.failures('a')).toBe(0);
    expect(limiter.when('a')).toBe(100);
  });

  it('draws its jitter from the injected source only', () => {
    const draws: number[] = [];
    const limiter = new ExponentialRateLimiter(FULL, () => {
      draws.push(0.25);
      return 0.25;
    });
    expect(limiter.when('a')).toBe(25);
    expect(limiter.when('a')).toBe(50);
    expect(draws).toHaveLength(2);
  });

  it('has valid defaults', () => {
    expect(() => validateBackoffOptions(QUEUE_BACKOFF)).not.toThrow();
    expect(new ExponentialRateLimiter().when('a')).toBeLessThanOrEqual(QUEUE_BACKOFF.maxDelayMs);
  });

  it.each([
    { name: 'a zero base', options: { ...EXACT, baseDelayMs: 0 } },
    { name: 'a NaN base', options: { ...EXACT, baseDelayMs: Number.NaN } },
    { name: 'a cap below the base', options: { ...EXACT, maxDelayMs: 50 } },
    { name: 'an infinite cap', options: { ...EXACT, maxDelayMs: Number.POSITIVE_INFINITY } },
    { name: 'a jitter fraction above 1', options: { ...EXACT, jitter: { kind: 'spread', fraction: 1.5 } } as const },
  ])('rejects $name', ({ options }) => {
    expect(() => new ExponentialRateLimiter(options)).toThrow(RangeError);
  });
});
