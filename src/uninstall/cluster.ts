/**
 * What `regcred uninstall` reads and writes: every API call of the command, in one place.
 */
import { randomBytes } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Deployment, type V1Secret } from '@kubernetes/client-node';
import { API_VERSION, CREDENTIAL_LABEL, CRD_NAME, FINALIZER, GROUP, KIND, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLURAL, VERSION } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import { isCredentialReference, type OwnerReference } from '../desired/secret.js';
import { call, isKind } from '../kube/errors.js';
import type { KubeConnection } from '../kube/connection.js';
import type { ClusterFacts, CredentialSummary, OperatorObject, UninstallOptions } from './plan.js';

const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
/** On the probe RegistryCredential, so that one left behind is recognisable. */
export const PROBE_LABEL = `${GROUP}/uninstall-probe`;
const POLL_MS = 250;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const credentialApi = { group: GROUP, version: VERSION, plural: PLURAL };

export async function listCredentials(conn: KubeConnection): Promise<RegistryCredential[]> {
  const list = (await call('list RegistryCredentials', () => conn.custom.listClusterCustomObject(credentialApi))) as { items: RegistryCredential[] };
  return list.items;
}

async function getCredential(conn: KubeConnection, name: string): Promise<RegistryCredential | undefined> {
  try {
    return (await call(`get RegistryCredential ${name}`, () => conn.custom.getClusterCustomObject({ ...credentialApi, name }))) as RegistryCredential;
  } catch (err) {
    if (isKind(err, 'NotFound')) return undefined;
    throw err;
  }
}

