/**
 * Edits to ServiceAccount.imagePullSecrets. The list is atomic (no merge key), so every edit is a
 * read-modify-write of the whole list guarded by resourceVersion (docs/adr/0002). The operator records
 * the names it added in an annotation and only ever removes what that record lists: an entry a person
 * or another controller put there is never removed, even when it has the same name as ours.
 */
import { ADDED_PULL_SECRETS_ANNOTATION, DEFAULT_SERVICE_ACCOUNTS } from '../api/constants.js';

const SECRET_NAME = /^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$/;

/** A V1LocalObjectReference; kept as the API returned it, including any oddity such as a missing name. */
export interface PullSecretRef {
  name?: string;
}

export interface ServiceAccountView {
  namespace: string;
  name: string;
  resourceVersion?: string;
  imagePullSecrets?: PullSecretRef[];
  annotations?: Record<string, string>;
}

export interface PullSecretChange {
  imagePullSecrets: PullSecretRef[];
  /** The new value of ADDED_PULL_SECRETS_ANNOTATION; null when the record becomes empty (remove it). */
  addedAnnotation: string | null;
}

export interface ServiceAccountPatch {
  metadata: { resourceVersion: string; annotations: Record<string, string | null> };
  imagePullSecrets: PullSecretRef[];
}

/** Default ["default"]; ["*"] selects every ServiceAccount; [] selects none. Sorted by name. */
export function selectServiceAccounts(names: string[] | undefined, accountsInNamespace: ServiceAccountView[]): ServiceAccountView[] {
  const wanted = names ?? DEFAULT_SERVICE_ACCOUNTS;
  const all = wanted.includes('*');
  const set = new Set(wanted);
  return accountsInNamespace.filter((sa) => all || set.has(sa.name)).sort((a, b) => compare(a.name, b.name));
}

/**
 * The names the annotation says this operator added. Whatever cannot be read as a list of Secret names
 * counts as not recorded: keeping an entry is safe, removing someone else's is not.
 */
export function addedPullSecrets(sa: ServiceAccountView): string[] {
  const raw = (sa.annotations?.[ADDED_PULL_SECRETS_ANNOTATION] ?? '').trim();
  return sortedUnique(parseRecord(raw).filter((name) => SECRET_NAME.test(name)));
}

/**
 * Appends `{name: secretName}` once at the end, keeping every other entry in its order, and records it
 * as ours. An entry that is already there is left alone, and if we had not recorded it, it stays
 * someone else's, so it is never removed later. Returns null when nothing needs to change.
 */
export function addPullSecret(sa: ServiceAccountView, secretName: string): PullSecretChange | null {
  const entries = sa.imagePullSecrets ?? [];
  if (entries.some((entry) => entry.name === secretName)) return null;
  return {
    imagePullSecrets: [...entries, { name: secretName }],
    addedAnnotation: formatAdded([...addedPullSecrets(sa), secretName]),
  };
}

/**
 * Drops our entry only if our record lists it, and always drops the record. Only one entry goes: we add
 * at most one, so a second entry with the same name was put there by someone else and stays.
 * Returns null when nothing needs to change.
 */
export function removePullSecret(sa: ServiceAccountView, secretName: string): PullSecretChange | null {
  const recorded = addedPullSecrets(sa);
  if (!recorded.includes(secretName)) return null;
  const entries = sa.imagePullSecrets ?? [];
  const index = entries.map((entry) => entry.name).lastIndexOf(secretName);
  return {
    imagePullSecrets: index < 0 ? [...entries] : [...entries.slice(0, index), ...entries.slice(index + 1)],
    addedAnnotation: formatAdded(recorded.filter((name) => name !== secretName)),
  };
}

/**
 * A JSON merge patch carrying metadata.resourceVersion, so the API server applies it only to the list we
 * read (409 otherwise: re-read and recompute). The whole list is sent because it is atomic.
 */
export function serviceAccountPatch(sa: ServiceAccountView, change: PullSecretChange): ServiceAccountPatch {
  if (!sa.resourceVersion) {
    throw new Error(`ServiceAccount ${sa.namespace}/${sa.name} has no resourceVersion: an unguarded write could drop others' entries`);
  }
  return {
    metadata: { resourceVersion: sa.resourceVersion, annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: change.addedAnnotation } },
    imagePullSecrets: change.imagePullSecrets,
  };
}

/** Applies a change to a view, e.g. to keep a local copy current after a successful write. */
export function applyPullSecretChange(sa: ServiceAccountView, change: PullSecretChange): ServiceAccountView {
  const annotations = { ...(sa.annotations ?? {}) };
  if (change.addedAnnotation === null) delete annotations[ADDED_PULL_SECRETS_ANNOTATION];
  else annotations[ADDED_PULL_SECRETS_ANNOTATION] = change.addedAnnotation;
  return { ...sa, annotations, imagePullSecrets: change.imagePullSecrets };
}

/** JSON array (what we write) or comma-separated (what a person might write by hand). */
function parseRecord(raw: string): string[] {
  if (raw === '') return [];
  if (!raw.startsWith('[') && !raw.startsWith('{')) return raw.split(',').map((name) => name.trim());
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? parsed.filter((name): name is string => typeof name === 'string') : [];
  } catch {
    return [];
  }
}

function formatAdded(names: string[]): string | null {
  const sorted = sortedUnique(names);
  return sorted.length === 0 ? null : JSON.stringify(sorted);
}

function sortedUnique(names: string[]): string[] {
  return [...new Set(names)].sort(compare);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
