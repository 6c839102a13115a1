/**
 * docs/reference.md is written by hand; this keeps it from drifting from the code: the field tables
 * against the CRD schema, the metrics against the registry, the reasons against the code that sets them.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { load } from 'js-yaml';
import { CRD_NAME } from '../../src/api/constants.js';
import { buildProgram } from '../../src/commands.js';
import { CAUSES } from '../../src/doctor/classify.js';
import { FINDING_CODES } from '../../src/doctor/types.js';
import { createMetrics } from '../../src/observability/metrics.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const REFERENCE = readFileSync(join(ROOT, 'docs', 'reference.md'), 'utf8');

interface Schema {
  properties?: Record<string, Schema>;
  items?: Schema;
}

/** Every property path under spec and status: `spec.ecr.region`, `status.conditions[].type`, … */
function schemaPaths(schema: Schema, path: string): string[] {
  const out: string[] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const childPath = `${path}.${name}`;
    out.push(childPath, ...schemaPaths(child, childPath));
  }
  if (schema.items) out.push(...schemaPaths(schema.items, `${path}[]`));
  return out;
}

function crdPaths(): string[] {
  const crd = load(readFileSync(join(ROOT, 'crds', `${CRD_NAME}.yaml`), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Schema; status: Schema } } } }[] };
  };
  expect(crd.spec.versions).toHaveLength(1);
  const { spec, status } = crd.spec.versions[0]!.schema.openAPIV3Schema.properties;
  return [...schemaPaths(spec, 'spec'), ...schemaPaths(status, 'status')].sort();
}

/** The fields the reference describes: table rows whose first cell is a spec or status path in backticks. */
function documentedPaths(): string[] {
  return [...REFERENCE.matchAll(/^\| `((?:spec|status)\.[^`]+)` \|/gm)].map((m) => m[1]!).sort();
}

/** Names in backticks anywhere in the reference. */
const quoted = new Set([...REFERENCE.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

function matches(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((m) => m[1]!);
}

/** Every reason string the operator can put in a condition, in status.failedNamespaces or on an Event, with the file it is in. */
function reasonsInCode(): { reason: string; file: string }[] {
  const found: { reason: string; file: string }[] = [];
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const reasons = [
      ...matches(text, /new ProviderError\(\s*'([A-Za-z]+)'/g),
      ...matches(text, /\breason: '([A-Za-z]+)'/g),
      // src/reconcile/act.ts: a failed Secret write, per namespace.
      ...matches(text, /\bfail\('([A-Za-z]+)'/g),
      // src/reconcile/reconciler.ts: Events recorded directly.
      ...matches(text, /recordEvent\([^;]*?'(?:Normal|Warning)',\s*'([A-Za-z]+)'/g),
    ];
    for (const reason of reasons) found.push({ reason, file: relative(ROOT, file) });
  }
  return found;
}

describe('docs/reference.md', () => {
  it('has a row for every field of the CRD schema, and no row for a field the schema lacks', () => {
    const inCrd = crdPaths();
    const documented = documentedPaths();
    expect(inCrd.length).toBeGreaterThan(40);
    expect({ missingFromReference: inCrd.filter((p) => !documented.includes(p)) }).toEqual({ missingFromReference: [] });
    expect({ notInCrd: documented.filter((p) => !inCrd.includes(p)) }).toEqual({ notInCrd: [] });
    // One row per field.
    expect(documented.filter((p, i) => documented.indexOf(p) !== i)).toEqual([]);
  });

  it('names every metric the operator registers', async () => {
    const names = (await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((name) => !quoted.has(name))).toEqual([]);
  });

  it('names every condition type, status and reason, and every Event type and reason, of src/status/compute.ts', () => {
    // Words for messages aside (plural(n, 'ServiceAccount')), every capitalised string literal there is
    // one of those: Ready, True, Normal, Synced, RefreshFailing, …
    const text = readFileSync(join(ROOT, 'src', 'status', 'compute.ts'), 'utf8').replace(/\bplural\([^)]*\)/g, '');
    const literals = [...new Set(matches(text, /'([A-Z][A-Za-z]+)'/g))];
    expect(literals).toEqual(expect.arrayContaining(['Ready', 'TokenAvailable', 'Minting', 'RefreshFailing', 'NoCredential', 'Recovered', 'Refreshed']));
    expect(literals.filter((literal) => !quoted.has(literal))).toEqual([]);
  });

  it('names every reason the rest of the code produces: provider failures, invalid specs, failed namespaces, Events', () => {
    const found = reasonsInCode();
    const reasons = new Set(found.map((f) => f.reason));
    expect([...reasons]).toEqual(
      expect.arrayContaining(['SourceSecretNotFound', 'AccessDenied', 'ProviderUnreachable', 'InvalidSchedule', 'InvalidName', 'WriteRejected', 'NamespacesNotFound', 'Adopted']),
    );
    expect(found.filter((f) => !quoted.has(f.reason))).toEqual([]);
  });

  it('has a section for every command, naming each of its flags', () => {
    const commands = buildProgram().commands;
    expect(commands.map((c) => c.name())).toEqual(expect.arrayContaining(['run', 'local', 'start', 'doctor']));
    for (const command of commands) {
      const start = REFERENCE.indexOf(`### regcred ${command.name()}\n`);
      expect([command.name(), start >= 0]).toEqual([command.name(), true]);
      const rest = REFERENCE.slice(start + 1);
      const section = rest.slice(0, rest.search(/\n##/) === -1 ? undefined : rest.search(/\n##/));
      const flags = command.options.map((o) => o.long ?? o.flags).filter((flag) => flag !== '--help');
      expect({ command: command.name(), undocumented: flags.filter((flag) => !section.includes(`${flag}`)) }).toEqual({ command: command.name(), undocumented: [] });
    }
  });

  it("names every cause and finding code of regcred doctor's JSON", () => {
    expect([...CAUSES, ...FINDING_CODES].filter((code) => !quoted.has(code))).toEqual([]);
  });

  it('is linked from the README', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('](docs/reference.md');
  });
});
