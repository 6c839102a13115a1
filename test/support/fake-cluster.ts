/**
 * An in-memory stand-in for the informer caches and the API writes, for driving the Reconciler without
 * a cluster (unit tests, test/perf). Writes are applied to the caches at once, as if every watch event
 * arrived immediately; each write is also logged, so a test can assert exactly which writes happened.
 */
import type { KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { FINALIZER, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/constants.js';
import type { RegistryCredential, RegistryCredentialSpec, RegistryCredentialStatus } from '../../src/api/types.js';
import type { Caches } from '../../src/controller/cluster-view.js';
import { KubeApiError } from '../../src/kube/errors.js';
import type { KubeWriter } from '../../src/kube/writer.js';

type Cached = KubernetesObject & { metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string } };

/** The ObjectCache part of a client-node informer: objects by namespace, then by name. */
export class MemoryCache<T extends Cached> {
  private readonly objects = new Map<string, Map<string, T>>();

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace) return [...(this.objects.get(namespace)?.values() ?? [])];
    return [...this.objects.values()].flatMap((byName) => [...byName.values()]);
  }

  put(obj: T): void {
    const namespace = obj.metadata?.namespace ?? '';
    let byName = this.objects.get(namespace);
    if (!byName) this.objects.set(namespace, (byName = new Map()));
    byName.set(obj.metadata?.name ?? '', obj);
  }

  remove(namespace: string | undefined, name: string): boolean {
    return this.objects.get(namespace ?? '')?.delete(name) ?? false;
  }
}

export interface WriteRecord {
  verb: 'create' | 'update' | 'delete' | 'patch' | 'get';
  resource: 'secrets' | 'serviceaccounts' | 'registrycredentials' | 'registrycredentials/status' | 'events';
  namespace?: string;
  name: string;
}

function notFound(what: string): KubeApiError {
  return new KubeApiError('NotFound', 404, `${what}: HTTP 404 not found`);
}

function conflict(what: string): KubeApiError {
  return new KubeApiError('Conflict', 409, `${what}: HTTP 409 the object has been modified`);
}

/** A JSON merge patch (RFC 7386) applied to a plain object. */
function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (typeof value === 'object' && !Array.isArray(value)) {
      const current = out[key];
      out[key] = mergePatch(typeof current === 'object' && current !== null && !Array.isArray(current) ? (current as Record<string, unknown>) : {}, value as Record<string, unknown>);
    } else out[key] = value;
  }
  return out;
}

export class FakeCluster {
  readonly credentials = new MemoryCache<RegistryCredential & KubernetesObject>();
  readonly namespaces = new MemoryCache<V1Namespace>();
  readonly managedSecrets = new MemoryCache<V1Secret>();
  readonly serviceAccounts = new MemoryCache<V1ServiceAccount>();
  readonly sourceSecrets = new MemoryCache<V1Secret>();
  /** Secrets without our managed-by label: on the "API server", never in the label-filtered cache. */
  readonly unmanagedSecrets = new MemoryCache<V1Secret>();
  readonly writes: WriteRecord[] = [];
  /** While true, status writes reach the "API server" but not the cache: an informer that lags behind. */
  holdStatusEcho = false;
  private readonly heldStatus = new Map<string, RegistryCredential & KubernetesObject>();
  private version = 1000;
  private uids = 0;

  constructor(readonly operatorNamespace = 'regcred-system') {}

  get caches(): Caches {
    return {
      credentials: this.credentials,
      namespaces: this.namespaces,
      managedSecrets: this.managedSecrets,
      serviceAccounts: this.serviceAccounts,
      sourceSecrets: this.sourceSecrets,
    };
  }

  nextVersion(): string {
    return String(++this.version);
  }

  private nextUid(): string {
    return `uid-${++this.uids}`;
  }

  addNamespace(name: string, labels: Record<string, string> = {}): void {
    this.namespaces.put({ metadata: { name, labels, uid: this.nextUid(), resourceVersion: this.nextVersion() }, status: { phase: 'Active' } });
  }

