import { createHash } from 'node:crypto';
import type { KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { ADDED_PULL_SECRETS_ANNOTATION } from '../api/constants.js';

/**
 * What the informers cache of each object: what the reconcile reads, and for a managed Secret what a
 * replace (PUT) must send back, nothing else. The transform of client-go and controller-runtime
 * (`cache.TransformFunc`, `DefaultTransform: TransformStripManagedFields`), applied to every object of
 * a list or a watch event before it is stored.
 *
 * Dropped everywhere: `metadata.managedFields` (often the largest part of an object; a PUT without it
 * keeps the server's, which is what a nil managedFields means to the API server).
 * Namespaces keep their name, uid, resourceVersion, labels, deletionTimestamp and status.phase; their
 * annotations (a kubectl last-applied-configuration can be kilobytes) and spec are dropped.
 * ServiceAccounts keep their identity, imagePullSecrets and only our annotation; the reconcile changes
 * them with merge patches, which never send back what was dropped.
 * Managed Secrets keep all their metadata but managedFields (a replace sends the object back, so
 * others' labels, annotations, ownerReferences and finalizers must be kept); their `data`, which is the
 * same in every namespace a credential serves, is shared: one frozen object per distinct content
 * (`DataInterner`), so 20,000 Secrets of one credential hold one copy of the credential, not 20,000.
 */

type Metadata = NonNullable<KubernetesObject['metadata']>;

function withoutManagedFields(metadata: Metadata | undefined): Metadata {
  if (!metadata) return {};
  const { managedFields: _dropped, ...rest } = metadata;
  return rest;
}

/** Any object: managedFields dropped, the rest kept as sent (RegistryCredentials, source Secrets). */
export function stripManagedFields<T extends KubernetesObject>(raw: KubernetesObject): T {
  if (!raw.metadata?.managedFields) return raw as T;
  return { ...raw, metadata: withoutManagedFields(raw.metadata) } as T;
}

export function transformNamespace(raw: KubernetesObject): V1Namespace {
  const ns = raw as V1Namespace;
  const m = ns.metadata ?? {};
  const metadata: Metadata = { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion };
  if (m.labels) metadata.labels = m.labels;
  if (m.deletionTimestamp) metadata.deletionTimestamp = m.deletionTimestamp;
  const out: V1Namespace = { metadata };
  if (ns.status?.phase) out.status = { phase: ns.status.phase };
  return out;
}

export function transformServiceAccount(raw: KubernetesObject): V1ServiceAccount {
  const sa = raw as V1ServiceAccount;
  const m = sa.metadata ?? {};
  const metadata: Metadata = { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion };
  const ours = m.annotations?.[ADDED_PULL_SECRETS_ANNOTATION];
  if (ours !== undefined) metadata.annotations = { [ADDED_PULL_SECRETS_ANNOTATION]: ours };
  if (m.deletionTimestamp) metadata.deletionTimestamp = m.deletionTimestamp;
  const out: V1ServiceAccount = { metadata };
  if (sa.imagePullSecrets) out.imagePullSecrets = sa.imagePullSecrets.map((ref) => ({ name: ref.name }));
  return out;
}

/**
 * One frozen copy of each distinct Secret `data`, shared by every cached Secret holding it, for as long
 * as one does: entries are weak, and dropped once the garbage collector has taken the last holder.
 */
export class DataInterner {
  private readonly byDigest = new Map<string, WeakRef<Readonly<Record<string, string>>>>();
  private readonly registry = new FinalizationRegistry<string>((digest) => {
    const ref = this.byDigest.get(digest);
    if (ref && ref.deref() === undefined) this.byDigest.delete(digest);
  });

  intern(data: Record<string, string>): Readonly<Record<string, string>> {
    const hash = createHash('sha256');
    for (const key of Object.keys(data).sort()) hash.update(key).update('\0').update(data[key] ?? '').update('\0');
    const digest = hash.digest('hex');
    const shared = this.byDigest.get(digest)?.deref();
    if (shared) return shared;
    const frozen = Object.freeze({ ...data });
    this.byDigest.set(digest, new WeakRef(frozen));
    this.registry.register(frozen, digest);
    return frozen;
  }

  /** Distinct contents held (for tests and the benchmark). */
  get size(): number {
    return this.byDigest.size;
  }
}

export function managedSecretTransform(interner: DataInterner): (raw: KubernetesObject) => V1Secret {
  return (raw) => {
    const secret = raw as V1Secret;
    const out: V1Secret = { ...secret, metadata: withoutManagedFields(secret.metadata) };
    if (secret.data) out.data = interner.intern(secret.data);
    return out;
  };
}
