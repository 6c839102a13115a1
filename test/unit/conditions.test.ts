import { describe, expect, it } from '@jest/globals';
import type { Condition } from '../../src/api/types.js';
import { conditionsEqual, getCondition, isConditionTrue, setCondition, statusEqual } from '../../src/status/conditions.js';

const T0 = '2026-11-22T01:00:00Z';
const NOW = new Date('2026-11-22T02:30:00.456Z');
const ready: Condition = { type: 'Ready', status: 'True', reason: 'Synced', message: 'all good', observedGeneration: 1, lastTransitionTime: T0 };
const token: Condition = { type: 'TokenAvailable', status: 'True', reason: 'Minted', message: 'ok', observedGeneration: 1, lastTransitionTime: T0 };

describe('setCondition', () => {
  it.each([
    {
      name: 'appends a new condition with the transition time now, in whole seconds',
      before: [token],
      input: { type: 'Ready', status: 'False' as const, reason: 'InvalidSchedule', message: 'fix it', observedGeneration: 2 },
      want: [token, { type: 'Ready', status: 'False', reason: 'InvalidSchedule', message: 'fix it', observedGeneration: 2, lastTransitionTime: '2026-11-22T02:30:00Z' }],
    },
    {
      name: 'starts a list when there is none',
      before: undefined,
      input: { type: 'Ready', status: 'Unknown' as const, reason: 'Pending', message: '' },
      want: [{ type: 'Ready', status: 'Unknown', reason: 'Pending', message: '', lastTransitionTime: '2026-11-22T02:30:00Z' }],
    },
    {
      name: 'keeps the transition time when the status stays, updating the other fields in place',
      before: [ready, token],
      input: { type: 'Ready', status: 'True' as const, reason: 'Refreshed', message: 'new message', observedGeneration: 3 },
      want: [{ ...ready, reason: 'Refreshed', message: 'new message', observedGeneration: 3 }, token],
    },
    {
      name: 'moves the transition time when the status flips',
      before: [ready, token],
      input: { type: 'Ready', status: 'False' as const, reason: 'Synced', message: 'all good', observedGeneration: 1 },
      want: [{ ...ready, status: 'False', lastTransitionTime: '2026-11-22T02:30:00Z' }, token],
    },
    {
      name: 'drops observedGeneration when not given',
      before: [ready],
      input: { type: 'Ready', status: 'True' as const, reason: 'Synced', message: 'all good' },
      want: [{ type: 'Ready', status: 'True', reason: 'Synced', message: 'all good', lastTransitionTime: T0 }],
    },
  ])('$name', ({ before, input, want }) => {
    const snapshot = structuredClone(before);
    expect(setCondition(before, input, NOW)).toEqual(want);
    expect(before).toEqual(snapshot);
  });

  it('is a no-op in value when nothing changed', () => {
    const again = setCondition([ready], { type: 'Ready', status: 'True', reason: 'Synced', message: 'all good', observedGeneration: 1 }, NOW);
    expect(conditionsEqual(again, [ready])).toBe(true);
  });
});

describe('getCondition and isConditionTrue', () => {
  it.each([
    { conditions: [ready, token], type: 'TokenAvailable', want: token, isTrue: true },
    { conditions: [ready], type: 'SecretsSynced', want: undefined, isTrue: false },
    { conditions: undefined, type: 'Ready', want: undefined, isTrue: false },
    { conditions: [{ ...ready, status: 'Unknown' as const }], type: 'Ready', want: { ...ready, status: 'Unknown' }, isTrue: false },
  ])('$type', ({ conditions, type, want, isTrue }) => {
    expect(getCondition(conditions, type)).toEqual(want);
    expect(isConditionTrue(conditions, type)).toBe(isTrue);
  });
});

describe('conditionsEqual', () => {
  it.each([
    { name: 'same', a: [ready, token], b: [{ ...ready }, { ...token }], want: true },
    { name: 'both empty or absent', a: undefined, b: [], want: true },
    { name: 'different message', a: [ready], b: [{ ...ready, message: 'x' }], want: false },
    { name: 'different reason', a: [ready], b: [{ ...ready, reason: 'x' }], want: false },
    { name: 'different transition time', a: [ready], b: [{ ...ready, lastTransitionTime: '2026-11-22T01:00:01Z' }], want: false },
    { name: 'different generation', a: [ready], b: [{ ...ready, observedGeneration: 2 }], want: false },
    { name: 'generation absent on one', a: [ready], b: [{ ...ready, observedGeneration: undefined }], want: false },
    { name: 'different order', a: [ready, token], b: [token, ready], want: false },
    { name: 'one more', a: [ready], b: [ready, token], want: false },
  ])('$name → $want', ({ a, b, want }) => {
    expect(conditionsEqual(a, b)).toBe(want);
  });
});

describe('statusEqual', () => {
  const status = {
    observedGeneration: 2,
    provider: 'ecr',
    registries: ['a.io', 'b.io'],
    targetNamespaces: 3,
    failedNamespaces: [{ namespace: 'x', reason: 'SecretConflict', message: 'm' }],
    conditions: [ready],
  };
  it.each([
    { name: 'same values, fresh objects', a: status, b: structuredClone(status), want: true },
    { name: 'undefined property same as absent', a: { ...status, expiresAt: undefined }, b: status, want: true },
    { name: 'both absent', a: undefined, b: undefined, want: true },
    { name: 'absent vs empty', a: undefined, b: {}, want: false },
    { name: 'number changed', a: status, b: { ...status, targetNamespaces: 4 }, want: false },
    { name: '0 vs absent', a: { ...status, failedRefreshAttempts: 0 }, b: status, want: false },
    { name: 'array order', a: status, b: { ...status, registries: ['b.io', 'a.io'] }, want: false },
    { name: 'nested change', a: status, b: { ...status, failedNamespaces: [{ namespace: 'x', reason: 'SecretConflict', message: 'n' }] }, want: false },
    { name: 'empty array vs absent', a: { ...status, registries: [] }, b: { ...status, registries: undefined }, want: false },
    { name: 'array vs object', a: { v: [] }, b: { v: {} }, want: false },
    { name: 'string vs number', a: { v: '1' }, b: { v: 1 }, want: false },
    { name: 'equal dates', a: { d: new Date(5) }, b: { d: new Date(5) }, want: true },
    { name: 'different dates', a: { d: new Date(5) }, b: { d: new Date(6) }, want: false },
  ])('$name → $want', ({ a, b, want }) => {
    expect(statusEqual(a, b)).toBe(want);
    expect(statusEqual(b, a)).toBe(want);
  });
});
