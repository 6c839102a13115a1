import { describe, expect, it } from '@jest/globals';
import { retryCounts } from '../../src/reconcile/reconciler.js';
import { agree, plural } from '../../src/status/plural.js';

describe('plural', () => {
  it.each([
    { n: 0, want: '0 namespaces' },
    { n: 1, want: '1 namespace' },
    { n: 2, want: '2 namespaces' },
    { n: 1000, want: '1000 namespaces' },
  ])('$n → $want', ({ n, want }) => {
    expect(plural(n, 'namespace')).toBe(want);
  });

  it('takes an irregular plural', () => {
    expect(plural(1, 'entry', 'entries')).toBe('1 entry');
    expect(plural(3, 'entry', 'entries')).toBe('3 entries');
  });

  it('agrees a verb with the count', () => {
    expect(agree(1, 'has', 'have')).toBe('has');
    expect(agree(0, 'has', 'have')).toBe('have');
    expect(agree(4, 'has', 'have')).toBe('have');
  });
});

describe('retryCounts: what a fan-out left to retry', () => {
  it.each([
    { namespaces: 1, serviceAccounts: 0, want: '1 namespace needs' },
    { namespaces: 3, serviceAccounts: 0, want: '3 namespaces need' },
    { namespaces: 0, serviceAccounts: 1, want: '1 ServiceAccount needs' },
    { namespaces: 0, serviceAccounts: 2, want: '2 ServiceAccounts need' },
    { namespaces: 1, serviceAccounts: 1, want: '1 namespace and 1 ServiceAccount need' },
    { namespaces: 2, serviceAccounts: 5, want: '2 namespaces and 5 ServiceAccounts need' },
    { namespaces: 0, serviceAccounts: 0, want: 'nothing needs' },
  ])('$namespaces namespaces, $serviceAccounts ServiceAccounts → "$want"', ({ namespaces, serviceAccounts, want }) => {
    expect(retryCounts(namespaces, serviceAccounts)).toBe(want);
  });
});
