/**
 * JSON schemas for kubeconform, generated from a live API server's /openapi/v2 (what kubeconform's
 * openapi2jsonschema does with the upstream swagger.json): one standalone, strict schema per
 * group/version/kind, including the CRDs the server serves (RegistryCredential). The tests have no
 * internet, so the local control plane is the schema authority.
 *
 * File names follow kubeconform's default template, `{{ .ResourceKind }}{{ .KindSuffix }}.json`:
 * deployment-apps-v1.json, serviceaccount-v1.json, registrycredential-regcred-v1alpha1.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Swagger {
  definitions: Record<string, JsonObject>;
}

interface Gvk {
  group: string;
  version: string;
  kind: string;
}

const REF_PREFIX = '#/definitions/';

/** kubeconform's KindSuffix: -GROUP'S-FIRST-LABEL-VERSION, or -VERSION for the core group. */
export function schemaFileName({ group, version, kind }: Gvk): string {
  const apiVersion = group ? `${group}/${version}` : version;
  const [first, second] = apiVersion.split('/') as [string, string | undefined];
  let suffix = `-${first.split('.')[0]!.toLowerCase()}`;
  if (second) suffix += `-${second.toLowerCase()}`;
  return `${kind.toLowerCase()}${suffix}.json`;
}

/** The definitions a definition refers to, itself included. */
function closure(definitions: Record<string, JsonObject>, root: string): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name) || !definitions[name]) return;
    seen.add(name);
    const walk = (node: Json): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)) visit(value.slice(REF_PREFIX.length));
          else walk(value);
        }
      }
    };
    walk(definitions[name]);
  };
  visit(root);
  return seen;
}

const INT_OR_STRING: JsonObject = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
const QUANTITY: JsonObject = { oneOf: [{ type: 'string' }, { type: 'number' }] };

/**
 * OpenAPI v2 to JSON schema, as openapi2jsonschema does: int-or-string and quantities accept both
 * forms YAML gives them; objects with properties accept no other (kubeconform -strict); a field the
 * server allows any content in (x-kubernetes-preserve-unknown-fields) stays open.
 */
function convert(node: Json): Json {
  if (Array.isArray(node)) return node.map(convert);
  if (!node || typeof node !== 'object') return node;
  if (node.format === 'int-or-string') return { ...INT_OR_STRING, ...(node.description ? { description: node.description } : {}) };
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, convert(schema)]));
    } else {
      out[key] = convert(value);
    }
  }
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

/** Writes one schema file per group/version/kind into dir; returns how many. */
export function writeKubeconformSchemas(swagger: Swagger, dir: string): number {
  mkdirSync(dir, { recursive: true });
  const definitions: Record<string, JsonObject> = {};
  for (const [name, definition] of Object.entries(swagger.definitions)) {
    definitions[name] = name === 'io.k8s.apimachinery.pkg.api.resource.Quantity' ? { ...QUANTITY } : (convert(definition) as JsonObject);
  }
  let written = 0;
  for (const [name, definition] of Object.entries(swagger.definitions)) {
    const gvks = definition['x-kubernetes-group-version-kind'];
    if (!Array.isArray(gvks)) continue;
    const used = closure(swagger.definitions, name);
    const schema: JsonObject = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      ...definitions[name]!,
      definitions: Object.fromEntries([...used].map((n) => [n, definitions[n]!])),
    };
    for (const gvk of gvks as unknown as Gvk[]) {
      // A list of kinds that share a definition (DeleteOptions, WatchEvent) writes the same schema for each.
      writeFileSync(join(dir, schemaFileName(gvk)), JSON.stringify(schema));
      written += 1;
    }
  }
  return written;
}
