import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import {
  CRD_NAME,
  GROUP,
  KIND,
  MAX_FAILED_NAMESPACES_IN_STATUS,
  PLURAL,
  SHORT_NAME,
  SINGULAR,
  VERSION,
} from '../../src/api/constants.js';
import type {
  Condition,
  ConditionStatus,
  DeletionPolicy,
  EcrSource,
  FailedNamespace,
  GcrSource,
  KeyedSecretRef,
  LabelSelector,
  LabelSelectorRequirement,
  NamespaceSelection,
  ProviderName,
  RateLimitStatus,
  RefreshSpec,
  RegistryCredentialSpec,
  RegistryCredentialStatus,
  SecretRef,
  SelectorOperator,
  ServiceAccountSelection,
  StaticSource,
  VerifySpec,
} from '../../src/api/types.js';
import { validateSpec } from '../../src/api/validate.js';
import { labelKeyProblem, labelValueProblem } from '../../src/desired/namespaces.js';

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  enum?: string[];
  pattern?: string;
  default?: unknown;
  minItems?: number;
  maxItems?: number;
  maxLength?: number;
  maxProperties?: number;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message?: string; messageExpression?: string; optionalOldSelf?: boolean }[];
}

interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; listKind?: string; plural: string; singular: string; shortNames?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

const CRD_PATH = fileURLToPath(new URL(`../../crds/${CRD_NAME}.yaml`, import.meta.url));
const crd = load(readFileSync(CRD_PATH, 'utf8')) as Crd;
const version = crd.spec.versions.find((v) => v.name === VERSION);
const root = version?.schema.openAPIV3Schema as Schema;

/** The schema at a dotted path; `[]` steps into an array's items. */
function schemaAt(path: string): Schema {
  let node = root;
  for (const step of path.split('.')) {
    const isArray = step.endsWith('[]');
    const next = node.properties?.[isArray ? step.slice(0, -2) : step];
    if (!next) throw new Error(`the CRD schema has no ${path} (missing at ${step})`);
    node = isArray ? (next.items as Schema) : next;
    if (!node) throw new Error(`the CRD schema has no items at ${path}`);
  }
  return node;
}

/**
 * Every property of T, marked required or optional. The type checker (npm run typecheck) rejects a
 * table below that misses a property of the type, names one the type lacks, or gets one's
 * optionality wrong; the test then holds the CRD schema to the same table.
 */
type Fields<T> = { [K in keyof T]-?: object extends Pick<T, K> ? 'optional' : 'required' };

const secretRef: Fields<SecretRef> = { name: 'required' };
const keyedSecretRef: Fields<KeyedSecretRef> = { name: 'required', key: 'optional' };

