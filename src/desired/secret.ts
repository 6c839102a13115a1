/**
 * The pull Secret the operator keeps in each target namespace, and the ownership rules around it:
 * a Secret we did not create is never touched, and on one we did, only our own fields are compared and
 * written so that labels and annotations added by others survive every update.
 */
import { createHash } from 'node:crypto';
import {
  API_VERSION,
  CREDENTIAL_LABEL,
  DOCKERCONFIGJSON_KEY,
  DOCKERCONFIGJSON_TYPE,
  CREDENTIAL_DIGEST_ANNOTATION,
  EXPIRES_AT_ANNOTATION,
  GROUP,
  KIND,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from '../api/constants.js';
import { toKubeTime } from '../status/time.js';

const GROUP_PREFIX = `${GROUP}/`;

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface SecretMetadata {
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [other: string]: unknown;
}

/** The parts of a V1Secret this module reads; a client-node V1Secret maps onto it field for field. */
export interface SecretView {
  apiVersion?: string;
  kind?: string;
  metadata: SecretMetadata;
  type?: string;
  data?: Record<string, string>;
  [other: string]: unknown;
}

export interface DesiredSecret extends SecretView {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: SecretMetadata & {
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: OwnerReference[];
  };
  type: typeof DOCKERCONFIGJSON_TYPE;
  data: Record<string, string>;
}

export interface DesiredSecretInput {
  credentialName: string;
  credentialUid: string;
  secretName: string;
  namespace: string;
  /** The JSON text, as built by buildDockerConfigJson; encoded to base64 here. */
  dockerConfigJson: string;
  expiresAt?: Date;
}

/**
 * Whose a Secret in our label-filtered cache is. `unmanaged-or-none`: no Secret of that name carries our
 * managed-by label; one without the label may still exist, which that cache never shows (a create then
 * meets 409 AlreadyExists).
 */
export type SecretOwnership = 'unmanaged-or-none' | 'ours' | 'foreign';

/** The fields of a Secret the operator owns and compares; a DesiredSecret and a SecretTemplate both have them. */
export interface OwnedSecretFields {
  type: string;
  data: Record<string, string>;
  metadata: {
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: OwnerReference[];
  };
}

/**
 * Everything the Secrets of one credential have in common: the same in every namespace. Built once per
 * reconcile, because the base64 encoding and the SHA-256 digest of the document cost far more than the
 * comparison that usually follows (a credential is compared with thousands of Secrets that already match).
 * Never mutated: `desiredSecretIn` copies what it takes.
 */
export interface SecretTemplate extends OwnedSecretFields {
  metadata: OwnedSecretFields['metadata'] & { name: string };
}

export function secretTemplate(input: Omit<DesiredSecretInput, 'namespace'>): SecretTemplate {
  const annotations: Record<string, string> = {};
  if (input.expiresAt) {
    annotations[EXPIRES_AT_ANNOTATION] = toKubeTime(input.expiresAt);
    annotations[CREDENTIAL_DIGEST_ANNOTATION] = credentialDigest(input.dockerConfigJson);
  }
  return {
    type: DOCKERCONFIGJSON_TYPE,
    data: { [DOCKERCONFIGJSON_KEY]: Buffer.from(input.dockerConfigJson, 'utf8').toString('base64') },
    metadata: {
      name: input.secretName,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: input.credentialName },
      annotations,
      ownerReferences: [credentialOwnerReference(input.credentialName, input.credentialUid)],
    },
  };
}

/** The Secret to create in one namespace. */
export function desiredSecretIn(template: SecretTemplate, namespace: string): DesiredSecret {
  const { metadata } = template;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: metadata.name,
      namespace,
      labels: { ...metadata.labels },
      annotations: { ...metadata.annotations },
      ownerReferences: metadata.ownerReferences.map((ref) => ({ ...ref })),
    },
    type: DOCKERCONFIGJSON_TYPE,
    data: { ...template.data },
  };
}

export function desiredSecret(input: DesiredSecretInput): DesiredSecret {
  return desiredSecretIn(secretTemplate(input), input.namespace);
}

export function credentialOwnerReference(credentialName: string, credentialUid: string): OwnerReference {
  // blockOwnerDeletion: true would need `update` on registrycredentials/finalizers (the
  // OwnerReferencesPermissionEnforcement admission plugin) and buys nothing: our finalizer orders cleanup.
  return { apiVersion: API_VERSION, kind: KIND, name: credentialName, uid: credentialUid, controller: true, blockOwnerDeletion: false };
}

