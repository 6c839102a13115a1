import { describe, expect, it } from '@jest/globals';
import type { LabelSelector, NamespaceSelection } from '../../src/api/types.js';
import {
  labelKeyProblem,
  labelSelectorProblem,
  labelValueProblem,
  matchesLabelSelector,
  targetNamespaces,
  type NamespaceView,
} from '../../src/desired/namespaces.js';

const keyAdvice =
  `use a name of at most 63 letters, digits, '-', '_' and '.' that starts and ends with a letter or digit, ` +
  `optionally after a DNS subdomain prefix of at most 253 characters and '/', e.g. "tier" or "example.com/tier"`;
const valueAdvice = `use an empty value or at most 63 letters, digits, '-', '_' and '.' that starts and ends with a letter or digit, e.g. "prod"`;

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
    // The API server would refuse these selectors: they match nothing instead of (for NotIn and DoesNotExist) everything.
    { name: 'DoesNotExist on an invalid key matches nothing', selector: { matchExpressions: [{ key: 'bad key!', operator: 'DoesNotExist' }] }, want: false },
    { name: 'NotIn with an invalid value matches nothing', selector: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a b'] }] }, want: false },
    { name: 'a prefixed key matches', selector: { matchExpressions: [{ key: 'example.com/tier', operator: 'In', values: ['web'] }] }, want: true, on: { 'example.com/tier': 'web' } },
    { name: 'an empty In value matches an empty label', selector: { matchExpressions: [{ key: 'team', operator: 'In', values: [''] }] }, want: true, on: { team: '' } },
  ])('$name', ({ selector, want, on }) => {
    expect(matchesLabelSelector(on ?? labels, selector)).toBe(want);
  });
});

describe('labelSelectorProblem', () => {
  const name63 = `a${'b'.repeat(61)}c`;
  it.each<{ name: string; selector: LabelSelector; want: string | undefined }>([
    { name: 'empty selector', selector: {}, want: undefined },
    { name: 'plain requirements', selector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['x'] }, { key: 'b', operator: 'Exists' }] }, want: undefined },
    {
      name: 'prefixed keys, an empty value, 63-character names and values',
      selector: {
        matchLabels: { 'example.com/tier': '', 'app.kubernetes.io/name': 'web_1.x', [name63]: name63, [`${'p'.repeat(253)}/${name63}`]: 'A' },
        matchExpressions: [
          { key: 'example.com/tier', operator: 'NotIn', values: ['', 'Front.End_2', name63] },
          { key: `kubernetes.io/${name63}`, operator: 'DoesNotExist' },
        ],
      },
      want: undefined,
    },
    {
      name: 'In without values',
      selector: { matchExpressions: [{ key: 'a', operator: 'Exists' }, { key: 'env', operator: 'In', values: [] }] },
      want: 'matchExpressions[1] (key "env") uses In without values: list at least one value',
    },
    { name: 'NotIn with values absent', selector: { matchExpressions: [{ key: 'env', operator: 'NotIn' }] }, want: 'matchExpressions[0] (key "env") uses NotIn without values: list at least one value' },
    {
      name: 'DoesNotExist with values',
      selector: { matchExpressions: [{ key: 'env', operator: 'DoesNotExist', values: ['x'] }] },
      want: 'matchExpressions[0] (key "env") uses DoesNotExist with values: remove the values',
    },
    {
      name: 'an unknown operator',
      selector: { matchExpressions: [{ key: 'env', operator: 'in' as 'In', values: ['x'] }] },
      want: 'matchExpressions[0] (key "env") has unknown operator "in": use In, NotIn, Exists or DoesNotExist',
    },
    {
      name: 'a matchLabels key with a space and "!"',
      selector: { matchLabels: { env: 'prod', 'bad key!': 'x' } },
      want: `matchLabels["bad key!"]: the key is not a valid label key: it contains characters other than letters, digits, '-', '_' and '.'; ${keyAdvice}`,
    },
    {
      name: 'a matchLabels value with a space',
      selector: { matchLabels: { env: 'bad value' } },
      want: `matchLabels["env"]: the value "bad value" is not a valid label value: it contains characters other than letters, digits, '-', '_' and '.'; ${valueAdvice}`,
    },
    {
      name: 'a matchLabels value of 64 characters',
      selector: { matchLabels: { env: `${name63}d` } },
      want: `matchLabels["env"]: the value "${name63}d" is not a valid label value: it is 64 characters, more than 63; ${valueAdvice}`,
    },
    {
      name: 'a matchExpressions key ending in "-"',
      selector: { matchExpressions: [{ key: 'env', operator: 'Exists' }, { key: 'tier-', operator: 'Exists' }] },
      want: `matchExpressions[1].key "tier-" is not a valid label key: it does not start and end with a letter or digit; ${keyAdvice}`,
    },
    {
      name: 'a matchExpressions value with "/"',
      selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'a/b'] }] },
      want: `matchExpressions[0].values[1] "a/b" is not a valid label value: it contains characters other than letters, digits, '-', '_' and '.'; ${valueAdvice}`,
    },
    {
      name: 'the key is checked before the operator',
      selector: { matchExpressions: [{ key: '', operator: 'In', values: [] }] },
      want: `matchExpressions[0].key "" is not a valid label key: it is empty; ${keyAdvice}`,
    },
    {
      name: 'matchLabels are checked before matchExpressions',
      selector: { matchLabels: { '-x': 'y' }, matchExpressions: [{ key: 'env', operator: 'In', values: [] }] },
      want: `matchLabels["-x"]: the key is not a valid label key: it does not start and end with a letter or digit; ${keyAdvice}`,
    },
  ])('$name', ({ selector, want }) => {
    expect(labelSelectorProblem(selector)).toBe(want);
  });
});

