import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { KubeWriter } from '../kube/writer.js';
import type { ClusterView } from './cluster-view.js';

/**
 * The writer the reconciler uses: every Secret and ServiceAccount write it makes is recorded in the
 * view's mutation caches as it succeeds, so a reconcile that runs before the watch event arrives reads
 * our own write, not a stale cache (src/controller/mutation-cache.ts). No call site has to remember.
 */
/**
 * What is kept of a written object until the watch shows it: the informers' own transforms
 * (src/kube/transforms.ts), so that a fan-out of 20,000 writes ahead of its watch holds what the cache
 * would, not 20,000 whole answers with their managedFields.
 */
export interface RecordedShape {
  secret(written: V1Secret): V1Secret;
  serviceAccount(written: V1ServiceAccount): V1ServiceAccount;
}

const AS_WRITTEN: RecordedShape = { secret: (s) => s, serviceAccount: (sa) => sa };

export function recordingWriter(writer: KubeWriter, view: Pick<ClusterView, 'secretWrites' | 'serviceAccountWrites'>, shape: RecordedShape = AS_WRITTEN): KubeWriter {
  return {
    ...writer,
    createSecret: async (secret) => {
      const written = await writer.createSecret(secret);
      view.secretWrites.wrote(shape.secret(written));
      return written;
    },
    replaceSecret: async (secret) => {
      const written = await writer.replaceSecret(secret);
      view.secretWrites.wrote(shape.secret(written));
      return written;
    },
    deleteSecret: async (namespace, name, uid) => {
      try {
        await writer.deleteSecret(namespace, name, uid);
      } catch (err) {
        // Already gone is what we wanted; the informer may not show it yet.
        if ((err as { kind?: string }).kind === 'NotFound') view.secretWrites.deleted(namespace, name);
        throw err;
      }
      view.secretWrites.deleted(namespace, name);
    },
    patchServiceAccount: async (namespace, name, patch) => {
      const written = await writer.patchServiceAccount(namespace, name, patch);
      view.serviceAccountWrites.wrote(shape.serviceAccount(written));
      return written;
    },
  };
}