/** A Secret is ours only when it carries our managed-by label and this credential's label. */
export function ownershipOfCached(cached: SecretView | undefined, credentialName: string): SecretOwnership {
  if (!cached) return 'unmanaged-or-none';
  const labels = cached.metadata.labels ?? {};
  return labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && labels[CREDENTIAL_LABEL] === credentialName ? 'ours' : 'foreign';
}

/** Compares only what the operator owns, so edits by others to other fields never cause a write. */
export function secretNeedsUpdate(existing: SecretView, desired: OwnedSecretFields): boolean {
  return (
    existing.type !== desired.type ||
    !recordsEqual(existing.data ?? {}, desired.data) ||
    !ownedLabelsMatch(existing, desired) ||
    !ownedAnnotationMatches(existing, desired) ||
    !ownerReferenceMatches(existing, desired)
  );
}

/**
 * `type` is immutable: an update cannot fix it, so the caller deletes and recreates the Secret (only
 * ever one classified 'ours').
 */
export function secretNeedsReplace(existing: SecretView, desired: OwnedSecretFields): boolean {
  return existing.type !== desired.type;
}

/**
 * The object to PUT: the existing Secret (its resourceVersion guards the write) with our fields set and
 * everything else (others' labels, annotations, ownerReferences, finalizers) kept as it is.
 */
export function mergeSecretForUpdate(existing: SecretView, desired: OwnedSecretFields): SecretView {
  const annotations = { ...(existing.metadata.annotations ?? {}) };
  delete annotations[EXPIRES_AT_ANNOTATION];
  delete annotations[CREDENTIAL_DIGEST_ANNOTATION];
  Object.assign(annotations, desired.metadata.annotations);

  const others = (existing.metadata.ownerReferences ?? []).filter((ref) => !isCredentialReference(ref));
  return {
    ...existing,
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...existing.metadata,
      labels: { ...(existing.metadata.labels ?? {}), ...desired.metadata.labels },
      annotations,
      ownerReferences: [...others, ...desired.metadata.ownerReferences],
    },
    type: desired.type,
    data: { ...desired.data },
  };
}

function ownedLabelsMatch(existing: SecretView, desired: OwnedSecretFields): boolean {
  const labels = existing.metadata.labels ?? {};
  for (const key in desired.metadata.labels) if (labels[key] !== desired.metadata.labels[key]) return false;
  return true;
}

function ownedAnnotationMatches(existing: SecretView, desired: OwnedSecretFields): boolean {
  const annotations = existing.metadata.annotations;
  return (
    annotations?.[EXPIRES_AT_ANNOTATION] === desired.metadata.annotations[EXPIRES_AT_ANNOTATION] &&
    annotations?.[CREDENTIAL_DIGEST_ANNOTATION] === desired.metadata.annotations[CREDENTIAL_DIGEST_ANNOTATION]
  );
}

export function credentialDigest(dockerConfigJson: string): string {
  return createHash('sha256').update(dockerConfigJson, 'utf8').digest('hex');
}

/**
 * Exactly one RegistryCredential reference, equal to ours: a stale one (a credential deleted and
 * recreated under the same name has a new uid) must go, or garbage collection would follow it.
 */
function ownerReferenceMatches(existing: SecretView, desired: OwnedSecretFields): boolean {
  const [found, ...extra] = (existing.metadata.ownerReferences ?? []).filter(isCredentialReference);
  const [wanted] = desired.metadata.ownerReferences;
  return found !== undefined && extra.length === 0 && wanted !== undefined && ownerReferencesEqual(found, wanted);
}

/** Any version of our API group (the group is what precedes the first "/"). */
export function isCredentialReference(ref: OwnerReference): boolean {
  return ref.kind === KIND && (ref.apiVersion === GROUP || ref.apiVersion.startsWith(GROUP_PREFIX));
}

function ownerReferencesEqual(a: OwnerReference, b: OwnerReference): boolean {
  return (
    a.apiVersion === b.apiVersion &&
    a.kind === b.kind &&
    a.name === b.name &&
    a.uid === b.uid &&
    (a.controller ?? false) === (b.controller ?? false) &&
    (a.blockOwnerDeletion ?? false) === (b.blockOwnerDeletion ?? false)
  );
}

function recordsEqual(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}
