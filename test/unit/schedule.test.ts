import { describe, expect, it } from '@jest/globals';
import { backoffDelay, cronProblem, nextCronTime, nextRefresh, refreshAt } from '../../src/policy/schedule.js';

const at = (iso: string) => new Date(iso);
const MIN = 60_000;
const HOUR = 60 * MIN;

describe('cronProblem', () => {
  it.each([
    '0 */6 * * *',
    '*/15 * * * *',
    '0 0 * * MON-FRI',
    '30 2 1,15 JAN-JUN *',
    '0 0 * * 7',
    '  0   */6 * *   *  ',
    '@daily',
    '@HOURLY',
    '@midnight',
    '0 0 L * *',
  ])('accepts %j', (schedule) => {
    expect(cronProblem(schedule)).toBeUndefined();
  });

  it.each([
    { schedule: '61 * * * *', want: 'minute must be 0-59' },
    { schedule: '0 24 * * *', want: 'hour must be 0-23' },
    { schedule: '0 0 32 * *', want: 'day-of-month must be 1-31' },
    { schedule: '0 0 0-40 * *', want: 'day-of-month must be 1-31' },
    { schedule: '0 0 * 13 *', want: 'month must be 1-12' },
    { schedule: '0 0 * * 8', want: 'day-of-week must be 0-7' },
    { schedule: '0 0 * * *', want: undefined },
    { schedule: '0 0 * * * *', want: 'expected 5 fields (minute hour day-of-month month day-of-week) but found 6' },
    { schedule: '* * *', want: 'expected 5 fields (minute hour day-of-month month day-of-week) but found 3' },
    { schedule: '', want: 'expected 5 fields (minute hour day-of-month month day-of-week) but found 0' },
    { schedule: '@every 1h', want: 'expected 5 fields (minute hour day-of-month month day-of-week) but found 2' },
    { schedule: 'H * * * *', want: 'minute uses "H", which is not supported; give explicit values' },
    { schedule: '0 H(0-5) * * *', want: 'hour uses "H", which is not supported; give explicit values' },
    { schedule: '0 0 * * THU', want: undefined },
  ])('$schedule → $want', ({ schedule, want }) => {
    expect(cronProblem(schedule)).toBe(want);
  });

  it.each([
    { schedule: 'a * * * *', field: /^minute "a" is invalid/ },
    { schedule: '0 0 * * FOO', field: /^day-of-week "FOO" is invalid/ },
    { schedule: '*/0 * * * *', field: /^minute "\*\/0" is invalid/ },
    { schedule: '0 5-1 * * *', field: /^hour "5-1" is invalid/ },
    { schedule: '0 0 30 2 *', field: /day of month/i },
  ])('names the field of $schedule', ({ schedule, field }) => {
    expect(cronProblem(schedule)).toMatch(field);
  });
});

describe('nextCronTime', () => {
  it.each([
    { schedule: '0 */6 * * *', after: '2026-11-22T01:00:00Z', want: '2026-11-22T06:00:00.000Z' },
    { schedule: '0 */6 * * *', after: '2026-11-22T06:00:00Z', want: '2026-11-22T12:00:00.000Z' },
    { schedule: '0 */6 * * *', after: '2026-11-22T05:59:59.999Z', want: '2026-11-22T06:00:00.000Z' },
    { schedule: '0 */6 * * *', after: '2026-11-22T06:00:00.500Z', want: '2026-11-22T12:00:00.000Z' },
    { schedule: '30 2 * * *', after: '2026-11-22T03:00:00Z', want: '2026-11-23T02:30:00.000Z' },
    { schedule: '0 0 1 * 1', after: '2026-01-01T00:00:00Z', want: '2026-01-05T00:00:00.000Z' },
    { schedule: '@weekly', after: '2026-11-22T00:00:00Z', want: '2026-11-29T00:00:00.000Z' },
    { schedule: '0 0 29 2 *', after: '2026-03-01T00:00:00Z', want: '2028-02-29T00:00:00.000Z' },
  ])('$schedule after $after → $want', ({ schedule, after, want }) => {
    expect(nextCronTime(schedule, at(after)).toISOString()).toBe(want);
  });

  it('is the same for the same input', () => {
    expect(nextCronTime('17 3 * * *', at('2026-11-22T00:00:00Z'))).toEqual(nextCronTime('17 3 * * *', at('2026-11-22T00:00:00Z')));
  });

  it('throws on an invalid expression', () => {
    expect(() => nextCronTime('61 * * * *', at('2026-11-22T00:00:00Z'))).toThrow(/minute must be 0-59/);
  });
});