const objects: [path: string, fields: Record<string, 'required' | 'optional'>][] = [
  [
    'spec',
    {
      ecr: 'optional',
      gcr: 'optional',
      static: 'optional',
      secretName: 'optional',
      namespaces: 'optional',
      serviceAccounts: 'optional',
      refresh: 'optional',
      deletionPolicy: 'optional',
      adoptExisting: 'optional',
      verify: 'optional',
    } satisfies Fields<RegistryCredentialSpec>,
  ],
  ['spec.verify', { enabled: 'optional', images: 'optional', intervalMinutes: 'optional' } satisfies Fields<VerifySpec>],
  [
    'spec.ecr',
    { region: 'required', registryIds: 'optional', roleArn: 'optional', credentialsSecretRef: 'optional' } satisfies Fields<EcrSource>,
  ],
  ['spec.ecr.credentialsSecretRef', secretRef],
  ['spec.gcr', { registries: 'required', credentialsSecretRef: 'optional' } satisfies Fields<GcrSource>],
  ['spec.gcr.credentialsSecretRef', keyedSecretRef],
  ['spec.static', { registry: 'optional', credentialsSecretRef: 'required' } satisfies Fields<StaticSource>],
  ['spec.static.credentialsSecretRef', secretRef],
  ['spec.namespaces', { names: 'optional', selector: 'optional', exclude: 'optional' } satisfies Fields<NamespaceSelection>],
  ['spec.namespaces.selector', { matchLabels: 'optional', matchExpressions: 'optional' } satisfies Fields<LabelSelector>],
  [
    'spec.namespaces.selector.matchExpressions[]',
    { key: 'required', operator: 'required', values: 'optional' } satisfies Fields<LabelSelectorRequirement>,
  ],
  ['spec.serviceAccounts', { names: 'optional' } satisfies Fields<ServiceAccountSelection>],
  ['spec.refresh', { schedule: 'optional' } satisfies Fields<RefreshSpec>],
  [
    'status',
    {
      observedGeneration: 'optional',
      provider: 'optional',
      registries: 'optional',
      lastRefreshTime: 'optional',
      expiresAt: 'optional',
      nextRefreshTime: 'optional',
      targetNamespaces: 'optional',
      syncedNamespaces: 'optional',
      failedNamespaces: 'optional',
      patchedServiceAccounts: 'optional',
      failedRefreshAttempts: 'optional',
      lastVerifiedTime: 'optional',
      rateLimit: 'optional',
      conditions: 'optional',
    } satisfies Fields<RegistryCredentialStatus>,
  ],
  [
    'status.rateLimit',
    { limit: 'required', remaining: 'required', windowSeconds: 'required', checkedAt: 'required' } satisfies Fields<RateLimitStatus>,
  ],
  ['status.failedNamespaces[]', { namespace: 'required', reason: 'required', message: 'required' } satisfies Fields<FailedNamespace>],
  [
    'status.conditions[]',
    {
      type: 'required',
      status: 'required',
      reason: 'required',
      message: 'required',
      observedGeneration: 'optional',
      lastTransitionTime: 'required',
    } satisfies Fields<Condition>,
  ],
];

/** Every member of a string union, checked complete by the type checker. */
function members<T extends string>(all: Record<T, true>): string[] {
  return Object.keys(all).sort();
}

const enums: [path: string, values: string[]][] = [
  ['spec.namespaces.selector.matchExpressions[].operator', members<SelectorOperator>({ In: true, NotIn: true, Exists: true, DoesNotExist: true })],
  ['spec.deletionPolicy', members<DeletionPolicy>({ Delete: true, Orphan: true })],
  ['status.provider', members<ProviderName>({ ecr: true, gcr: true, static: true })],
  ['status.conditions[].status', members<ConditionStatus>({ True: true, False: true, Unknown: true })],
];

function walk(node: unknown, visit: (key: string, value: unknown, path: string) => void, path = ''): void {
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    const here = path ? `${path}.${key}` : key;
    visit(key, value, here);
    walk(value, visit, here);
  }
}