  addServiceAccount(namespace: string, name = 'default', extra: Partial<V1ServiceAccount> = {}): void {
    this.serviceAccounts.put({ ...extra, metadata: { ...extra.metadata, namespace, name, uid: this.nextUid(), resourceVersion: this.nextVersion() } });
  }

  addSourceSecret(name: string, stringData: Record<string, string>, type = 'Opaque'): void {
    const data = Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
    this.sourceSecrets.put({ metadata: { namespace: this.operatorNamespace, name, uid: this.nextUid(), resourceVersion: this.nextVersion() }, type, data });
  }

  addCredential(name: string, spec: RegistryCredentialSpec, options: { finalizer?: boolean; creationTimestamp?: string } = {}): RegistryCredential {
    const credential = {
      apiVersion: 'regcred.io/v1alpha1',
      kind: 'RegistryCredential',
      metadata: {
        name,
        uid: this.nextUid(),
        generation: 1,
        resourceVersion: this.nextVersion(),
        creationTimestamp: options.creationTimestamp ?? '2026-01-01T00:00:00Z',
        finalizers: options.finalizer === false ? [] : [FINALIZER],
      },
      spec,
    } as RegistryCredential & KubernetesObject;
    this.credentials.put(credential);
    return credential;
  }

  /** Puts a Secret straight into the managed cache (e.g. one "someone else" created with our label). */
  putManagedSecret(secret: V1Secret): void {
    if (secret.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) throw new Error('only labelled Secrets are in the managed cache');
    this.managedSecrets.put({ ...secret, metadata: { uid: this.nextUid(), ...secret.metadata, resourceVersion: this.nextVersion() } });
  }

  /** A Secret someone else created (no managed-by label): the operator's cache never shows it. */
  putUnmanagedSecret(secret: V1Secret): void {
    this.unmanagedSecrets.put({ ...secret, metadata: { uid: this.nextUid(), ...secret.metadata, resourceVersion: this.nextVersion() } });
  }

  /** A Secret as the "API server" has it, managed or not. */
  secret(namespace: string, name: string): V1Secret | undefined {
    return this.managedSecrets.get(name, namespace) ?? this.unmanagedSecrets.get(name, namespace);
  }

  /** The status the "API server" holds (which the cache may not show yet, see holdStatusEcho). */
  status(name: string): RegistryCredentialStatus | undefined {
    return (this.heldStatus.get(name) ?? this.credentials.get(name))?.status;
  }

  /** Delivers the status writes held back by `holdStatusEcho` to the cache. */
  deliverStatus(): void {
    for (const credential of this.heldStatus.values()) this.credentials.put(credential);
    this.heldStatus.clear();
  }

  count(verb: WriteRecord['verb'], resource: WriteRecord['resource']): number {
    return this.writes.filter((w) => w.verb === verb && w.resource === resource).length;
  }

  clearWrites(): void {
    this.writes.length = 0;
  }

