import { describe, expect, it } from '@jest/globals';
import { toKubeTime } from '../../src/status/time.js';

describe('toKubeTime', () => {
  it.each([
    { date: new Date('2026-11-22T13:00:00Z'), want: '2026-11-22T13:00:00Z' },
    { date: new Date('2026-11-22T13:00:00.999Z'), want: '2026-11-22T13:00:00Z' },
    { date: new Date('2026-11-22T15:00:00+02:00'), want: '2026-11-22T13:00:00Z' },
    { date: new Date(0), want: '1970-01-01T00:00:00Z' },
  ])('$date → $want', ({ date, want }) => {
    expect(toKubeTime(date)).toBe(want);
  });

  it('refuses an invalid date', () => {
    expect(() => toKubeTime(new Date('nope'))).toThrow(RangeError);
  });
});