describe('refreshAt', () => {
  const issuedAt = at('2026-11-22T01:00:00Z');
  it.each([
    { name: 'ECR 12 h, no jitter', lifetime: 12 * HOUR, random: 0.5, want: issuedAt.getTime() + 6 * HOUR },
    { name: 'ECR 12 h, most negative jitter', lifetime: 12 * HOUR, random: 0, want: issuedAt.getTime() + 6 * HOUR - 72 * MIN },
    { name: 'ECR 12 h, most positive jitter', lifetime: 12 * HOUR, random: 1, want: issuedAt.getTime() + 6 * HOUR + 72 * MIN },
    { name: 'Google 1 h, +half jitter', lifetime: HOUR, random: 0.75, want: issuedAt.getTime() + 30 * MIN + 3 * MIN },
    { name: '10 min: capped at expiry − 5 min', lifetime: 10 * MIN, random: 1, want: issuedAt.getTime() + 5 * MIN },
    { name: '10 min, early jitter: not capped', lifetime: 10 * MIN, random: 0, want: issuedAt.getTime() + 4 * MIN },
    { name: '4 min: no room for the margin, half-life', lifetime: 4 * MIN, random: 0.5, want: issuedAt.getTime() + 2 * MIN },
    { name: 'already expired: now', lifetime: -MIN, random: 0.5, want: issuedAt.getTime() },
    { name: 'out-of-range random is clamped', lifetime: 12 * HOUR, random: 7, want: issuedAt.getTime() + 6 * HOUR + 72 * MIN },
  ])('$name', ({ lifetime, random, want }) => {
    const expiresAt = new Date(issuedAt.getTime() + lifetime);
    expect(refreshAt({ issuedAt, expiresAt, random: () => random }).getTime()).toBe(want);
  });

  it('always lands between 40% and 60% of the lifetime and before expiry', () => {
    const expiresAt = new Date(issuedAt.getTime() + 12 * HOUR);
    for (let i = 0; i <= 100; i++) {
      const t = refreshAt({ issuedAt, expiresAt, random: () => i / 100 }).getTime() - issuedAt.getTime();
      expect(t).toBeGreaterThanOrEqual((4 * 12 * HOUR) / 10);
      expect(t).toBeLessThanOrEqual((6 * 12 * HOUR) / 10);
    }
  });
});

describe('backoffDelay', () => {
  const options = { baseDelayMs: 5_000, maxDelayMs: 5 * MIN, jitter: { kind: 'equal' } } as const;
  it.each([
    { attempt: 1, random: 1, want: 5_000 },
    { attempt: 1, random: 0, want: 2_500 },
    { attempt: 2, random: 1, want: 10_000 },
    { attempt: 3, random: 0.5, want: 15_000 },
    { attempt: 6, random: 1, want: 160_000 },
    { attempt: 7, random: 1, want: 5 * MIN },
    { attempt: 7, random: 0, want: 2.5 * MIN },
    { attempt: 1000, random: 1, want: 5 * MIN },
    { attempt: 0, random: 1, want: 5_000 },
    { attempt: -3, random: 1, want: 5_000 },
  ])('attempt $attempt, random $random → $want ms', ({ attempt, random, want }) => {
    expect(backoffDelay(attempt, options, () => random)).toBe(want);
  });

  it('defaults to 5 s base and a 5 min cap', () => {
    expect(backoffDelay(1, undefined, () => 1)).toBe(5_000);
    expect(backoffDelay(50, undefined, () => 1)).toBe(5 * MIN);
  });

  it('leaves room for several retries before a Google token expires', () => {
    let elapsed = 0;
    let attempts = 0;
    while (elapsed + backoffDelay(attempts + 1, options, () => 1) < 30 * MIN) elapsed += backoffDelay(++attempts, options, () => 1);
    expect(attempts).toBeGreaterThanOrEqual(5);
  });
});

describe('nextRefresh', () => {
  const a = at('2026-11-22T07:00:00Z');
  const b = at('2026-11-22T06:00:00Z');
  it.each([
    { name: 'cron earlier', input: { refreshAt: a, cronNext: b }, want: b },
    { name: 'refreshAt earlier', input: { refreshAt: b, cronNext: a }, want: b },
    { name: 'only refreshAt', input: { refreshAt: a }, want: a },
    { name: 'only cron', input: { cronNext: a, refreshAt: undefined }, want: a },
    { name: 'neither (static, no schedule)', input: {}, want: undefined },
  ])('$name', ({ input, want }) => {
    expect(nextRefresh(input)).toEqual(want);
  });
});
