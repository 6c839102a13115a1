/**
 * Decide, per target namespace, what the pull Secret needs: nothing, a create, an update or a replace, or
 * nothing we may do (someone else's Secret). Pure: reads only the snapshot.
 */
import { CREDENTIAL_LABEL, DOCKERCONFIGJSON_TYPE } from '../api/constants.js';
import type { FailedNamespace } from '../api/types.js';
import { ownershipOfCached, secretNeedsReplace, secretNeedsUpdate, type SecretTemplate, type SecretView } from '../desired/secret.js';
import type { Snapshot } from './gather.js';

/**
 * How long a namespace where our create met a Secret we do not manage is left alone. That Secret is not in
 * our label-selected cache, so nothing tells us when it goes; re-trying the create on every resync would be a
 * write each time.
 */
export const CONFLICT_RECHECK_MS = 5 * 60_000;

export interface NamespaceResult {
  namespace: string;
  synced: boolean;
  /** Our Secret was there before this reconcile. */
  existed?: boolean;
  failure?: FailedNamespace;
  /** Worth retrying soon (a conflict, a transient error): the reconcile fails and backs off. */
  retry?: boolean;
  /** The API server asked to wait this long before trying again (Retry-After). */
  retryAfterMs?: number;
  /** An unmanaged Secret of our name was met (remember it, CONFLICT_RECHECK_MS). */
  metUnmanaged?: boolean;
  /** An unmanaged dockerconfigjson Secret was adopted (spec.adoptExisting). */
  adopted?: boolean;
}

export type SecretWrite =
  | { namespace: string; kind: 'create' }
  | { namespace: string; kind: 'update' | 'replace'; existing: SecretView };

export interface SecretPlan {
  /** Namespaces settled without a write. */
  settled: NamespaceResult[];
  writes: SecretWrite[];
}

export interface ConflictMemory {
  /** namespace → when a create there met an unmanaged Secret. */
  unmanagedConflicts: ReadonlyMap<string, number>;
}

export function unmanagedConflictMessage(secretName: string, namespace: string): string {
  return (
    `Secret ${secretName} already exists in ${namespace} and is not managed by regcred-operator, so it is left alone: ` +
    `delete it, choose another spec.secretName, or set spec.adoptExisting: true to take over existing ${DOCKERCONFIGJSON_TYPE} Secrets`
  );
}

export function notAdoptableMessage(secretName: string, namespace: string, type: string | undefined): string {
  return (
    `Secret ${secretName} in ${namespace} has type ${type ?? 'Opaque'}; spec.adoptExisting takes over only ${DOCKERCONFIGJSON_TYPE} Secrets, ` +
    `so it is left alone: delete or rename it, or choose another spec.secretName`
  );
}

function conflict(namespace: string, message: string): NamespaceResult {
  return { namespace, synced: false, failure: { namespace, reason: 'SecretConflict', message } };
}

export function planSecrets(snapshot: Snapshot, template: SecretTemplate, memory: ConflictMemory): SecretPlan {
  const { name, secretName, now } = snapshot;
  const adopt = snapshot.credential.spec.adoptExisting === true;
  const settled: NamespaceResult[] = [];
  const writes: SecretWrite[] = [];
  for (const namespace of snapshot.targets) {
    const existing = snapshot.existing.get(namespace);
    const ownership = ownershipOfCached(existing, name);
    if (ownership === 'foreign') {
      const owner = existing?.metadata.labels?.[CREDENTIAL_LABEL];
      settled.push(
        conflict(
          namespace,
          owner
            ? `Secret ${secretName} in ${namespace} is managed by RegistryCredential ${owner}: give one of them another spec.secretName`
            : `Secret ${secretName} in ${namespace} carries regcred-operator's managed-by label but names no RegistryCredential, so it is left alone: delete it or choose another spec.secretName`,
        ),
      );
      continue;
    }
    if (ownership === 'unmanaged-or-none') {
      const older = snapshot.claims.get(namespace);
      if (older) {
        settled.push(conflict(namespace, `Secret ${secretName} in ${namespace} is claimed by the older RegistryCredential ${older}: give one of them another spec.secretName`));
        continue;
      }
      const seen = memory.unmanagedConflicts.get(namespace);
      if (!adopt && seen !== undefined && now.getTime() - seen < CONFLICT_RECHECK_MS) {
        settled.push(conflict(namespace, unmanagedConflictMessage(secretName, namespace)));
        continue;
      }
      writes.push({ namespace, kind: 'create' });
      continue;
    }
    if (!secretNeedsUpdate(existing!, template)) {
      settled.push({ namespace, synced: true, existed: true });
      continue;
    }
    writes.push({ namespace, kind: secretNeedsReplace(existing!, template) ? 'replace' : 'update', existing: existing! });
  }
  return { settled, writes };
}
