import type { KubeWriter } from '../kube/writer.js';
import type { ClusterView } from './cluster-view.js';

/**
 * The writer the reconciler uses: every Secret and ServiceAccount write it makes is recorded in the
 * view's mutation caches as it succeeds, so a reconcile that runs before the watch event arrives reads
 * our own write, not a stale cache (src/controller/mutation-cache.ts). No call site has to remember.
 */
export function recordingWriter(writer: KubeWriter, view: Pick<ClusterView, 'secretWrites' | 'serviceAccountWrites'>): KubeWriter {
  return {
    ...writer,
    createSecret: async (secret) => {
      const written = await writer.createSecret(secret);
      view.secretWrites.wrote(written);
      return written;
    },
    replaceSecret: async (secret) => {
      const written = await writer.replaceSecret(secret);
      view.secretWrites.wrote(written);
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
      view.serviceAccountWrites.wrote(written);
      return written;
    },
  };
}
