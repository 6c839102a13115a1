import {
  makeInformer,
  type CoreV1Api,
  type CustomObjectsApi,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1Namespace,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { GROUP, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLURAL, VERSION } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';

export const MANAGED_SECRET_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

export interface WatchSpec<T extends KubernetesObject> {
  name: string;
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
}

/** The five ListWatches the operator runs; nothing else is cached. */
export interface WatchSpecs {
  credentials: WatchSpec<RegistryCredential & KubernetesObject>;
  namespaces: WatchSpec<V1Namespace>;
  managedSecrets: WatchSpec<V1Secret>;
  serviceAccounts: WatchSpec<V1ServiceAccount>;
  sourceSecrets: WatchSpec<V1Secret>;
}

export function watchSpecs(core: CoreV1Api, custom: CustomObjectsApi, operatorNamespace: string): WatchSpecs {
  return {
    credentials: {
      name: 'registrycredentials',
      path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      list: async () =>
        (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as KubernetesListObject<
          RegistryCredential & KubernetesObject
        >,
    },
    namespaces: { name: 'namespaces', path: '/api/v1/namespaces', list: () => core.listNamespace() },
    // Only Secrets carrying our label: a cluster's other Secrets are never listed or held in memory.
    // The selector is applied to the list as well as the watch (client-node applies it to the watch only).
    managedSecrets: {
      name: 'managed-secrets',
      path: '/api/v1/secrets',
      labelSelector: MANAGED_SECRET_SELECTOR,
      list: () => core.listSecretForAllNamespaces({ labelSelector: MANAGED_SECRET_SELECTOR }),
    },
    serviceAccounts: {
      name: 'serviceaccounts',
      path: '/api/v1/serviceaccounts',
      list: () => core.listServiceAccountForAllNamespaces(),
    },
    sourceSecrets: {
      name: 'source-secrets',
      path: `/api/v1/namespaces/${operatorNamespace}/secrets`,
      list: () => core.listNamespacedSecret({ namespace: operatorNamespace }),
    },
  };
}

export type CachedInformer<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/**
 * Builds an informer whose list call is observed, so the caller learns when
 * the cache holds a complete first list.
 */
export function buildInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  spec: WatchSpec<T>,
  onListed: () => void,
): CachedInformer<T> {
  const list = async (): Promise<KubernetesListObject<T>> => {
    const result = await spec.list();
    // The informer fills its cache right after this promise settles; a macrotask runs after that.
    setImmediate(onListed);
    return result;
  };
  return makeInformer<T>(kubeConfig, spec.path, list, spec.labelSelector);
}
