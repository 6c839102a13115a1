import { describe, expect, it } from '@jest/globals';
import type { LabelSelector, NamespaceSelection } from '../../src/api/types.js';
import { labelSelectorProblem, matchesLabelSelector, targetNamespaces, type NamespaceView } from '../../src/desired/namespaces.js';

describe('matchesLabelSelector', () => {
  const labels = { env: 'prod', tier: 'web', 'pull-secrets': 'ecr' };
  it.each<{ name: string; selector: LabelSelector; want: boolean; on?: Record<string, string> }>([
    { name: 'empty selector matches everything', selector: {}, want: true },
    { name: 'empty selector matches no labels', selector: {}, want: true, on: {} },
    { name: 'empty lists match everything', selector: { matchLabels: {}, matchExpressions: [] }, want: true },
    { name: 'matchLabels equal', selector: { matchLabels: { env: 'prod' } }, want: true },
    { name: 'matchLabels all must match', selector: { matchLabels: { env: 'prod', tier: 'db' } }, want: false },
    { name: 'matchLabels key absent', selector: { matchLabels: { team: 'a' } }, want: false },
    { name: 'matchLabels empty value does not match an absent key', selector: { matchLabels: { team: '' } }, want: false },
    { name: 'matchLabels empty value matches an empty label', selector: { matchLabels: { team: '' } }, want: true, on: { team: '' } },
    { name: 'In matches', selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev', 'prod'] }] }, want: true },
    { name: 'In other value', selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] }, want: false },
    { name: 'In key absent', selector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] }, want: false },
    { name: 'NotIn other value', selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, want: true },
    { name: 'NotIn listed value', selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, want: false },
    { name: 'NotIn key absent matches', selector: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] }, want: true },
    { name: 'Exists present', selector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, want: true },
    { name: 'Exists absent', selector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, want: false },
    { name: 'Exists with an empty values list', selector: { matchExpressions: [{ key: 'tier', operator: 'Exists', values: [] }] }, want: true },
    { name: 'DoesNotExist absent', selector: { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, want: true },
    { name: 'DoesNotExist present', selector: { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, want: false },
    {
      name: 'labels and expressions are ANDed',
      selector: { matchLabels: { 'pull-secrets': 'ecr' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }, { key: 'tier', operator: 'NotIn', values: ['web'] }] },
      want: false,
    },
    { name: 'In without values matches nothing', selector: { matchExpressions: [{ key: 'env', operator: 'In', values: [] }] }, want: false },
    { name: 'NotIn without values matches nothing', selector: { matchExpressions: [{ key: 'team', operator: 'NotIn' }] }, want: false },
    { name: 'Exists with values matches nothing', selector: { matchExpressions: [{ key: 'env', operator: 'Exists', values: ['prod'] }] }, want: false },
    { name: 'an unknown operator matches nothing', selector: { matchExpressions: [{ key: 'env', operator: 'Gt' as 'In', values: ['1'] }] }, want: false },
    { name: 'inherited object keys are not labels', selector: { matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, want: false },
  ])('$name', ({ selector, want, on }) => {
    expect(matchesLabelSelector(on ?? labels, selector)).toBe(want);
  });
});

describe('labelSelectorProblem', () => {
  it.each<{ selector: LabelSelector; want: RegExp | undefined }>([
    { selector: {}, want: undefined },
    { selector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['x'] }, { key: 'b', operator: 'Exists' }] }, want: undefined },
    { selector: { matchExpressions: [{ key: 'a', operator: 'Exists' }, { key: 'env', operator: 'In', values: [] }] }, want: /^matchExpressions\[1\] \(key "env"\) uses In without values/ },
    { selector: { matchExpressions: [{ key: 'env', operator: 'DoesNotExist', values: ['x'] }] }, want: /uses DoesNotExist with values: remove the values/ },
    { selector: { matchExpressions: [{ key: 'env', operator: 'in' as 'In', values: ['x'] }] }, want: /unknown operator "in": use In, NotIn, Exists or DoesNotExist/ },
  ])('$selector.matchExpressions → $want', ({ selector, want }) => {
    const problem = labelSelectorProblem(selector);
    if (want === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(want);
  });
});