  readonly writer: KubeWriter = {
    createSecret: (secret) => {
      const { namespace = '', name = '' } = secret.metadata ?? {};
      this.writes.push({ verb: 'create', resource: 'secrets', namespace, name });
      if (this.secret(namespace, name)) {
        return Promise.reject(new KubeApiError('AlreadyExists', 409, `create Secret ${namespace}/${name}: HTTP 409 already exists`));
      }
      const stored: V1Secret = structuredClone({ ...secret, metadata: { ...secret.metadata, uid: this.nextUid(), resourceVersion: this.nextVersion() } });
      this.managedSecrets.put(stored);
      return Promise.resolve(structuredClone(stored));
    },
    replaceSecret: (secret) => {
      const { namespace = '', name = '' } = secret.metadata ?? {};
      this.writes.push({ verb: 'update', resource: 'secrets', namespace, name });
      const current = this.secret(namespace, name);
      if (!current) return Promise.reject(notFound(`update Secret ${namespace}/${name}`));
      if (current.metadata?.resourceVersion !== secret.metadata?.resourceVersion) return Promise.reject(conflict(`update Secret ${namespace}/${name}`));
      const stored: V1Secret = structuredClone({ ...secret, metadata: { ...secret.metadata, resourceVersion: this.nextVersion() } });
      // The label-filtered informer: a Secret is in the managed cache exactly while it carries the label.
      const managed = stored.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
      (managed ? this.unmanagedSecrets : this.managedSecrets).remove(namespace, name);
      (managed ? this.managedSecrets : this.unmanagedSecrets).put(stored);
      return Promise.resolve(structuredClone(stored));
    },
    deleteSecret: (namespace, name, uid) => {
      this.writes.push({ verb: 'delete', resource: 'secrets', namespace, name });
      const current = this.managedSecrets.get(name, namespace);
      if (!current) return Promise.reject(notFound(`delete Secret ${namespace}/${name}`));
      if (uid && current.metadata?.uid !== uid) return Promise.reject(conflict(`delete Secret ${namespace}/${name}`));
      this.managedSecrets.remove(namespace, name);
      return Promise.resolve();
    },
    getSecret: (namespace, name) => {
      this.writes.push({ verb: 'get', resource: 'secrets', namespace, name });
      const current = this.secret(namespace, name);
      return current ? Promise.resolve(structuredClone(current)) : Promise.reject(notFound(`get Secret ${namespace}/${name}`));
    },
    getServiceAccount: (namespace, name) => {
      this.writes.push({ verb: 'get', resource: 'serviceaccounts', namespace, name });
      const current = this.serviceAccounts.get(name, namespace);
      return current ? Promise.resolve(structuredClone(current)) : Promise.reject(notFound(`get ServiceAccount ${namespace}/${name}`));
    },
    patchServiceAccount: (namespace, name, patch) => {
      this.writes.push({ verb: 'patch', resource: 'serviceaccounts', namespace, name });
      const current = this.serviceAccounts.get(name, namespace);
      if (!current) return Promise.reject(notFound(`patch ServiceAccount ${namespace}/${name}`));
      const wanted = (patch as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
      if (wanted !== undefined && wanted !== current.metadata?.resourceVersion) return Promise.reject(conflict(`patch ServiceAccount ${namespace}/${name}`));
      const merged = mergePatch(current as Record<string, unknown>, patch as Record<string, unknown>) as V1ServiceAccount;
      merged.metadata = { ...merged.metadata, resourceVersion: this.nextVersion() };
      this.serviceAccounts.put(merged);
      return Promise.resolve(structuredClone(merged));
    },
    patchCredential: (name, patch) => {
      this.writes.push({ verb: 'patch', resource: 'registrycredentials', name });
      const current = this.credentials.get(name);
      if (!current) return Promise.reject(notFound(`patch RegistryCredential ${name}`));
      const merged = mergePatch(current as unknown as Record<string, unknown>, patch as Record<string, unknown>) as unknown as RegistryCredential & KubernetesObject;
      merged.metadata = { ...merged.metadata, resourceVersion: this.nextVersion() };
      this.credentials.put(merged);
      return Promise.resolve(structuredClone(merged));
    },
    patchCredentialStatus: (name, status) => {
      this.writes.push({ verb: 'patch', resource: 'registrycredentials/status', name });
      const current = this.heldStatus.get(name) ?? this.credentials.get(name);
      if (!current) return Promise.reject(notFound(`update status of RegistryCredential ${name}`));
      const next = mergePatch((current.status ?? {}) as Record<string, unknown>, status as Record<string, unknown>) as RegistryCredentialStatus;
      // What the API server stores is JSON: the cached object never shares structure with the reconciler's.
      const stored = { ...current, metadata: { ...current.metadata, resourceVersion: this.nextVersion() }, status: structuredClone(next) };
      if (this.holdStatusEcho) this.heldStatus.set(name, stored);
      else this.credentials.put(stored);
      return Promise.resolve(structuredClone(stored));
    },
    createEvent: (event) => {
      this.writes.push({ verb: 'create', resource: 'events', namespace: event.metadata.namespace, name: event.reason ?? '' });
      return Promise.resolve();
    },
  };
}