describe(`the CRD file crds/${CRD_NAME}.yaml`, () => {
  it('defines the API identity in src/api/constants.ts', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.kind).toBe('CustomResourceDefinition');
    expect(crd.metadata.name).toBe(CRD_NAME);
    expect(crd.spec.group).toBe(GROUP);
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({ kind: KIND, plural: PLURAL, singular: SINGULAR });
    expect(crd.spec.names.shortNames).toEqual([SHORT_NAME]);
    expect(crd.spec.versions.map((v) => v.name)).toEqual([VERSION]);
    expect(version).toMatchObject({ served: true, storage: true });
  });

  it('enables the status subresource', () => {
    expect(version?.subresources?.status).toEqual({});
  });

  it('has a schema with spec (required) and status', () => {
    expect(root.type).toBe('object');
    expect(Object.keys(root.properties ?? {}).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    expect(root.required).toEqual(['spec']);
  });

  it.each(objects)('has exactly the properties of the type at %s, with the same ones required', (path, fields) => {
    const schema = schemaAt(path);
    expect(schema.type).toBe('object');
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(Object.keys(fields).sort());
    const required = Object.entries(fields).filter(([, r]) => r === 'required').map(([name]) => name);
    expect([...(schema.required ?? [])].sort()).toEqual(required.sort());
  });

  it.each(enums)('limits %s to the members of its type', (path, values) => {
    expect([...(schemaAt(path).enum ?? [])].sort()).toEqual(values);
  });

  it('never keeps unknown fields: no x-kubernetes-preserve-unknown-fields anywhere', () => {
    const found: string[] = [];
    walk(crd, (key, _value, path) => {
      if (key === 'x-kubernetes-preserve-unknown-fields') found.push(path);
    });
    expect(found).toEqual([]);
  });

  it('describes every field, so that kubectl explain is useful', () => {
    const undescribed: string[] = [];
    walk(root, (key, value, path) => {
      if (!path.endsWith(`properties.${key}`) || path === 'properties.metadata') return;
      if (!(value as Schema).description?.trim()) undescribed.push(path);
    });
    expect(undescribed).toEqual([]);
  });

  it('requires exactly one provider with CEL rules whose messages name the fields', () => {
    const rules = schemaAt('spec')['x-kubernetes-validations'] ?? [];
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule.message).toMatch(/spec\.ecr, spec\.gcr, spec\.static/);
    const text = rules.map((r) => r.rule).join('\n');
    for (const provider of ['ecr', 'gcr', 'static']) expect(text).toContain(`has(self.${provider})`);
  });

  it('validates what a schema can', () => {
    expect(schemaAt('spec.gcr.registries').minItems).toBe(1);
    expect(schemaAt('spec.deletionPolicy').default).toBe('Delete');
    expect(schemaAt('spec.adoptExisting')).toMatchObject({ type: 'boolean', default: false });
    expect(schemaAt('spec.namespaces.selector.matchLabels').maxProperties).toBe(64);
    expect(schemaAt('spec.secretName').maxLength).toBe(253);
    expect(schemaAt('status.failedNamespaces').maxItems).toBe(MAX_FAILED_NAMESPACES_IN_STATUS);
    expect(schemaAt('status.conditions')).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    });
  });

  // On create only: an object admitted before the rule must still take status writes and lose its finalizer.
  it('limits metadata.name to 63 characters, the length of a label value, with a rule at the root checked on create', () => {
    expect(root['x-kubernetes-validations']).toEqual([
      {
        rule: 'oldSelf.hasValue() || size(self.metadata.name) <= 63',
        optionalOldSelf: true,
        message:
          'metadata.name must be at most 63 characters: it becomes the value of the label regcred.io/credential on every published Secret, and a label value holds at most 63 characters',
      },
    ]);
  });

  it('checks spec strings with CEL rules that say what is wrong, not with patterns whose message is a regex', () => {
    const patterns: string[] = [];
    const unexplained: string[] = [];
    walk(schemaAt('spec'), (key, value, path) => {
      if (key === 'pattern') patterns.push(path);
      if (key === 'x-kubernetes-validations') {
        for (const rule of value as { rule: string; message?: string }[]) if (!rule.message?.trim()) unexplained.push(`${path}: ${rule.rule}`);
      }
    });
    expect(patterns).toEqual([]);
    expect(unexplained).toEqual([]);
  });

  /** The regular expression in the `matches('...')` call of the rule at `path` whose message starts with `message` (the last one, if several). */
  const ruleRegex = (path: string, message: string): RegExp => {
    const node = path.endsWith('{}') ? (schemaAt(path.slice(0, -2)).additionalProperties as Schema) : schemaAt(path);
    const rule = (node['x-kubernetes-validations'] ?? []).find((r) => r.message?.startsWith(message));
    if (!rule) throw new Error(`no rule at ${path} with a message starting ${JSON.stringify(message)}`);
    const literals = [...rule.rule.matchAll(/\.matches\('([^']*)'\)/g)].map((m) => m[1]!);
    if (literals.length === 0) throw new Error(`the rule at ${path} calls no matches(): ${rule.rule}`);
    return new RegExp(literals.at(-1)!);
  };

  it.each([
    ['spec.secretName', 'must be a Secret name', ['regcred-ecr-prod', 'a', 'pull.secret-1'], ['Bad_Name', '-a', 'a-', 'a..b', '']],
    ['spec.static.credentialsSecretRef.name', 'must be a Secret name', ['ghcr-token'], ['GHCR']],
    ['spec.namespaces.names[]', 'must be a namespace name', ['team-a', 'default', '0'], ['team.a', 'Team', 'a_b', '-a']],
    ['spec.namespaces.exclude[]', 'must be a namespace name', ['sandbox'], ['sand.box', 'Sandbox']],
    ['spec.serviceAccounts.names[]', 'must be a ServiceAccount name', ['default', 'builder.ci'], ['**', 'a*', 'Default']],
    ['spec.ecr.region', 'must be an AWS region', ['us-east-1', 'eu-central-2', 'us-gov-west-1', 'ap-southeast-3'], ['us-east', 'US-EAST-1', 'useast1']],
    ['spec.ecr.registryIds[]', 'must be a 12-digit', ['123456789012'], ['12345', '12345678901a']],
    [
      'spec.ecr.roleArn',
      'must be an IAM role ARN',
      ['arn:aws:iam::123456789012:role/ecr-puller', 'arn:aws-cn:iam::123456789012:role/path/x+y=z,a.b@c-d_e'],
      ['arn:aws:iam::123456789012:user/bob', 'arn:aws:iam::1234:role/x', 'ecr-puller', 'arn:aws:iam::123456789012:role/', 'arn:aws:sts::123456789012:role/x'],
    ],
    [
      'spec.gcr.registries[]',
      'must be host[:port][/path]:',
      ['gcr.io', '*.gcr.io', 'us-docker.pkg.dev/my-project', 'localhost:5000', 'reg.io/team/'],
      ['GCR.io', 'gcr.io project', 'reg.io:', '-reg.io', 'reg..io', 'reg.io/Team'],
    ],
    ['spec.static.registry', 'must be host[:port][/path]:', ['ghcr.io', 'registry.example.com:5000/team/', '127.0.0.1:5000'], ['GHCR.io', 'gcr .io']],
    ['spec.gcr.credentialsSecretRef.key', 'must be a Secret data key', ['key.json', 'KEY_2-x'], ['a/b', 'key json', '']],
    ['spec.namespaces.selector.matchLabels{}', 'must be a valid label value', ['', 'prod', 'Front.End_2'], ['bad value!', '-a', 'a.', 'a/b']],
    ['spec.namespaces.selector.matchExpressions[].values[]', 'must be a valid label value', ['', 'prod'], ['a b', '_a']],
    ['spec.namespaces.selector.matchExpressions[].key', 'must be a valid label key', ['tier', 'example.com/tier', 'a'], ['bad key!', '/tier', 'a/b/c', 'Example.com/tier', 'tier-']],
  ] as const)('the CEL rule of %s (%s) accepts valid values and rejects others', (path, message, good, bad) => {
    const regex = ruleRegex(path, message);
    for (const value of good) expect(value).toMatch(regex);
    for (const value of bad) expect(value).not.toMatch(regex);
  });

  it('lets "*" through as a ServiceAccount name, and registries with a scheme only for Docker Hub on static', () => {
    const rules = (path: string): string[] => (schemaAt(path)['x-kubernetes-validations'] ?? []).map((r) => r.rule);
    expect(rules('spec.serviceAccounts.names[]')[0]).toMatch(/^self == '\*' \|\| self\.matches\(/);
    for (const rule of rules('spec.static.registry').slice(0, 2)) expect(rule).toMatch(/^self == 'https:\/\/index\.docker\.io\/v1\/' \|\| /);
    for (const rule of rules('spec.gcr.registries[]')) expect(rule).not.toContain('index.docker.io');
  });

  // The schema and the operator's own checks (src/api/validate.ts, src/desired/namespaces.ts) accept the same values.
  const keyRule = (schemaAt('spec.namespaces.selector.matchLabels')['x-kubernetes-validations'] ?? [])[0]?.rule ?? '';
  const keyPattern = /k\.matches\('([^']*)'\)/.exec(keyRule)?.[1] ?? '(?!)';
  const keyRegex = new RegExp(keyPattern);
  const name63 = 'n'.repeat(63);
  const labelKeys = [
    'tier', 'example.com/tier', 'Tier_2.x', name63, `${name63}n`, `${'p'.repeat(253)}/${name63}`, `${'p'.repeat(254)}/tier`,
    'bad key!', '/tier', 'example.com/', 'a/b/c', 'Example.com/tier', '-tier', 'tier.', 'a..b/c', '',
  ];

  it('checks matchLabels keys like labelKeyProblem: the regex, a name of at most 63 and a prefix of at most 253 characters', () => {
    expect(keyRule).toContain("k.indexOf('/') <= 253");
    for (const key of labelKeys) {
      const schemaAccepts = keyRegex.test(key) && key.indexOf('/') <= 253;
      expect({ key, schemaAccepts }).toEqual({ key, schemaAccepts: labelKeyProblem(key) === undefined });
    }
  });

  it('checks matchExpressions keys with the same rule as matchLabels keys', () => {
    const [rule] = schemaAt('spec.namespaces.selector.matchExpressions[].key')['x-kubernetes-validations'] ?? [];
    expect(rule?.rule).toBe(`self.matches('${keyPattern}') && self.indexOf('/') <= 253`);
  });

  it('checks label values like labelValueProblem', () => {
    const regex = ruleRegex('spec.namespaces.selector.matchLabels{}', 'must be a valid label value');
    expect(schemaAt('spec.namespaces.selector.matchExpressions[].values[]').maxLength).toBe(63);
    expect((schemaAt('spec.namespaces.selector.matchLabels').additionalProperties as Schema).maxLength).toBe(63);
    for (const value of ['', 'prod', 'v'.repeat(63), 'bad value!', '-prod', 'prod.', 'a/b']) {
      expect({ value, schemaAccepts: regex.test(value) }).toEqual({ value, schemaAccepts: labelValueProblem(value) === undefined });
    }
  });

  it('checks namespace names like validateSpec', () => {
    const regex = ruleRegex('spec.namespaces.names[]', 'must be a namespace name');
    expect(schemaAt('spec.namespaces.names[]').maxLength).toBe(63);
    for (const name of ['team-a', '0', name63, `${name63}n`, 'team.a', 'Team', '-a', 'a-']) {
      const schemaAccepts = regex.test(name) && name.length <= 63;
      expect({ name, schemaAccepts }).toEqual({ name, schemaAccepts: validateSpec({ ecr: { region: 'us-east-1' }, namespaces: { names: [name] } }).ok });
    }
  });

  it('prints columns that read status fields the schema defines, with the expiry as a string', () => {
    const columns = version?.additionalPrinterColumns ?? [];
    expect(columns.filter((c) => !c.priority).map((c) => c.name)).toEqual(['Provider', 'Ready', 'Verified', 'Synced', 'Targets', 'Expires', 'Age']);
    for (const column of columns) {
      const field = /^\.status\.(\w+)/.exec(column.jsonPath)?.[1];
      if (field) expect(Object.keys(schemaAt('status').properties ?? {})).toContain(field);
    }
    // kubectl renders a future time in a `date` column as "<invalid>".
    expect(columns.find((c) => c.name === 'Expires')).toMatchObject({ type: 'string', jsonPath: '.status.expiresAt' });
    expect(columns.find((c) => c.name === 'Age')).toMatchObject({ type: 'date', jsonPath: '.metadata.creationTimestamp' });
  });
});
