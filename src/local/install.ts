import { loadAllYaml, PatchStrategy, type KubernetesObject, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRD_NAME, DEFAULT_OPERATOR_NAMESPACE } from '../api/constants.js';
import { call } from '../kube/errors.js';
import type { KubeConnection } from '../kube/connection.js';
import { PACKAGE_ROOT } from './control-plane.js';

const FIELD_MANAGER = 'regcred-local';

export function crdManifests(): KubernetesObject[] {
  return loadAllYaml(readFileSync(join(PACKAGE_ROOT, 'crds', `${CRD_NAME}.yaml`), 'utf8')) as KubernetesObject[];
}

/**
 * The operator's namespace, ServiceAccount and RBAC from config/rbac, so the
 * operator can run under its real, least-privilege identity locally.
 */
export function rbacManifests(namespace = DEFAULT_OPERATOR_NAMESPACE): KubernetesObject[] {
  const rbacDir = join(PACKAGE_ROOT, 'config', 'rbac');
  const kustomization = loadAllYaml(readFileSync(join(rbacDir, 'kustomization.yaml'), 'utf8'))[0] as { resources: string[] };
  const objects: KubernetesObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }];
  for (const file of kustomization.resources) {
    for (const obj of loadAllYaml(readFileSync(join(rbacDir, file), 'utf8')) as KubernetesObject[]) {
      if (obj) objects.push(placeInNamespace(obj, namespace));
    }
  }
  return objects;
}

const NAMESPACED_KINDS = new Set(['ServiceAccount', 'Role', 'RoleBinding']);

function placeInNamespace(obj: KubernetesObject, namespace: string): KubernetesObject {
  const copy = structuredClone(obj) as KubernetesObject & { subjects?: { kind: string; namespace?: string }[] };
  if (NAMESPACED_KINDS.has(copy.kind ?? '')) copy.metadata = { ...copy.metadata, namespace };
  for (const subject of copy.subjects ?? []) {
    if (subject.kind === 'ServiceAccount') subject.namespace = namespace;
  }
  return copy;
}

/** Server-side applies each object, so running it again converges instead of failing. */
export async function applyObjects(conn: KubeConnection, objects: KubernetesObject[]): Promise<void> {
  for (const obj of objects) {
    await call(`apply ${obj.kind} ${obj.metadata?.name}`, () =>
      conn.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
  }
}

export async function waitForCrdEstablished(conn: KubeConnection, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const crd: V1CustomResourceDefinition = await call('read CRD', () =>
      conn.apiextensions.readCustomResourceDefinition({ name: CRD_NAME }),
    );
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`CRD ${CRD_NAME} was not Established within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function installIntoCluster(conn: KubeConnection, namespace = DEFAULT_OPERATOR_NAMESPACE): Promise<void> {
  await applyObjects(conn, crdManifests());
  await waitForCrdEstablished(conn);
  await applyObjects(conn, rbacManifests(namespace));
}