describe('targetNamespaces', () => {
  const ns = (name: string, labels: Record<string, string> = {}, terminating = false): NamespaceView => ({ name, labels, terminating });
  const cluster: NamespaceView[] = [
    ns('team-b', { env: 'prod' }),
    ns('team-a', { env: 'prod', 'pull-secrets': 'ecr' }),
    ns('sandbox', { env: 'dev', 'pull-secrets': 'ecr' }),
    ns('leaving', { env: 'prod' }, true),
    ns('default'),
    ns('kube-system', { env: 'prod' }),
    ns('kube-public'),
    ns('kube-node-lease'),
  ];

  it.each<{ name: string; selection: NamespaceSelection | undefined; targets: string[]; missing?: string[] }>([
    { name: 'no selection: every namespace but system and terminating ones', selection: undefined, targets: ['default', 'sandbox', 'team-a', 'team-b'] },
    { name: 'empty selection: the same', selection: {}, targets: ['default', 'sandbox', 'team-a', 'team-b'] },
    { name: 'exclude only', selection: { exclude: ['sandbox', 'nope'] }, targets: ['default', 'team-a', 'team-b'] },
    { name: 'names only', selection: { names: ['team-b', 'team-a'] }, targets: ['team-a', 'team-b'] },
    { name: 'empty names: nothing', selection: { names: [] }, targets: [] },
    { name: 'names that do not exist are missing', selection: { names: ['team-a', 'ghost', 'abyss'] }, targets: ['team-a'], missing: ['abyss', 'ghost'] },
    { name: 'excluded missing names are not reported', selection: { names: ['ghost'], exclude: ['ghost'] }, targets: [] },
    { name: 'a terminating named namespace is neither target nor missing', selection: { names: ['leaving'] }, targets: [] },
    { name: 'system namespaces only by name', selection: { names: ['kube-system', 'kube-public'] }, targets: ['kube-public', 'kube-system'] },
    { name: 'selector never picks system namespaces', selection: { selector: { matchLabels: { env: 'prod' } } }, targets: ['team-a', 'team-b'] },
    { name: 'empty selector: every non-system namespace', selection: { selector: {} }, targets: ['default', 'sandbox', 'team-a', 'team-b'] },
    { name: 'names ∪ selector', selection: { names: ['default', 'kube-system'], selector: { matchLabels: { 'pull-secrets': 'ecr' } } }, targets: ['default', 'kube-system', 'sandbox', 'team-a'] },
    { name: 'exclude wins over names and selector', selection: { names: ['sandbox', 'kube-system'], selector: { matchLabels: { 'pull-secrets': 'ecr' } }, exclude: ['sandbox', 'kube-system'] }, targets: ['team-a'] },
    { name: 'selector with expressions', selection: { selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] } }, targets: ['default', 'team-a', 'team-b'] },
    { name: 'an invalid selector adds nothing', selection: { names: ['default'], selector: { matchExpressions: [{ key: 'env', operator: 'In', values: [] }] } }, targets: ['default'] },
    { name: 'duplicate names count once', selection: { names: ['team-a', 'team-a', 'ghost', 'ghost'] }, targets: ['team-a'], missing: ['ghost'] },
  ])('$name', ({ selection, targets, missing }) => {
    expect(targetNamespaces(selection, cluster)).toEqual({ targets, missing: missing ?? [] });
  });

  it('has no targets in an empty cluster, and reports every name missing', () => {
    expect(targetNamespaces({ names: ['b', 'a'] }, [])).toEqual({ targets: [], missing: ['a', 'b'] });
    expect(targetNamespaces(undefined, [])).toEqual({ targets: [], missing: [] });
  });
});
