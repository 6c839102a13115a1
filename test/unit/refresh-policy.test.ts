import { describe, expect, it } from '@jest/globals';
import { isStillValid, mintDue, nextRefreshAfterSuccess, nextRetryAfterFailure, type RefreshInput } from '../../src/policy/refresh.js';

const now = new Date('2026-11-22T12:00:00Z');
const minutes = (n: number): Date => new Date(now.getTime() + n * 60_000);
const base: RefreshInput = { now, expiring: true, specChanged: false, published: { expiresAt: minutes(360) }, nextRefreshTime: minutes(60), failedAttempts: 0 };

describe('mintDue', () => {
  it.each([
    { case: 'static credentials are re-read every time', input: { ...base, expiring: false }, due: true },
    { case: 'a changed spec mints', input: { ...base, specChanged: true }, due: true },
    { case: 'a fresh published credential is reused (restart, resync, new namespace)', input: base, due: false },
    { case: 'the refresh time has come', input: { ...base, nextRefreshTime: minutes(-1) }, due: true },
    { case: 'no refresh time recorded', input: { ...base, nextRefreshTime: undefined }, due: true },
    { case: 'nothing published yet and no failures', input: { ...base, published: undefined }, due: true },
    { case: 'nothing published, backing off after failures: wait', input: { ...base, published: undefined, failedAttempts: 2 }, due: false },
    { case: 'published and valid until after the refresh time', input: { ...base, published: { expiresAt: minutes(90) } }, due: false },
    { case: 'published but already expired before the refresh time', input: { ...base, published: { expiresAt: minutes(-1) } }, due: true },
    { case: 'published expired, backing off: wait for the retry time', input: { ...base, published: { expiresAt: minutes(-5) }, failedAttempts: 3 }, due: false },
    { case: 'published without a known expiry', input: { ...base, published: {} }, due: true },
  ])('$case', ({ input, due }) => {
    expect(mintDue(input)).toBe(due);
  });
});

describe('next refresh', () => {
  it('after success: about half the lifetime, with jitter, for each random draw', () => {
    const expiresAt = minutes(720);
    const times = [0, 0.5, 0.999].map((r) => nextRefreshAfterSuccess({ now, expiresAt, random: () => r })!.getTime());
    expect(times[1]).toBe(minutes(360).getTime());
    expect(times[0]).toBeGreaterThanOrEqual(minutes(360 - 72).getTime());
    expect(times[2]).toBeLessThanOrEqual(minutes(360 + 72).getTime());
    expect(new Set(times).size).toBe(3);
  });

  it('after success: the next cron time when it comes first', () => {
    expect(nextRefreshAfterSuccess({ now, expiresAt: minutes(720), schedule: '30 12 * * *', random: () => 0.5 })).toEqual(minutes(30));
  });

  it('after success: nothing for a static credential without a schedule', () => {
    expect(nextRefreshAfterSuccess({ now, random: () => 0.5 })).toBeUndefined();
  });

  it('after failure: capped exponential backoff, so many attempts fit before a 12 h credential expires', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((a) => nextRetryAfterFailure({ now, attempts: a, random: () => 1 }).getTime() - now.getTime());
    expect(delays.slice(0, 4)).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect(Math.max(...delays)).toBe(300_000);
    let elapsed = 0;
    let attempts = 0;
    while (elapsed < 6 * 3600_000) elapsed += nextRetryAfterFailure({ now, attempts: ++attempts, random: () => 1 }).getTime() - now.getTime();
    expect(attempts).toBeGreaterThan(50);
  });
});

describe('isStillValid', () => {
  it.each([
    { case: 'nothing published', published: undefined, valid: false },
    { case: 'static, never expires', published: {}, valid: true },
    { case: 'not yet expired', published: { expiresAt: minutes(1) }, valid: true },
    { case: 'expired', published: { expiresAt: minutes(-1) }, valid: false },
  ])('$case', ({ published, valid }) => {
    expect(isStillValid(published, now)).toBe(valid);
  });
});
