import { describe, expect, it } from '@jest/globals';
import { closeWithin } from '../../src/close.js';

/** Closing at shutdown: graceful when that ends in time, destroyed when it does not (src/close.ts). */
describe('closeWithin', () => {
  it('a close that ends in time is not destroyed', async () => {
    const calls: string[] = [];
    await closeWithin({ close: () => (calls.push('close'), Promise.resolve()), destroy: () => (calls.push('destroy'), Promise.resolve()) }, 1_000);
    expect(calls).toEqual(['close']);
  });

  it('a close held open by a request that never ends is destroyed after the grace, and resolves', async () => {
    const calls: string[] = [];
    await closeWithin({ close: () => (calls.push('close'), new Promise<void>(() => undefined)), destroy: () => (calls.push('destroy'), Promise.resolve()) }, 50);
    expect(calls).toEqual(['close', 'destroy']);
  });
});
