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
  RefreshSpec,
  RegistryCredentialSpec,
  RegistryCredentialStatus,
  SecretRef,
  SelectorOperator,
  ServiceAccountSelection,
  StaticSource,
} from '../../src/api/types.js';

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
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
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
    } satisfies Fields<RegistryCredentialSpec>,
  ],
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
      conditions: 'optional',
    } satisfies Fields<RegistryCredentialStatus>,
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
    expect(schemaAt('spec.secretName').maxLength).toBe(253);
    expect(schemaAt('status.failedNamespaces').maxItems).toBe(MAX_FAILED_NAMESPACES_IN_STATUS);
    expect(schemaAt('status.conditions')).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    });
  });

  const pattern = (path: string): RegExp => new RegExp(schemaAt(path).pattern ?? '(?!)');

  it.each([
    ['spec.secretName', ['regcred-ecr-prod', 'a', 'pull.secret-1'], ['Bad_Name', '-a', 'a-', 'a..b', '']],
    ['spec.namespaces.names[]', ['team-a', 'default', '0'], ['team.a', 'Team', 'a_b', '-a']],
    ['spec.namespaces.exclude[]', ['sandbox'], ['sand.box', 'Sandbox']],
    ['spec.serviceAccounts.names[]', ['default', '*', 'builder.ci'], ['**', 'a*', 'Default']],
    ['spec.ecr.region', ['us-east-1', 'eu-central-2', 'us-gov-west-1', 'ap-southeast-3'], ['us-east', 'US-EAST-1', 'useast1']],
    ['spec.ecr.registryIds[]', ['123456789012'], ['12345', '12345678901a']],
    ['spec.gcr.registries[]', ['gcr.io', '*.gcr.io', 'us-docker.pkg.dev/my-project', 'localhost:5000'], ['https://gcr.io', 'GCR.io', 'gcr.io project']],
  ] as const)('the pattern of %s accepts valid values and rejects others', (path, good, bad) => {
    for (const value of good) expect(value).toMatch(pattern(path));
    for (const value of bad) expect(value).not.toMatch(pattern(path));
  });

  it('prints columns that read status fields the schema defines, with the expiry as a string', () => {
    const columns = version?.additionalPrinterColumns ?? [];
    expect(columns.filter((c) => !c.priority).map((c) => c.name)).toEqual(['Provider', 'Ready', 'Synced', 'Targets', 'Expires', 'Age']);
    for (const column of columns) {
      const field = /^\.status\.(\w+)/.exec(column.jsonPath)?.[1];
      if (field) expect(Object.keys(schemaAt('status').properties ?? {})).toContain(field);
    }
    // kubectl renders a future time in a `date` column as "<invalid>".
    expect(columns.find((c) => c.name === 'Expires')).toMatchObject({ type: 'string', jsonPath: '.status.expiresAt' });
    expect(columns.find((c) => c.name === 'Age')).toMatchObject({ type: 'date', jsonPath: '.metadata.creationTimestamp' });
  });
});
