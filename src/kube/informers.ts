import type { KubeConfig, KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { GROUP, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLURAL, VERSION } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import { emptyStats, listWatch, type CachedInformer, type ListWatchSpec, type ListWatchStats, type WatchOptions } from './list-watch.js';
import { DataInterner, managedSecretTransform, stripManagedFields, transformNamespace, transformServiceAccount } from './transforms.js';

export type { CachedInformer, ListWatchStats, WatchOptions } from './list-watch.js';

export const MANAGED_SECRET_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

export type WatchSpec<T extends KubernetesObject> = ListWatchSpec<T>;

/** The five ListWatches the operator runs; nothing else is cached. */
export interface WatchSpecs {
  credentials: WatchSpec<RegistryCredential & KubernetesObject>;
  namespaces: WatchSpec<V1Namespace>;
  managedSecrets: WatchSpec<V1Secret>;
  serviceAccounts: WatchSpec<V1ServiceAccount>;
  sourceSecrets: WatchSpec<V1Secret>;
}

export function watchSpecs(operatorNamespace: string, interner: DataInterner = new DataInterner(), untransformed = false): WatchSpecs {
  const specs: WatchSpecs = {
    credentials: { name: 'registrycredentials', path: `/apis/${GROUP}/${VERSION}/${PLURAL}`, transform: stripManagedFields },
    namespaces: { name: 'namespaces', path: '/api/v1/namespaces', transform: transformNamespace },
    // Only Secrets carrying our label: a cluster's other Secrets are never listed or held in memory.
    managedSecrets: {
      name: 'managed-secrets',
      path: '/api/v1/secrets',
      labelSelector: MANAGED_SECRET_SELECTOR,
      transform: managedSecretTransform(interner),
    },
    serviceAccounts: { name: 'serviceaccounts', path: '/api/v1/serviceaccounts', transform: transformServiceAccount },
    sourceSecrets: { name: 'source-secrets', path: `/api/v1/namespaces/${operatorNamespace}/secrets`, transform: stripManagedFields },
  };
  if (!untransformed) return specs;
  const whole = <T extends KubernetesObject>(raw: KubernetesObject): T => raw as T;
  return {
    credentials: { ...specs.credentials, transform: whole },
    namespaces: { ...specs.namespaces, transform: whole },
    managedSecrets: { ...specs.managedSecrets, transform: whole },
    serviceAccounts: { ...specs.serviceAccounts, transform: whole },
    sourceSecrets: { ...specs.sourceSecrets, transform: whole },
  };
}

/**
 * Builds an informer (src/kube/list-watch.ts) whose lists are observed, so the caller learns when the cache
 * holds a complete list; `stats` counts its lists, relists, pages, watches and bookmarks.
 */
export function buildInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  spec: WatchSpec<T>,
  onListed: () => void,
  stats: ListWatchStats = emptyStats(),
  options: WatchOptions = {},
): CachedInformer<T> {
  return listWatch(kubeConfig, spec, onListed, stats, options);
}
