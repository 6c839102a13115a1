import { describe, expect, it } from '@jest/globals';
import { RESTART_BASE_MS, RESTART_MAX_MS, restartDelay } from '../../src/controller/supervisor.js';

describe('restartDelay', () => {
  it.each([
    { name: 'first restart', attempt: 1, want: 1000 },
    { name: 'second restart', attempt: 2, want: 2000 },
    { name: 'third restart', attempt: 3, want: 4000 },
    { name: 'fourth restart', attempt: 4, want: 8000 },
    { name: 'fifth restart', attempt: 5, want: 16_000 },
    { name: 'sixth restart', attempt: 6, want: 32_000 },
    { name: 'seventh restart is capped', attempt: 7, want: 60_000 },
    { name: 'far later, still capped', attempt: 50, want: 60_000 },
    { name: 'beyond float range, still capped', attempt: 5000, want: 60_000 },
    { name: 'attempt 0 is treated as the first', attempt: 0, want: 1000 },
    { name: 'a negative attempt is treated as the first', attempt: -3, want: 1000 },
  ])('$name ($attempt → $want ms)', ({ attempt, want }) => {
    expect(restartDelay(attempt)).toBe(want);
  });

  it('uses the exported bounds', () => {
    expect(RESTART_BASE_MS).toBe(1000);
    expect(RESTART_MAX_MS).toBe(60_000);
    expect(restartDelay(1)).toBe(RESTART_BASE_MS);
  });

  it('never decreases and never exceeds the cap', () => {
    let previous = 0;
    for (let attempt = 1; attempt <= 100; attempt++) {
      const delay = restartDelay(attempt);
      expect(delay).toBeGreaterThanOrEqual(previous);
      expect(delay).toBeLessThanOrEqual(RESTART_MAX_MS);
      expect(Number.isFinite(delay)).toBe(true);
      previous = delay;
    }
  });
});
