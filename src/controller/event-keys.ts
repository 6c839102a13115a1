import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { ADDED_PULL_SECRETS_ANNOTATION, CREDENTIAL_LABEL } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';

/**
 * Which RegistryCredentials an object concerns. Callbacks only map objects to
 * keys; the reconcile reads everything it needs from the caches.
 */

/** A namespace change (new, relabelled, terminating, gone) can change any credential's target set. */
export function keysForNamespace(credentials: readonly RegistryCredential[]): string[] {
  return credentials.map((c) => c.metadata.name);
}

/** A managed Secret belongs to the credential named in its label. */
export function keysForManagedSecret(secret: V1Secret): string[] {
  const owner = secret.metadata?.labels?.[CREDENTIAL_LABEL];
  return owner ? [owner] : [];
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
 * A ServiceAccount concerns the credentials that select it by name (or all),
 * and those whose Secret name our annotation records on it.
 */
export function keysForServiceAccount(sa: V1ServiceAccount, credentials: readonly RegistryCredential[]): string[] {
  const name = sa.metadata?.name ?? '';
  const recorded = sa.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION] ?? '';
  return credentials
    .filter((c) => {
      const selected = c.spec.serviceAccounts?.names ?? ['default'];
      if (selected.includes('*') || selected.includes(name)) return true;
      return recorded.includes(c.spec.secretName ?? c.metadata.name);
    })
    .map((c) => c.metadata.name);
}
