import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump, loadAll } from 'js-yaml';
import { kubectl, uniqueName } from '../support/cluster.js';

/** Reads a kubectl table by the header's column positions (an empty cell must not shift the others). */
function parseTable(output: string): Record<string, string>[] {
  const [header, ...rows] = output.trimEnd().split('\n');
  const starts = [...header!.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
  return rows.map((row) =>
    Object.fromEntries(starts.map((col, i) => [col.name, row.slice(col.at, starts[i + 1]?.at ?? row.length).trim()])),
  );
}

function credential(name: string, spec: Record<string, unknown>): string {
  return dump({ apiVersion: 'regcred.io/v1alpha1', kind: 'RegistryCredential', metadata: { name }, spec });
}

const staticSource = { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'ghcr-token' } } };

describe('the RegistryCredential CRD on a real kube-apiserver', () => {
  it('accepts a valid resource of each provider, with defaults applied', async () => {
    const specs = {
      static: staticSource,
      ecr: { ecr: { region: 'us-east-1', registryIds: ['123456789012'], roleArn: 'arn:aws:iam::123456789012:role/ecr-puller' } },
      gcr: { gcr: { registries: ['us-docker.pkg.dev', 'gcr.io'], credentialsSecretRef: { name: 'gcp', key: 'key.json' } } },
    };
    for (const [provider, spec] of Object.entries(specs)) {
      const name = uniqueName(`crd-${provider}`);
      const applied = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: credential(name, spec) });
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      const obj = JSON.parse(applied.stdout);
      // Stored as given, with the two defaults the schema has.
      expect(obj.spec).toEqual({ ...spec, deletionPolicy: 'Delete', adoptExisting: false });
    }
  });

  it('prunes unknown fields', async () => {
    const name = uniqueName('crd-prune');
    const applied = await kubectl(['create', '--dry-run=server', '--validate=false', '-o', 'json', '-f', '-'], {
      input: credential(name, { ...staticSource, colour: 'blue' }),
    });
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout).spec.colour).toBeUndefined();
  });

  const invalid: { case: string; spec: Record<string, unknown>; field: RegExp }[] = [
    { case: 'no provider', spec: { secretName: 'x' }, field: /spec.*(ecr|provider|exactly one)/i },
    {
      case: 'two providers',
      spec: { ...staticSource, ecr: { region: 'us-east-1' } },
      field: /exactly one of spec\.ecr, spec\.gcr, spec\.static/i,
    },
    { case: 'empty registries', spec: { gcr: { registries: [] } }, field: /spec\.gcr\.registries/ },
    { case: 'secretName not DNS-1123', spec: { ...staticSource, secretName: 'Bad_Name' }, field: /spec\.secretName/ },
    {
      case: 'unknown selector operator',
      spec: { ...staticSource, namespaces: { selector: { matchExpressions: [{ key: 'env', operator: 'Like', values: ['x'] }] } } },
      field: /spec\.namespaces\.selector\.matchExpressions\[0\]\.operator/,
    },
    { case: 'unknown deletionPolicy', spec: { ...staticSource, deletionPolicy: 'Keep' }, field: /spec\.deletionPolicy/ },
  ];

  it.each(invalid)('rejects $case with a message naming the field', async ({ spec, field }) => {
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: credential(uniqueName('crd-bad'), spec) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(field);
  });

  /** A unique name of exactly `length` characters, with a dot (a label value may hold one). */
  const nameOfLength = (length: number): string => {
    const start = `crd-len.${randomBytes(3).toString('hex')}-`;
    return `${start}${'n'.repeat(length - start.length)}`;
  };

  it('rejects a 64-character name, which cannot be the value of the regcred.io/credential label', async () => {
    const name = nameOfLength(64);
    expect(name).toHaveLength(64);
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: credential(name, staticSource) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'metadata.name must be at most 63 characters: it becomes the value of the label regcred.io/credential on every published Secret, and a label value holds at most 63 characters',
    );
  });

  it('admits a 63-character name with a dot', async () => {
    const name = nameOfLength(63);
    expect(name).toHaveLength(63);
    const result = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: credential(name, staticSource) });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).metadata.name).toBe(name);
  });

  const keyAdvice =
    "a name of at most 63 letters, digits, '-', '_' and '.' that starts and ends with a letter or digit, " +
    "optionally after a DNS subdomain prefix of at most 253 characters and '/', e.g. tier or example.com/tier";
  const valueAdvice = "empty, or at most 63 letters, digits, '-', '_' and '.' that starts and ends with a letter or digit, e.g. prod";
  const selector = (sel: Record<string, unknown>): Record<string, unknown> => ({ ...staticSource, namespaces: { selector: sel } });
  const hubUrlOnly = "(the only URL accepted is Docker Hub's https://index.docker.io/v1/)";

  // Each message is the whole error line the API server prints for the rule (path, then the rule's message).
  const rejected: { case: string; spec: Record<string, unknown>; message: string }[] = [
    {
      case: 'a matchLabels key that is not a label key',
      spec: selector({ matchLabels: { env: 'prod', 'bad key!': 'x' } }),
      message: `spec.namespaces.selector.matchLabels: Invalid value: key "bad key!" is not a valid label key: use ${keyAdvice}`,
    },
    {
      case: 'a matchLabels key with a prefix that is not a DNS subdomain',
      spec: selector({ matchLabels: { 'Example.com/tier': 'web' } }),
      message: `spec.namespaces.selector.matchLabels: Invalid value: key "Example.com/tier" is not a valid label key: use ${keyAdvice}`,
    },
    {
      case: 'a matchLabels key name of 64 characters',
      spec: selector({ matchLabels: { [`example.com/${'k'.repeat(64)}`]: 'x' } }),
      message: `spec.namespaces.selector.matchLabels: Invalid value: key "example.com/${'k'.repeat(64)}" is not a valid label key: use ${keyAdvice}`,
    },
    {
      case: 'a matchLabels key prefix of 254 characters',
      spec: selector({ matchLabels: { [`${'p'.repeat(254)}/tier`]: 'x' } }),
      message: `spec.namespaces.selector.matchLabels: Invalid value: key "${'p'.repeat(254)}/tier" is not a valid label key: use ${keyAdvice}`,
    },
    {
      case: 'a matchLabels value that is not a label value',
      spec: selector({ matchLabels: { env: 'bad value!' } }),
      message: `spec.namespaces.selector.matchLabels[env]: Invalid value: "bad value!": must be a valid label value: ${valueAdvice}`,
    },
    {
      case: 'a matchExpressions key that is not a label key',
      spec: selector({ matchExpressions: [{ key: 'env', operator: 'Exists' }, { key: 'a/b/c', operator: 'Exists' }] }),
      message: `spec.namespaces.selector.matchExpressions[1].key: Invalid value: "a/b/c": must be a valid label key: ${keyAdvice}`,
    },
    {
      case: 'a matchExpressions value that is not a label value',
      spec: selector({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', '-dev'] }] }),
      message: `spec.namespaces.selector.matchExpressions[0].values[1]: Invalid value: "-dev": must be a valid label value: ${valueAdvice}`,
    },
    {
      case: 'In without values',
      spec: selector({ matchExpressions: [{ key: 'env', operator: 'In', values: [] }] }),
      message: 'spec.namespaces.selector.matchExpressions[0]: Invalid value: operator In needs at least one entry in values',
    },
    {
      case: 'NotIn with values absent',
      spec: selector({ matchExpressions: [{ key: 'env', operator: 'NotIn' }] }),
      message: 'spec.namespaces.selector.matchExpressions[0]: Invalid value: operator NotIn needs at least one entry in values',
    },
    {
      case: 'Exists with values',
      spec: selector({ matchExpressions: [{ key: 'env', operator: 'Exists', values: ['x'] }] }),
      message: 'spec.namespaces.selector.matchExpressions[0]: Invalid value: operator Exists takes no values: remove values',
    },
    {
      case: 'more than 64 matchLabels',
      spec: selector({ matchLabels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }),
      message: 'spec.namespaces.selector.matchLabels: Too many: 65: must have at most 64 items',
    },
    {
      case: 'a namespace name that is not a DNS-1123 label',
      spec: { ...staticSource, namespaces: { names: ['team-a', 'Team_B'] } },
      message:
        "spec.namespaces.names[1]: Invalid value: \"Team_B\": must be a namespace name (a DNS-1123 label): at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
    },
    {
      case: 'a dotted namespace name in exclude',
      spec: { ...staticSource, namespaces: { exclude: ['team.a'] } },
      message: 'spec.namespaces.exclude[0]: Invalid value: "team.a": must be a namespace name (a DNS-1123 label)',
    },
    {
      case: 'a ServiceAccount name that is not a DNS-1123 subdomain',
      spec: { ...staticSource, serviceAccounts: { names: ['build-*'] } },
      message:
        "spec.serviceAccounts.names[0]: Invalid value: \"build-*\": must be a ServiceAccount name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit) or '*' for every ServiceAccount",
    },
    {
      case: 'a secretName with an underscore',
      spec: { ...staticSource, secretName: 'pull_secret' },
      message: 'spec.secretName: Invalid value: "pull_secret": must be a Secret name (a DNS-1123 subdomain)',
    },
    {
      case: 'a roleArn of a user',
      spec: { ecr: { region: 'us-east-1', roleArn: 'arn:aws:iam::123456789012:user/bob' } },
      message: 'spec.ecr.roleArn: Invalid value: "arn:aws:iam::123456789012:user/bob": must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/ecr-puller',
    },
    {
      case: 'a region that is not an AWS region',
      spec: { ecr: { region: 'US East' } },
      message: 'spec.ecr.region: Invalid value: "US East": must be an AWS region code, e.g. us-east-1',
    },
    {
      case: 'a gcr registry with a scheme',
      spec: { gcr: { registries: ['gcr.io', 'https://us-docker.pkg.dev'] } },
      message: 'spec.gcr.registries[1]: Invalid value: "https://us-docker.pkg.dev": must be host[:port][/path] without a scheme, e.g. us-docker.pkg.dev',
    },
    {
      case: 'an empty gcr registry',
      spec: { gcr: { registries: [''] } },
      message: 'spec.gcr.registries[0]: Invalid value: "": must be host[:port][/path]: a lowercase host name',
    },
    {
      case: 'a static registry with a scheme',
      spec: { static: { ...staticSource.static, registry: 'https://ghcr.io' } },
      message: `spec.static.registry: Invalid value: "https://ghcr.io": must be host[:port][/path] without a scheme, e.g. ghcr.io ${hubUrlOnly}`,
    },
    {
      case: 'a static registry with an uppercase host',
      spec: { static: { ...staticSource.static, registry: 'GHCR.io' } },
      message: 'spec.static.registry: Invalid value: "GHCR.io": must be host[:port][/path]: a lowercase host name',
    },
    {
      case: 'a static registry with a port above 65535',
      spec: { static: { ...staticSource.static, registry: 'reg.example.com:99999/team' } },
      message: 'spec.static.registry: Invalid value: "reg.example.com:99999/team": has a port outside 1-65535',
    },
    {
      case: 'registry-1.docker.io',
      spec: { static: { ...staticSource.static, registry: 'registry-1.docker.io' } },
      message:
        'spec.static.registry: Invalid value: "registry-1.docker.io": registry-1.docker.io is never matched by the kubelet: use https://index.docker.io/v1/ for Docker Hub',
    },
    {
      case: 'a gcr key that climbs out of the Secret',
      spec: { gcr: { registries: ['gcr.io'], credentialsSecretRef: { name: 'gcp', key: '..key' } } },
      message: 'spec.gcr.credentialsSecretRef.key: Invalid value: "..key": must be a Secret data key',
    },
  ];

  it.each([
    { case: 'a verify interval under 5 minutes', spec: { ...staticSource, verify: { intervalMinutes: 1 } }, message: 'spec.verify.intervalMinutes: Invalid value: 1: spec.verify.intervalMinutes in body should be greater than or equal to 5' },
    { case: 'more than 20 images to verify', spec: { ...staticSource, verify: { images: Array.from({ length: 21 }, (_, i) => `ghcr.io/a/b:${i}`) } }, message: 'spec.verify.images: Too many: 21: must have at most 20 items' },
    { case: 'an empty image to verify', spec: { ...staticSource, verify: { images: [''] } }, message: 'spec.verify.images[0]' },
  ])('rejects $case, naming the field', async ({ spec, message }) => {
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: credential(uniqueName('crd-bad'), spec) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it('admits every sample in config/samples as written, with spec.verify defaulted where given', async () => {
    const dir = fileURLToPath(new URL('../../config/samples/', import.meta.url));
    const credentials = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => loadAll(readFileSync(join(dir, f), 'utf8')) as { kind?: string; metadata: { name: string }; spec?: Record<string, unknown> }[])
      .filter((o) => o?.kind === 'RegistryCredential');
    expect(credentials.length).toBeGreaterThanOrEqual(4);
    for (const sample of credentials) {
      const result = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: dump({ ...sample, apiVersion: 'regcred.io/v1alpha1', metadata: { name: uniqueName('crd-sample') } }) });
      expect([sample.metadata.name, result.stderr]).toEqual([sample.metadata.name, '']);
      const stored = JSON.parse(result.stdout) as { spec: { verify?: Record<string, unknown> } };
      if (sample.spec?.verify) expect(stored.spec.verify).toMatchObject({ enabled: true, intervalMinutes: 360 });
    }
  });

  it.each(rejected)('rejects $case, saying what is wrong', async ({ spec, message }) => {
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: credential(uniqueName('crd-bad'), spec) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  const admitted: { case: string; spec: Record<string, unknown> }[] = [
    {
      case: 'prefixed label keys, an empty label value and 63-character key names and values',
      spec: selector({
        matchLabels: { 'example.com/tier': '', [`${'p'.repeat(253)}/${'k'.repeat(63)}`]: 'v'.repeat(63), 'app.kubernetes.io/part-of': 'Shop_2.0' },
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['', 'kube-system'] },
          { key: 'example.com/team', operator: 'DoesNotExist' },
          { key: 'env', operator: 'Exists', values: [] },
        ],
      }),
    },
    { case: 'every ServiceAccount', spec: { ...staticSource, serviceAccounts: { names: ['*'] } } },
    { case: 'Docker Hub by its URL', spec: { static: { ...staticSource.static, registry: 'https://index.docker.io/v1/' } } },
    { case: 'a registry with a port and a path', spec: { static: { ...staticSource.static, registry: 'registry.example.com:5000/team/' } } },
    { case: 'wildcard gcr registries', spec: { gcr: { registries: ['*.gcr.io', 'us-docker.pkg.dev/my-project', 'localhost:65535'] } } },
    { case: 'an ARN with a path in another partition', spec: { ecr: { region: 'cn-north-1', roleArn: 'arn:aws-cn:iam::123456789012:role/path/to/x+y=z,a.b@c-d_e' } } },
    { case: 'a cron expression the operator will report (the schema admits any string)', spec: { ...staticSource, refresh: { schedule: 'every hour' } } },
    { case: 'verification with images and an interval', spec: { ...staticSource, verify: { enabled: true, images: ['ghcr.io/acme/api:1.4.2', `ghcr.io/acme/api@sha256:${'a'.repeat(64)}`], intervalMinutes: 5 } } },
  ];

  it.each(admitted)('admits $case', async ({ spec }) => {
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: credential(uniqueName('crd-ok'), spec) });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('admits adoptExisting: true and returns it as written', async () => {
    const name = uniqueName('crd-adopt');
    const created = await kubectl(['apply', '-f', '-'], { input: credential(name, { ...staticSource, adoptExisting: true }) });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    try {
      const got = await kubectl(['get', 'registrycredential', name, '-o', 'json']);
      expect(got.code).toBe(0);
      expect(JSON.parse(got.stdout).spec).toEqual({ ...staticSource, adoptExisting: true, deletionPolicy: 'Delete' });
      const patched = await kubectl(['patch', 'registrycredential', name, '--type=merge', '-p', JSON.stringify({ spec: { adoptExisting: false } }), '-o', 'json']);
      expect(patched.stderr).toBe('');
      expect(JSON.parse(patched.stdout).spec.adoptExisting).toBe(false);
    } finally {
      await kubectl(['delete', 'registrycredential', name, '--wait=false']);
    }
  });

  it('prints readable columns in kubectl get, for the long and the short name', async () => {
    const name = uniqueName('crd-columns');
    const created = await kubectl(['apply', '-f', '-'], { input: credential(name, staticSource) });
    expect(created.code).toBe(0);
    try {
      for (const resource of ['registrycredentials', 'regcred']) {
        const got = await kubectl(['get', resource, name]);
        expect(got.code).toBe(0);
        const [header, row] = got.stdout.trim().split('\n');
        expect(header!.split(/\s+/)).toEqual(['NAME', 'PROVIDER', 'READY', 'VERIFIED', 'SYNCED', 'TARGETS', 'EXPIRES', 'AGE']);
        expect(row).toContain(name);
        expect(row).not.toContain('<invalid>');
      }
      // A future expiry must render as a readable timestamp, not "<invalid>" (a date column would).
      const expiresAt = new Date(Date.now() + 12 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
      const patched = await kubectl([
        'patch', 'registrycredential', name, '--subresource=status', '--type=merge',
        '-p', JSON.stringify({ status: { provider: 'static', expiresAt, targetNamespaces: 3, syncedNamespaces: 2 } }),
      ]);
      expect(patched.stderr).toBe('');
      const got = await kubectl(['get', 'regcred', name]);
      const [row] = parseTable(got.stdout);
      expect(row).toMatchObject({ NAME: name, PROVIDER: 'static', SYNCED: '2', TARGETS: '3', EXPIRES: expiresAt });
    } finally {
      await kubectl(['delete', 'registrycredential', name, '--wait=false']);
    }
  });
});
