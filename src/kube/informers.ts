import type { KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { GROUP, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLURAL, VERSION } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import type { ListWatchSpec } from './list-watch.js';
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

/** Caches objects as the API server sent them (REGCRED_INFORMER_TRANSFORM=false: the benchmark's baseline). */
const whole = <T extends KubernetesObject>(raw: KubernetesObject): T => raw as T;

export function watchSpecs(operatorNamespace: string, interner: DataInterner = new DataInterner(), untransformed = false): WatchSpecs {
  const pick = <T extends KubernetesObject>(transform: (raw: KubernetesObject) => T): ((raw: KubernetesObject) => T) => (untransformed ? whole : transform);
  return {
    credentials: { name: 'registrycredentials', path: `/apis/${GROUP}/${VERSION}/${PLURAL}`, transform: pick<RegistryCredential & KubernetesObject>(stripManagedFields) },
    namespaces: { name: 'namespaces', path: '/api/v1/namespaces', transform: pick(transformNamespace) },
    // Only Secrets carrying our label: a cluster's other Secrets are never listed or held in memory.
    managedSecrets: {
      name: 'managed-secrets',
      path: '/api/v1/secrets',
      labelSelector: MANAGED_SECRET_SELECTOR,
      transform: pick(managedSecretTransform(interner)),
    },
    serviceAccounts: { name: 'serviceaccounts', path: '/api/v1/serviceaccounts', transform: pick(transformServiceAccount) },
    sourceSecrets: { name: 'source-secrets', path: `/api/v1/namespaces/${operatorNamespace}/secrets`, transform: pick<V1Secret>(stripManagedFields) },
  };
}
