import { describe, expect, it } from '@jest/globals';
import { dump } from 'js-yaml';
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
      // Stored as given, with the one default the schema has.
      expect(obj.spec).toEqual({ ...spec, deletionPolicy: 'Delete' });
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

  it('prints readable columns in kubectl get, for the long and the short name', async () => {
    const name = uniqueName('crd-columns');
    const created = await kubectl(['apply', '-f', '-'], { input: credential(name, staticSource) });
    expect(created.code).toBe(0);
    try {
      for (const resource of ['registrycredentials', 'regcred']) {
        const got = await kubectl(['get', resource, name]);
        expect(got.code).toBe(0);
        const [header, row] = got.stdout.trim().split('\n');
        expect(header!.split(/\s+/)).toEqual(['NAME', 'PROVIDER', 'READY', 'SYNCED', 'TARGETS', 'EXPIRES', 'AGE']);
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
