import { describe, expect, it } from '@jest/globals';
import {
  addPullSecret,
  addedPullSecrets,
  applyPullSecretChange,
  removePullSecret,
  selectServiceAccounts,
  serviceAccountPatch,
  type PullSecretRef,
  type ServiceAccountView,
} from '../../src/desired/service-accounts.js';

const ANNOTATION = 'regcred.io/added-image-pull-secrets';

function sa(imagePullSecrets: PullSecretRef[] | undefined, added?: string, extra: Record<string, string> = {}): ServiceAccountView {
  const annotations = { ...extra, ...(added === undefined ? {} : { [ANNOTATION]: added }) };
  return { namespace: 'team-a', name: 'default', resourceVersion: '7', imagePullSecrets, annotations };
}
const refs = (...names: string[]): PullSecretRef[] => names.map((name) => ({ name }));

describe('selectServiceAccounts', () => {
  const accounts = ['builder', 'default', 'app'].map((name) => ({ namespace: 'team-a', name }));
  it.each([
    { names: undefined, want: ['default'] },
    { names: ['default'], want: ['default'] },
    { names: ['*'], want: ['app', 'builder', 'default'] },
    { names: ['app', '*'], want: ['app', 'builder', 'default'] },
    { names: [], want: [] },
    { names: ['app', 'ghost', 'builder'], want: ['app', 'builder'] },
  ])('$names → $want', ({ names, want }) => {
    expect(selectServiceAccounts(names, accounts).map((account) => account.name)).toEqual(want);
  });

  it('selects nothing while the default ServiceAccount does not exist yet', () => {
    expect(selectServiceAccounts(undefined, [])).toEqual([]);
  });
});

describe('addedPullSecrets', () => {
  it.each([
    { value: undefined, want: [] },
    { value: '', want: [] },
    { value: '["b","a","a"]', want: ['a', 'b'] },
    { value: '[]', want: [] },
    { value: 'b, a ,,c', want: ['a', 'b', 'c'] },
    { value: '["a", 3, null, ""]', want: ['a'] },
    { value: '[not json', want: [] },
    { value: '{"a":1}', want: [] },
  ])('$value → $want', ({ value, want }) => {
    expect(addedPullSecrets(sa([], value))).toEqual(want);
  });
});

describe('addPullSecret', () => {
  it.each([
    {
      name: 'no list yet',
      account: sa(undefined),
      want: { imagePullSecrets: refs('regcred'), addedAnnotation: '["regcred"]' },
    },
    {
      name: 'appends at the end, keeping others and their order, duplicates included',
      account: sa([{ name: 'z' }, { name: 'a' }, { name: 'z' }, {}]),
      want: { imagePullSecrets: [{ name: 'z' }, { name: 'a' }, { name: 'z' }, {}, { name: 'regcred' }], addedAnnotation: '["regcred"]' },
    },
    {
      name: 'adds to an existing record, sorted',
      account: sa(refs('other'), '["zeta","other"]'),
      want: { imagePullSecrets: refs('other', 'regcred'), addedAnnotation: '["other","regcred","zeta"]' },
    },
    {
      name: 'restores our entry that someone removed',
      account: sa(refs('x'), '["regcred"]'),
      want: { imagePullSecrets: refs('x', 'regcred'), addedAnnotation: '["regcred"]' },
    },
    {
      name: 'rewrites a comma-separated record as JSON',
      account: sa([], 'b,a'),
      want: { imagePullSecrets: refs('regcred'), addedAnnotation: '["a","b","regcred"]' },
    },
    { name: 'already ours: no change', account: sa(refs('a', 'regcred'), '["regcred"]'), want: null },
    { name: 'put there by someone else: no change and not recorded', account: sa(refs('regcred', 'a')), want: null },
    { name: 'ours with a duplicate someone added: no change', account: sa(refs('regcred', 'regcred'), '["regcred"]'), want: null },
  ])('$name', ({ account, want }) => {
    expect(addPullSecret(account, 'regcred')).toEqual(want);
  });
});

describe('removePullSecret', () => {
  it.each([
    {
      name: 'drops our entry and our record, keeping the rest in order',
      account: sa(refs('a', 'regcred', 'b'), '["regcred"]'),
      want: { imagePullSecrets: refs('a', 'b'), addedAnnotation: null },
    },
    {
      name: 'keeps the record of other names',
      account: sa(refs('regcred', 'mine-too'), '["mine-too","regcred"]'),
      want: { imagePullSecrets: refs('mine-too'), addedAnnotation: '["mine-too"]' },
    },
    {
      name: 'drops only one entry when someone added the same name again',
      account: sa(refs('regcred', 'a', 'regcred'), '["regcred"]'),
      want: { imagePullSecrets: refs('regcred', 'a'), addedAnnotation: null },
    },
    {
      name: 'drops the record even when the entry is already gone',
      account: sa(refs('a'), '["regcred"]'),
      want: { imagePullSecrets: refs('a'), addedAnnotation: null },
    },
    {
      name: 'leaves other duplicates alone',
      account: sa(refs('x', 'x', 'regcred'), 'regcred'),
      want: { imagePullSecrets: refs('x', 'x'), addedAnnotation: null },
    },
    { name: 'not recorded as ours: never removed', account: sa(refs('regcred'), '["other"]'), want: null },
    { name: 'no record at all: never removed', account: sa(refs('regcred')), want: null },
    { name: 'an unreadable record: never removed', account: sa(refs('regcred'), '["regcred"'), want: null },
    { name: 'nothing to do', account: sa(undefined), want: null },
  ])('$name', ({ account, want }) => {
    expect(removePullSecret(account, 'regcred')).toEqual(want);
  });
});

describe('add then remove', () => {
  it('returns the ServiceAccount to what it was, other annotations untouched', () => {
    const before = sa(refs('a', 'a', 'b'), undefined, { 'x.example/keep': 'yes' });
    const added = applyPullSecretChange(before, addPullSecret(before, 'regcred')!);
    expect(added.imagePullSecrets).toEqual(refs('a', 'a', 'b', 'regcred'));
    expect(addPullSecret(added, 'regcred')).toBeNull();
    const removed = applyPullSecretChange(added, removePullSecret(added, 'regcred')!);
    expect(removed).toEqual(before);
    expect(removePullSecret(removed, 'regcred')).toBeNull();
  });

  it('never removes an entry that was there before it was added', () => {
    const before = sa(refs('regcred'));
    expect(addPullSecret(before, 'regcred')).toBeNull();
    expect(removePullSecret(before, 'regcred')).toBeNull();
  });
});

describe('serviceAccountPatch', () => {
  it('carries the resourceVersion, the whole list and the record', () => {
    const account = sa(refs('a'));
    expect(serviceAccountPatch(account, addPullSecret(account, 'regcred')!)).toEqual({
      metadata: { resourceVersion: '7', annotations: { [ANNOTATION]: '["regcred"]' } },
      imagePullSecrets: refs('a', 'regcred'),
    });
  });

  it('removes the annotation with null when the record becomes empty', () => {
    const account = sa(refs('regcred'), '["regcred"]');
    expect(serviceAccountPatch(account, removePullSecret(account, 'regcred')!)).toEqual({
      metadata: { resourceVersion: '7', annotations: { [ANNOTATION]: null } },
      imagePullSecrets: [],
    });
  });

  it('refuses to build an unguarded patch', () => {
    const account = { ...sa([]), resourceVersion: undefined };
    expect(() => serviceAccountPatch(account, { imagePullSecrets: [], addedAnnotation: null })).toThrow(/no resourceVersion/);
  });
});