describe('labelKeyProblem', () => {
  const name63 = 'n'.repeat(63);
  it.each<{ key: unknown; want: string | undefined }>([
    { key: 'tier', want: undefined },
    { key: 'example.com/tier', want: undefined },
    { key: 'kubernetes.io/metadata.name', want: undefined },
    { key: 'Tier_2.x', want: undefined },
    { key: 'a', want: undefined },
    { key: name63, want: undefined },
    { key: `${'p'.repeat(253)}/${name63}`, want: undefined },
    { key: '', want: 'it is empty' },
    { key: 'bad key!', want: `it contains characters other than letters, digits, '-', '_' and '.'` },
    { key: `${name63}n`, want: 'it is 64 characters, more than 63' },
    { key: '_tier', want: 'it does not start and end with a letter or digit' },
    { key: 'tier.', want: 'it does not start and end with a letter or digit' },
    { key: 'a/b/c', want: `it has 2 '/' characters, at most one is allowed` },
    { key: '/tier', want: `the prefix before '/' is empty` },
    { key: 'example.com/', want: `the name after '/' is empty` },
    { key: `${'p'.repeat(254)}/tier`, want: `the prefix before '/' is 254 characters, more than 253` },
    { key: 'Example.com/tier', want: `the prefix "Example.com" is not a DNS subdomain (lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit)` },
    { key: 'example_com/tier', want: `the prefix "example_com" is not a DNS subdomain (lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit)` },
    { key: `example.com/${name63}n`, want: `the name "${name63}n" after '/' is 64 characters, more than 63` },
    { key: 'example.com/bad key', want: `the name "bad key" after '/' contains characters other than letters, digits, '-', '_' and '.'` },
    { key: 7, want: 'it is not a string' },
  ])('$key → $want', ({ key, want }) => {
    expect(labelKeyProblem(key)).toBe(want);
  });
});

describe('labelValueProblem', () => {
  it.each<{ value: unknown; want: string | undefined }>([
    { value: '', want: undefined },
    { value: 'prod', want: undefined },
    { value: 'Prod_1.x-y', want: undefined },
    { value: 'v'.repeat(63), want: undefined },
    { value: 'v'.repeat(64), want: 'it is 64 characters, more than 63' },
    { value: 'bad value!', want: `it contains characters other than letters, digits, '-', '_' and '.'` },
    { value: 'example.com/x', want: `it contains characters other than letters, digits, '-', '_' and '.'` },
    { value: '-prod', want: 'it does not start and end with a letter or digit' },
    { value: 'prod.', want: 'it does not start and end with a letter or digit' },
    { value: null, want: 'it is not a string' },
  ])('$value → $want', ({ value, want }) => {
    expect(labelValueProblem(value)).toBe(want);
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