/** The Secrets the operator manages, by the credential they belong to (the regcred.io/credential label). */
export async function managedSecrets(conn: KubeConnection, credential?: string): Promise<V1Secret[]> {
  const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}${credential ? `,${CREDENTIAL_LABEL}=${credential}` : ''}`;
  const list = await call('list managed Secrets', () => conn.core.listSecretForAllNamespaces({ labelSelector }));
  return list.items;
}

async function readObject<T extends KubernetesObject = KubernetesObject>(conn: KubeConnection, obj: OperatorObject): Promise<T | undefined> {
  try {
    return await call(`read ${obj.kind} ${obj.name}`, () =>
      conn.objects.read<T>({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.name, ...(obj.namespace ? { namespace: obj.namespace } : {}) } }),
    );
  } catch (err) {
    if (isKind(err, 'NotFound')) return undefined;
    throw err;
  }
}

export async function gatherFacts(conn: KubeConnection, options: UninstallOptions): Promise<ClusterFacts> {
  const crd = await readObject(conn, { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: CRD_NAME });
  const credentials = crd ? await listCredentials(conn) : [];
  const secretsByCredential = new Map<string, number>();
  if (credentials.length > 0) {
    for (const secret of await managedSecrets(conn)) {
      const owner = secret.metadata?.labels?.[CREDENTIAL_LABEL];
      if (owner) secretsByCredential.set(owner, (secretsByCredential.get(owner) ?? 0) + 1);
    }
  }
  const deployment = (await readObject<V1Deployment>(conn, { apiVersion: 'apps/v1', kind: 'Deployment', name: options.name, namespace: options.namespace }));
  return {
    server: conn.describe,
    crdInstalled: crd !== undefined,
    credentials: credentials.map((c) => summarize(c, secretsByCredential.get(c.metadata.name) ?? 0)),
    deployment: deployment ? { availableReplicas: deployment.status?.availableReplicas ?? 0, replicas: deployment.spec?.replicas ?? 1 } : undefined,
  };
}

function summarize(credential: RegistryCredential, secrets: number): CredentialSummary {
  return {
    name: credential.metadata.name,
    deletionPolicy: credential.spec?.deletionPolicy ?? 'Delete',
    secrets,
    hasFinalizer: credential.metadata.finalizers?.includes(FINALIZER) ?? false,
    deleting: Boolean(credential.metadata.deletionTimestamp),
  };
}

export type ProbeResult =
  | { running: true; name: string }
  | { running: false; name: string; why: string; leftBehind: boolean };

/**
 * Whether an operator is running and finalizing: it must put its finalizer on a new RegistryCredential that
 * publishes nothing (no namespaces, no ServiceAccounts, no registry check) and, once that is deleted, let it
 * go. That is exactly what uninstalling needs of it, whether it runs as a Deployment or anywhere else.
 */
export async function probeOperator(conn: KubeConnection, timeoutMs: number): Promise<ProbeResult> {
  const name = `regcred-uninstall-probe-${randomBytes(3).toString('hex')}`;
  await call(`create RegistryCredential ${name}`, () =>
    conn.custom.createClusterCustomObject({
      ...credentialApi,
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, labels: { [PROBE_LABEL]: 'true' } },
        spec: {
          static: { registry: 'uninstall-probe.invalid', credentialsSecretRef: { name: 'regcred-uninstall-probe' } },
          namespaces: { names: [] },
          serviceAccounts: { names: [] },
          deletionPolicy: 'Orphan',
          verify: { enabled: false },
        },
      },
    }),
  );
  const deadline = Date.now() + timeoutMs;
  let finalized = false;
  while (Date.now() < deadline) {
    const probe = await getCredential(conn, name);
    if (probe?.metadata.finalizers?.includes(FINALIZER)) {
      finalized = true;
      break;
    }
    await sleep(POLL_MS);
  }
  await deleteCredential(conn, name);
  // Not finalized: the delete removes it at once, unless an operator added its finalizer just now.
  const goneBy = finalized ? deadline + timeoutMs : Date.now() + 2000;
  while (Date.now() < goneBy) {
    if ((await getCredential(conn, name)) === undefined) break;
    await sleep(POLL_MS);
  }
  const leftBehind = (await getCredential(conn, name)) !== undefined;
  const seconds = timeoutMs / 1000;
  if (!finalized) return { running: false, name, why: `no operator put its finalizer on the probe RegistryCredential ${name} within ${seconds}s`, leftBehind };
  if (leftBehind) return { running: false, name, why: `an operator put its finalizer on the probe RegistryCredential ${name} but did not let it go within ${seconds}s of its deletion`, leftBehind };
  return { running: true, name };
}

export async function deleteCredential(conn: KubeConnection, name: string, uid?: string): Promise<'deleted' | 'gone'> {
  try {
    await call(`delete RegistryCredential ${name}`, () =>
      conn.custom.deleteClusterCustomObject({ ...credentialApi, name, ...(uid ? { body: { preconditions: { uid } } } : {}) }),
    );
    return 'deleted';
  } catch (err) {
    if (isKind(err, 'NotFound')) return 'gone';
    throw err;
  }
}

/**
 * Polls until every named RegistryCredential is gone or the time is up; tells `onGone` of each as it goes.
 * Returns the ones still there, as last read.
 */
export async function waitForCredentialsGone(
  conn: KubeConnection,
  names: readonly string[],
  timeoutMs: number,
  onGone: (name: string) => void,
): Promise<RegistryCredential[]> {
  const deadline = Date.now() + timeoutMs;
  const waiting = new Set(names);
  for (;;) {
    const present = new Map((await listCredentials(conn)).map((c) => [c.metadata.name, c]));
    for (const name of [...waiting]) {
      if (!present.has(name)) {
        waiting.delete(name);
        onGone(name);
      }
    }
    if (waiting.size === 0) return [];
    if (Date.now() >= deadline) return [...waiting].map((name) => present.get(name)!);
    await sleep(POLL_MS);
  }
}

/** A JSON patch that replaces a list only if it still is what was read, so a concurrent writer is never overwritten. */
function guardedListPatch(path: string, current: unknown[], next: unknown[]): object[] {
  return [{ op: 'test', path, value: current }, next.length > 0 ? { op: 'replace', path, value: next } : { op: 'remove', path }];
}

/** Retries a read-then-guarded-patch a few times when the test op fails because the list changed meanwhile. */
async function withRetries<T>(what: string, attempt: () => Promise<T | 'changed'>): Promise<T> {
  for (let i = 0; i < 5; i++) {
    const result = await attempt();
    if (result !== 'changed') return result;
  }
  throw new Error(`${what}: the object kept changing under the command; is an operator still running?`);
}

/** A failed JSON patch `test` is answered 422 (Invalid); a vanished object 404. */
function changedOrGone(err: unknown): 'changed' | 'gone' {
  if (isKind(err, 'Invalid', 'Conflict')) return 'changed';
  if (isKind(err, 'NotFound')) return 'gone';
  throw err;
}

/**
 * Takes the RegistryCredential ownerReference off one managed Secret, so that the garbage collector does
 * not delete it with the credential: what the operator itself does for deletionPolicy Orphan.
 */
async function disownSecret(conn: KubeConnection, namespace: string, name: string): Promise<'disowned' | 'unowned' | 'gone'> {
  return withRetries(`Secret ${namespace}/${name}`, async () => {
    let secret: V1Secret;
    try {
      secret = await call(`read Secret ${namespace}/${name}`, () => conn.core.readNamespacedSecret({ namespace, name }));
    } catch (err) {
      if (isKind(err, 'NotFound')) return 'gone';
      throw err;
    }
    const owners = (secret.metadata?.ownerReferences ?? []) as OwnerReference[];
    const kept = owners.filter((ref) => !isCredentialReference(ref));
    if (kept.length === owners.length) return 'unowned';
    try {
      await call(`patch Secret ${namespace}/${name}`, () =>
        conn.core.patchNamespacedSecret({ namespace, name, body: guardedListPatch('/metadata/ownerReferences', owners, kept) }, JSON_PATCH),
      );
      return 'disowned';
    } catch (err) {
      return changedOrGone(err);
    }
  });
}

async function removeFinalizer(conn: KubeConnection, name: string): Promise<'removed' | 'none' | 'gone'> {
  return withRetries(`RegistryCredential ${name}`, async () => {
    const credential = await getCredential(conn, name);
    if (!credential) return 'gone';
    const finalizers = credential.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) return 'none';
    const next = finalizers.filter((f) => f !== FINALIZER);
    try {
      await call(`patch RegistryCredential ${name}`, () =>
        conn.custom.patchClusterCustomObject({ ...credentialApi, name, body: guardedListPatch('/metadata/finalizers', finalizers, next) }, JSON_PATCH),
      );
      return 'removed';
    } catch (err) {
      return changedOrGone(err);
    }
  });
}

export interface OrphanResult {
  secretsDisowned: number;
  finalizer: 'removed' | 'none' | 'gone';
}

/**
 * The way out when no operator runs: the credential's Secrets lose their ownerReference to it (first, so
 * the garbage collector never sees them as its dependents), then the credential its finalizer, then it is
 * deleted. Its Secrets and ServiceAccount entries stay where they are.
 */
export async function orphanCredential(conn: KubeConnection, credential: RegistryCredential): Promise<OrphanResult> {
  const name = credential.metadata.name;
  let secretsDisowned = 0;
  for (const secret of await managedSecrets(conn, name)) {
    const result = await disownSecret(conn, secret.metadata!.namespace!, secret.metadata!.name!);
    if (result === 'disowned') secretsDisowned++;
  }
  const finalizer = await removeFinalizer(conn, name);
  if (finalizer !== 'gone' && !credential.metadata.deletionTimestamp) await deleteCredential(conn, name, credential.metadata.uid);
  return { secretsDisowned, finalizer };
}

export async function deleteOperatorObject(conn: KubeConnection, obj: OperatorObject): Promise<'deleted' | 'not found'> {
  try {
    await call(`delete ${obj.kind} ${obj.name}`, () =>
      conn.objects.delete(
        { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.name, ...(obj.namespace ? { namespace: obj.namespace } : {}) } },
        undefined,
        undefined,
        undefined,
        undefined,
        'Background',
      ),
    );
    return 'deleted';
  } catch (err) {
    if (isKind(err, 'NotFound')) return 'not found';
    throw err;
  }
}

/** Waits until the object is gone; false when the time ran out first. */
export async function waitForObjectGone(conn: KubeConnection, obj: OperatorObject, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await readObject(conn, obj)) === undefined) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}
