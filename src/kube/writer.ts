import {
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../api/constants.js';
import type { RegistryCredential, RegistryCredentialStatus } from '../api/types.js';
import type { KubeConnection } from './connection.js';
import { call } from './errors.js';
import { kubeRequest, namespacedPath } from './raw.js';

const FIELD_MANAGER = 'regcred-operator';
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * Every write the reconciler makes, in one place: what RBAC must allow is exactly this file (config/rbac/
 * names each call), plus the leader election's Lease (src/leader/lease-lock.ts). Under leader election
 * each call is fenced (src/leader/fence.ts).
 */
export interface KubeWriter {
  createSecret(secret: V1Secret): Promise<V1Secret>;
  replaceSecret(secret: V1Secret): Promise<V1Secret>;
  /** Reads one Secret: only to adopt an unmanaged one of our name when spec.adoptExisting asks for it. */
  getSecret(namespace: string, name: string): Promise<V1Secret>;
  /** Deletes only the object with this uid (a precondition), so a newer same-named Secret survives. */
  deleteSecret(namespace: string, name: string, uid: string): Promise<void>;
  getServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount>;
  /** A JSON merge patch; callers put metadata.resourceVersion in it to make it conditional. */
  patchServiceAccount(namespace: string, name: string, patch: object): Promise<V1ServiceAccount>;
  patchCredential(name: string, patch: object): Promise<RegistryCredential>;
  patchCredentialStatus(name: string, status: RegistryCredentialStatus): Promise<RegistryCredential>;
  createEvent(event: CoreV1Event): Promise<void>;
}

export function kubeWriter(conn: KubeConnection): KubeWriter {
  const { core, custom, kubeConfig } = conn;
  // The fan-out's calls go as plain JSON (src/kube/raw.ts); the rare ones keep client-node's APIs.
  const secrets = (namespace: string, name?: string): string => namespacedPath('/api/v1', 'secrets', namespace, name);
  const serviceAccount = (namespace: string, name: string): string => namespacedPath('/api/v1', 'serviceaccounts', namespace, name);
  const managed = { fieldManager: FIELD_MANAGER };
  return {
    createSecret: (secret) =>
      call(`create Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`, () =>
        kubeRequest<V1Secret>(kubeConfig, { method: 'POST', path: secrets(secret.metadata!.namespace!), query: managed, body: secret }),
      ),
    replaceSecret: (secret) =>
      call(`update Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`, () =>
        kubeRequest<V1Secret>(kubeConfig, { method: 'PUT', path: secrets(secret.metadata!.namespace!, secret.metadata!.name), query: managed, body: secret }),
      ),
    getSecret: (namespace, name) => call(`get Secret ${namespace}/${name}`, () => kubeRequest<V1Secret>(kubeConfig, { method: 'GET', path: secrets(namespace, name) })),
    deleteSecret: async (namespace, name, uid) => {
      await call(`delete Secret ${namespace}/${name}`, () =>
        kubeRequest(kubeConfig, { method: 'DELETE', path: secrets(namespace, name), body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid } } }),
      );
    },
    getServiceAccount: (namespace, name) =>
      call(`get ServiceAccount ${namespace}/${name}`, () => kubeRequest<V1ServiceAccount>(kubeConfig, { method: 'GET', path: serviceAccount(namespace, name) })),
    patchServiceAccount: (namespace, name, patch) =>
      call(`patch ServiceAccount ${namespace}/${name}`, () =>
        kubeRequest<V1ServiceAccount>(kubeConfig, { method: 'PATCH', path: serviceAccount(namespace, name), query: managed, body: patch, contentType: PatchStrategy.MergePatch }),
      ),
    patchCredential: (name, patch) =>
      call(`patch RegistryCredential ${name}`, async () =>
        (await custom.patchClusterCustomObject(
          { group: GROUP, version: VERSION, plural: PLURAL, name, body: patch, fieldManager: FIELD_MANAGER },
          MERGE_PATCH,
        )) as RegistryCredential,
      ),
    patchCredentialStatus: (name, status) =>
      call(`update status of RegistryCredential ${name}`, async () =>
        (await custom.patchClusterCustomObjectStatus(
          { group: GROUP, version: VERSION, plural: PLURAL, name, body: { status }, fieldManager: FIELD_MANAGER },
          MERGE_PATCH,
        )) as RegistryCredential,
      ),
    createEvent: async (event) => {
      await call('create Event', () => core.createNamespacedEvent({ namespace: event.metadata.namespace!, body: event }));
    },
  };
}
