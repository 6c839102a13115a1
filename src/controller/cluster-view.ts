import type { KubernetesObject, ObjectCache, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { CREDENTIAL_LABEL } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import type { NamespaceView } from '../desired/namespaces.js';
import type { SecretView } from '../desired/secret.js';
import type { ServiceAccountView } from '../desired/service-accounts.js';
import type { SourceReader, SourceSecret } from '../providers/types.js';
import { MutationCache } from './mutation-cache.js';

export interface Caches {
  credentials: ObjectCache<RegistryCredential & KubernetesObject>;
  namespaces: ObjectCache<V1Namespace>;
  managedSecrets: ObjectCache<V1Secret>;
  serviceAccounts: ObjectCache<V1ServiceAccount>;
  sourceSecrets: ObjectCache<V1Secret>;
}

export function toNamespaceView(ns: V1Namespace): NamespaceView {
  return {
    name: ns.metadata?.name ?? '',
    labels: ns.metadata?.labels ?? {},
    terminating: Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating',
  };
}

export function toServiceAccountView(sa: V1ServiceAccount): ServiceAccountView {
  return {
    namespace: sa.metadata?.namespace ?? '',
    name: sa.metadata?.name ?? '',
    resourceVersion: sa.metadata?.resourceVersion,
    imagePullSecrets: sa.imagePullSecrets,
    annotations: sa.metadata?.annotations,
  };
}

/** How many of our Secret (and ServiceAccount) writes may wait for their watch event before the next write waits. */
export const WRITES_AHEAD_OF_WATCH = 512;

/**
 * The reconciler's only way to read the cluster: the informers' caches, with
 * the operator's own recent writes laid over them until the watch catches up.
 */
export class ClusterView {
  readonly secretWrites: MutationCache<V1Secret>;
  readonly serviceAccountWrites: MutationCache<V1ServiceAccount>;

  constructor(
    private readonly caches: Caches,
    readonly operatorNamespace: string,
    now: () => number,
  ) {
    this.secretWrites = new MutationCache<V1Secret>({
      now,
      cachedVersion: (namespace, name) => caches.managedSecrets.get(name, namespace)?.metadata?.resourceVersion,
    });
    this.serviceAccountWrites = new MutationCache<V1ServiceAccount>({
      now,
      cachedVersion: (namespace, name) => caches.serviceAccounts.get(name, namespace)?.metadata?.resourceVersion,
    });
  }

  /** Resolves when our writes are at most WRITES_AHEAD_OF_WATCH ahead of the watches (MutationCache.roomFor). */
  async watchesKeepingUp(): Promise<void> {
    await this.secretWrites.roomFor(WRITES_AHEAD_OF_WATCH);
    await this.serviceAccountWrites.roomFor(WRITES_AHEAD_OF_WATCH);
  }

  credential(name: string): RegistryCredential | undefined {
    return this.caches.credentials.get(name);
  }

  credentials(): readonly RegistryCredential[] {
    return this.caches.credentials.list();
  }

  namespaces(): NamespaceView[] {
    return this.caches.namespaces.list().map(toNamespaceView);
  }

  /** The namespaces of these names that exist. */
  namespacesNamed(names: Iterable<string>): NamespaceView[] {
    const found: NamespaceView[] = [];
    for (const name of names) {
      const ns = this.caches.namespaces.get(name);
      if (ns) found.push(toNamespaceView(ns));
    }
    return found;
  }

  namespaceExists(name: string): boolean {
    return this.caches.namespaces.get(name) !== undefined;
  }

  managedSecret(namespace: string, name: string): SecretView | undefined {
    const secret = this.secretWrites.read(namespace, name, this.caches.managedSecrets.get(name, namespace));
    return secret as SecretView | undefined;
  }

  /** Every Secret labelled for this credential, wherever it is (or only in `namespaces`). */
  managedSecretsOf(credential: string, namespaces?: Iterable<string>): SecretView[] {
    const found: SecretView[] = [];
    const cachedSecrets = namespaces ? [...namespaces].flatMap((ns) => this.caches.managedSecrets.list(ns)) : this.caches.managedSecrets.list();
    for (const cached of cachedSecrets) {
      if (cached.metadata?.labels?.[CREDENTIAL_LABEL] !== credential) continue;
      const fresh = this.secretWrites.read(cached.metadata.namespace, cached.metadata.name ?? '', cached) as SecretView | undefined;
      if (fresh && fresh.metadata.labels?.[CREDENTIAL_LABEL] === credential) found.push(fresh);
    }
    return found;
  }

  /** One ServiceAccount as the reconcile sees it: the cache with our own recent write laid over it. */
  serviceAccount(namespace: string, name: string): ServiceAccountView | undefined {
    const sa = this.serviceAccountWrites.read(namespace, name, this.caches.serviceAccounts.get(name, namespace));
    return sa ? toServiceAccountView(sa) : undefined;
  }

  serviceAccounts(namespace: string): ServiceAccountView[] {
    return this.caches.serviceAccounts
      .list(namespace)
      .map((sa) => this.serviceAccountWrites.read(namespace, sa.metadata?.name ?? '', sa))
      .filter((sa): sa is V1ServiceAccount => sa !== undefined)
      .map(toServiceAccountView);
  }

  /**
   * Every ServiceAccount in the cluster (for cleanup of entries in namespaces no longer targeted), or only
   * those in `namespaces`, except those in `exceptNamespaces`, which are skipped before any work is done on them.
   */
  allServiceAccounts(exceptNamespaces?: ReadonlySet<string>, namespaces?: Iterable<string>): ServiceAccountView[] {
    const found: ServiceAccountView[] = [];
    const cachedAccounts = namespaces
      ? [...namespaces].filter((ns) => !exceptNamespaces?.has(ns)).flatMap((ns) => this.caches.serviceAccounts.list(ns))
      : this.caches.serviceAccounts.list();
    for (const cached of cachedAccounts) {
      const namespace = cached.metadata?.namespace;
      if (exceptNamespaces?.has(namespace ?? '')) continue;
      const fresh = this.serviceAccountWrites.read(namespace, cached.metadata?.name ?? '', cached);
      if (fresh) found.push(toServiceAccountView(fresh));
    }
    return found;
  }

  get sources(): SourceReader {
    return { namespace: this.operatorNamespace, get: (name) => this.sourceSecret(name) };
  }

  private sourceSecret(name: string): SourceSecret | undefined {
    const secret = this.caches.sourceSecrets.get(name, this.operatorNamespace);
    if (!secret) return undefined;
    return { name, type: secret.type, data: secret.data ?? {}, resourceVersion: secret.metadata?.resourceVersion };
  }
}
