import type { V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { CREDENTIAL_LABEL } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import { addedPullSecrets } from '../desired/service-accounts.js';
import { toNamespaceView, toServiceAccountView } from './cluster-view.js';

/**
 * Which RegistryCredentials an object concerns. Callbacks only map objects to
 * keys; the reconcile reads everything it needs from the caches.
 */

/**
 * What the reconcile read from each object at its last event, by key. The event filters below compare it
 * with what the new event shows, so that an update changing nothing a credential reads wakes no one.
 * Adds and deletes always wake; so does an update of an object first seen (after a restart).
 */
class LastRead<T> {
  private readonly seen = new Map<string, T>();

  /** Stores `current` (forgets the key on delete) and returns what was there before. */
  swap(key: string, current: T, deleted: boolean): T | undefined {
    const previous = this.seen.get(key);
    if (deleted) this.seen.delete(key);
    else this.seen.set(key, current);
    return previous;
  }

  /** Objects remembered (for tests). */
  get size(): number {
    return this.seen.size;
  }
}

/**
 * A namespace change can change any credential's target set, but only a change of what the reconcile reads
 * from it (src/desired/namespaces.ts): that it exists, its labels, and whether it is terminating. Any other
 * update wakes no one: the namespace controller rewrites a terminating namespace's status conditions
 * several times while it empties it, and each of those ran the full reconcile of every credential.
 */
export class NamespaceEvents {
  private readonly last = new LastRead<string>();

  keys(namespace: V1Namespace, credentials: readonly RegistryCredential[], deleted: boolean): string[] {
    const { name, labels, terminating } = toNamespaceView(namespace);
    // Label keys cannot contain commas, so the default sort of [key, value] pairs orders them by key.
    const read = JSON.stringify([terminating, Object.entries(labels).sort()]);
    const previous = this.last.swap(name, read, deleted);
    if (!deleted && previous === read) return [];
    return credentials.map((c) => c.metadata.name);
  }

  get size(): number {
    return this.last.size;
  }
}

/**
 * A managed Secret belongs to the credential named in its label. When one goes, the credentials that
 * publish a Secret of the same name are woken too: one of them may have lost that namespace to the
 * Secret's owner (SecretConflict) and can take it now, instead of waiting for the periodic resync.
 */
export function keysForManagedSecret(secret: V1Secret, credentials: readonly RegistryCredential[] = [], deleted = false): string[] {
  const owner = secret.metadata?.labels?.[CREDENTIAL_LABEL];
  const keys = owner ? [owner] : [];
  if (deleted) keys.push(...sharingSecretName(secret.metadata?.name ?? '', owner, credentials));
  return keys;
}

/** Credentials other than `except` whose Secret name is `secretName`. */
export function sharingSecretName(secretName: string, except: string | undefined, credentials: readonly RegistryCredential[]): string[] {
  return credentials.filter((c) => c.metadata.name !== except && (c.spec.secretName ?? c.metadata.name) === secretName).map((c) => c.metadata.name);
}

/**
 * A RegistryCredential event concerns itself; once it is being deleted (or gone), also the credentials
 * that share its Secret name, which stop deferring to it (src/reconcile/gather.ts, competingClaims).
 */
export function keysForCredential(credential: RegistryCredential, credentials: readonly RegistryCredential[], deleted: boolean): string[] {
  const name = credential.metadata.name;
  if (!deleted && !credential.metadata.deletionTimestamp) return [name];
  return [name, ...sharingSecretName(credential.spec.secretName ?? name, name, credentials)];
}

/**
 * Credential events, without the updates that change only its status (what controller-runtime's
 * GenerationChangedPredicate leaves out, with the metadata the reconcile reads added back). Each status
 * write of ours comes back as an update, and at 20,000 namespaces each ran the whole reconcile again
 * (hundreds of milliseconds) for nothing: status is what the reconcile writes, not what it acts on. A spec
 * change moves the generation; a finalizer, the deletion timestamp or a new object of the same name (uid)
 * changes what the reconcile does, so those still wake it, as do adds and deletes. The periodic resync
 * rewrites a status someone else edited.
 */
export class CredentialEvents {
  private readonly last = new LastRead<string>();

  keys(credential: RegistryCredential, credentials: readonly RegistryCredential[], deleted: boolean): string[] {
    const { name, uid, generation, deletionTimestamp, finalizers, creationTimestamp } = credential.metadata;
    const read = JSON.stringify([uid, generation, deletionTimestamp ?? null, finalizers ?? [], creationTimestamp ?? null]);
    const previous = this.last.swap(name, read, deleted);
    if (!deleted && previous === read) return [];
    return keysForCredential(credential, credentials, deleted);
  }

  get size(): number {
    return this.last.size;
  }
}

/** A source Secret concerns every credential that reads it. */
export function keysForSourceSecret(secret: V1Secret, credentials: readonly RegistryCredential[]): string[] {
  const name = secret.metadata?.name;
  return credentials
    .filter((c) => {
      const spec = c.spec;
      const refs = [spec.static?.credentialsSecretRef, spec.ecr?.credentialsSecretRef, spec.gcr?.credentialsSecretRef];
      return refs.some((ref) => ref?.name === name);
    })
    .map((c) => c.metadata.name);
}

/**
 * A ServiceAccount concerns the credentials that select it by name (or all), and those whose Secret name
 * our annotation records on it, now or before this change.
 */
function concernedBy(sa: V1ServiceAccount, recorded: readonly string[], credentials: readonly RegistryCredential[]): RegistryCredential[] {
  const name = sa.metadata?.name ?? '';
  return credentials.filter((c) => {
    const selected = c.spec.serviceAccounts?.names ?? ['default'];
    if (selected.includes('*') || selected.includes(name)) return true;
    return recorded.includes(c.spec.secretName ?? c.metadata.name);
  });
}

/** What a credential's reconcile reads from a ServiceAccount besides its name: its pull-secret names and our record. */
interface PullSecretFacts {
  entries: readonly string[];
  recorded: readonly string[];
}

function pullSecretFacts(sa: V1ServiceAccount): PullSecretFacts {
  const view = toServiceAccountView(sa);
  return { entries: (view.imagePullSecrets ?? []).map((ref) => ref.name ?? ''), recorded: addedPullSecrets(view) };
}

/**
 * Maps ServiceAccount events to the credentials they concern, leaving out the updates that change nothing
 * a credential reads. A credential reads, from a ServiceAccount it selects, only whether its own Secret is
 * listed and whether our annotation records it (as ours): when another credential (or anyone) adds or
 * removes a different entry, this one has nothing to do. Without this, with K credentials on the same default
 * ServiceAccounts, every patch one of them makes ran the full reconcile of all K: at 5,000 namespaces a
 * Google credential's first fan-out beside a static one took 117 s instead of 21 s (`npm run bench`).
 * Adds and deletes always count (they move the counts in status). The periodic resync stays the safety net.
 */
export class ServiceAccountEvents {
  private readonly last = new LastRead<PullSecretFacts>();

  keys(sa: V1ServiceAccount, credentials: readonly RegistryCredential[], deleted: boolean): string[] {
    const current = pullSecretFacts(sa);
    const previous = this.last.swap(`${sa.metadata?.namespace ?? ''}/${sa.metadata?.name ?? ''}`, current, deleted);
    const recorded = previous ? [...previous.recorded, ...current.recorded] : current.recorded;
    return concernedBy(sa, recorded, credentials)
      .filter((c) => deleted || !previous || readsChanged(c.spec.secretName ?? c.metadata.name, previous, current))
      .map((c) => c.metadata.name);
  }

  get size(): number {
    return this.last.size;
  }
}

function readsChanged(secretName: string, before: PullSecretFacts, after: PullSecretFacts): boolean {
  return (
    before.entries.includes(secretName) !== after.entries.includes(secretName) ||
    before.recorded.includes(secretName) !== after.recorded.includes(secretName)
  );
}
