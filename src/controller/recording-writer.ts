import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { KubeWriter } from '../kube/writer.js';
import type { ClusterView } from './cluster-view.js';
import type { MutationCache, Versioned } from './mutation-cache.js';

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

/** A write announced to the mutation cache before it is sent, and its answer or failure after (MutationCache.writing). */
async function announced<T extends Versioned>(writes: MutationCache<T>, namespace: string | undefined, name: string, write: () => Promise<T>, keep: (written: T) => T): Promise<T> {
  writes.writing(namespace, name);
  let written: T;
  try {
    written = await write();
  } catch (err) {
    writes.writeFailed(namespace, name);
    throw err;
  }
  writes.wrote(keep(written));
  return written;
}

/**
 * The writer the reconciler uses: every Secret and ServiceAccount write it makes is recorded in the
 * view's mutation caches as it succeeds, so a reconcile that runs before the watch event arrives reads
 * our own write, not a stale cache (src/controller/mutation-cache.ts), and the write's own watch event is
 * known as its echo even when it comes before the answer. No call site has to remember.
 */
export function recordingWriter(writer: KubeWriter, view: Pick<ClusterView, 'secretWrites' | 'serviceAccountWrites'>, shape: RecordedShape = AS_WRITTEN): KubeWriter {
  return {
    ...writer,
    createSecret: (secret) => announced(view.secretWrites, secret.metadata?.namespace, secret.metadata?.name ?? '', () => writer.createSecret(secret), (w) => shape.secret(w)),
    replaceSecret: (secret) => announced(view.secretWrites, secret.metadata?.namespace, secret.metadata?.name ?? '', () => writer.replaceSecret(secret), (w) => shape.secret(w)),
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
    patchServiceAccount: (namespace, name, patch) =>
      announced(view.serviceAccountWrites, namespace, name, () => writer.patchServiceAccount(namespace, name, patch), (w) => shape.serviceAccount(w)),
  };
}
