/**
 * Gather: the only reads of a reconcile. Everything the decisions need is taken from the caches (with
 * this process's own recent writes laid over them) into one snapshot; the pure functions in
 * decide-credential.ts, plan-secrets.ts and plan-service-accounts.ts read nothing else.
 *
 * Per-namespace lookups of ServiceAccounts and Secrets stay reads through the caches (the three
 * functions below) rather than copies: a converged credential over thousands of namespaces is
 * reconciled on every event, and copying every ServiceAccount each time doubled its CPU (npm run perf).
 * They are read-only, and a plan that runs after the Secret writes sees the ServiceAccounts as they
 * are then, which is what a level-based reconcile wants.
 */
import { CREDENTIAL_DIGEST_ANNOTATION, CREDENTIAL_LABEL, DOCKERCONFIGJSON_KEY, EXPIRES_AT_ANNOTATION } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import { validateSpec, type SpecValidation } from '../api/validate.js';
import type { ClusterView } from '../controller/cluster-view.js';
import { targetNamespaces } from '../desired/namespaces.js';
import { credentialDigest, type SecretView } from '../desired/secret.js';
import type { ServiceAccountView } from '../desired/service-accounts.js';
import type { Random } from '../policy/schedule.js';
import { readStaticCredential } from '../providers/static.js';
import { ProviderError } from '../providers/types.js';
import { parseKubeTime } from '../status/time.js';
import type { CredentialInput, HeldCredential } from './decide-credential.js';
import type { CredentialMemory } from './memory.js';

export interface Snapshot {
  now: Date;
  credential: RegistryCredential;
  name: string;
  secretName: string;
  validation: SpecValidation;
  /** Sorted target namespaces (empty when the spec is invalid). */
  targets: string[];
  /** spec.namespaces.names that do not exist (in a scoped snapshot: those of the scope). */
  missingNamespaces: string[];
  /**
   * The Secret named secretName in a target namespace, where our label-filtered cache has one.
   * `existing` and `ours` read the cache (with our own recent writes laid over it) each time they are asked,
   * instead of holding what it held at gather: a reconcile that rewrites every Secret (a rotation) would
   * otherwise keep the version it replaced of each alive until it ended, about 1 KiB a namespace (23 MiB of
   * old space at 20,000 namespaces, and the RSS peak with it; BENCHMARKS.md). The plans read them before
   * they act, so what a plan decides still comes from one look at the cache.
   */
  existing: SecretLookup;
  /** Every Secret labelled for this credential, under any name, anywhere (in a scoped snapshot: in the scope). */
  readonly ours: readonly SecretView[];
  /** Target namespace → an older RegistryCredential that publishes the same Secret name there. */
  claims: ReadonlyMap<string, string>;
  /** The ServiceAccounts of one namespace. */
  serviceAccountsIn(namespace: string): readonly ServiceAccountView[];
  /** Every ServiceAccount outside `namespaces` (skipped before any work is done on them). */
  serviceAccountsOutside(namespaces: ReadonlySet<string>): readonly ServiceAccountView[];
  /** The credential whose managed Secret `name` is in `namespace` (undefined: none). */
  secretOwner(namespace: string, name: string): string | undefined;
  /** The inputs of the credential decision (absent when the spec is invalid, and in a scoped snapshot). */
  credentialInput?: CredentialInput;
  /**
   * The namespaces this snapshot covers; undefined: the whole cluster. A scoped snapshot is the whole one
   * restricted to these namespaces (targets, our Secrets, ServiceAccounts, claims), so a plan made from it
   * is the whole plan's part in them; it lists only the missing spec.namespaces.names in the scope, and
   * decides nothing about the credential.
   */
  scope?: ReadonlySet<string>;
}

/** The part of a Map `existing` offers (a Map is one). */
export interface SecretLookup {
  get(namespace: string): SecretView | undefined;
}

export interface GatherDeps {
  view: ClusterView;
  now: Date;
  random: Random;
}

/** The resourceVersion of the source Secret the spec names ('absent' when it is missing; undefined when none is named). */
export function sourceVersionOf(credential: RegistryCredential, view: ClusterView): string | undefined {
  const spec = credential.spec;
  const ref = spec.static?.credentialsSecretRef ?? spec.ecr?.credentialsSecretRef ?? spec.gcr?.credentialsSecretRef;
  return ref ? (view.sources.get(ref.name)?.resourceVersion ?? 'absent') : undefined;
}

/** `scope`: gather only what concerns these namespaces (see Snapshot.scope). */
export function gather(deps: GatherDeps, credential: RegistryCredential, memory: CredentialMemory, scope?: ReadonlySet<string>): Snapshot {
  const { view, now } = deps;
  const name = credential.metadata.name;
  const spec = credential.spec;
  const secretName = spec.secretName ?? name;
  const validation = validateName(name) ?? validateSpec(spec);
  const ours = view.managedSecretsOf(name, scope);
  const base = {
    now,
    credential,
    name,
    secretName,
    validation,
    scope,
    serviceAccountsIn: (namespace: string) => view.serviceAccounts(namespace),
    serviceAccountsOutside: (namespaces: ReadonlySet<string>) => view.allServiceAccounts(namespaces, scope),
    secretOwner: (namespace: string, secret: string) => view.managedSecret(namespace, secret)?.metadata.labels?.[CREDENTIAL_LABEL],
  };
  const live = (snapshot: Omit<Snapshot, 'ours'>): Snapshot =>
    Object.defineProperty(snapshot, 'ours', { get: () => view.managedSecretsOf(name, scope), enumerable: true }) as Snapshot;
  if (!validation.ok) {
    return live({ ...base, targets: [], missingNamespaces: [], existing: new Map(), claims: new Map() });
  }
  const namespaces = scope ? view.namespacesNamed(scope) : view.namespaces();
  const { targets, missing } = targetNamespaces(spec.namespaces, namespaces);
  const targeted = new Set(targets);
  const existing: SecretLookup = { get: (ns) => (targeted.has(ns) ? view.managedSecret(ns, secretName) : undefined) };

  const claims = competingClaims(view, credential, secretName, namespaces);
  // The names outside a scope were not looked up: only those in it can be said to be missing.
  if (scope) return live({ ...base, targets, missingNamespaces: missing.filter((ns) => scope.has(ns)), existing, claims });

  const provider = validation.provider;
  const credentialInput: CredentialInput = {
    now,
    provider,
    current: { generation: credential.metadata.generation, sourceVersion: sourceVersionOf(credential, view) },
    schedule: spec.refresh?.schedule,
    random: deps.random,
    held: provider === 'static' ? heldStatic(ours, secretName) : heldExpiring(ours, secretName),
    staticSource: provider === 'static' ? readStatic(credential, view) : undefined,
    memory,
    previous: credential.status ?? {},
  };
  return live({
    ...base,
    targets,
    missingNamespaces: missing,
    existing,
    claims,
    credentialInput,
  });
}

function readStatic(credential: RegistryCredential, view: ClusterView): CredentialInput['staticSource'] {
  try {
    return { ok: true, credential: readStaticCredential(credential.spec, view.sources) };
  } catch (err) {
    if (err instanceof ProviderError) return { ok: false, error: err };
    throw err;
  }
}

function decoded(secret: SecretView): string | undefined {
  const raw = secret.data?.[DOCKERCONFIGJSON_KEY];
  return raw ? Buffer.from(raw, 'base64').toString('utf8') : undefined;
}

/**
 * The expiring credential our Secrets hold, for reuse after a restart and to keep serving while a refresh
 * fails: only a copy whose digest annotation matches its data (one edited by hand is restored, never
 * spread) and that says when it expires.
 */
function heldExpiring(ours: readonly SecretView[], secretName: string): HeldCredential | undefined {
  for (const secret of ours) {
    if (secret.metadata.name !== secretName) continue;
    const dockerConfigJson = decoded(secret);
    const expiresAt = parseKubeTime(secret.metadata.annotations?.[EXPIRES_AT_ANNOTATION]);
    if (!dockerConfigJson || !expiresAt) continue;
    const digest = credentialDigest(dockerConfigJson);
    if (secret.metadata.annotations?.[CREDENTIAL_DIGEST_ANNOTATION] !== digest) continue;
    return { dockerConfigJson, digest, expiresAt };
  }
  return undefined;
}

/** What a static credential's Secrets hold (any one: they are written together), to tell a new credential from a restored copy. */
function heldStatic(ours: readonly SecretView[], secretName: string): HeldCredential | undefined {
  const secret = ours.find((s) => s.metadata.name === secretName);
  const dockerConfigJson = secret && decoded(secret);
  return dockerConfigJson ? { dockerConfigJson, digest: credentialDigest(dockerConfigJson) } : undefined;
}

/** Older first, then by name: a stable order to settle two claims on one Secret name. */
function rank(credential: RegistryCredential): string {
  return `${credential.metadata.creationTimestamp ?? ''}\0${credential.metadata.name}`;
}

/**
 * Namespaces where another RegistryCredential publishes the same Secret name. The older credential (then
 * the smaller name) wins where neither owns the Secret yet; an existing Secret always stays with the
 * credential that owns it. A credential being deleted claims nothing: its Secrets are on their way out.
 */
function competingClaims(
  view: ClusterView,
  credential: RegistryCredential,
  secretName: string,
  namespaces: ReturnType<ClusterView['namespaces']>,
): Map<string, string> {
  const claims = new Map<string, string>();
  const mine = rank(credential);
  for (const other of view.credentials()) {
    if (other.metadata.name === credential.metadata.name || (other.spec.secretName ?? other.metadata.name) !== secretName) continue;
    if (other.metadata.deletionTimestamp || rank(other) > mine) continue;
    for (const ns of targetNamespaces(other.spec.namespaces, namespaces).targets) claims.set(ns, other.metadata.name);
  }
  return claims;
}

/**
 * The name becomes a label value on every Secret (at most 63 characters). The CRD refuses longer names
 * at creation; one created before that rule existed is reported instead of failing every write.
 */
function validateName(name: string): SpecValidation | undefined {
  if (name.length <= 63) return undefined;
  return {
    ok: false,
    reason: 'InvalidName',
    message: `metadata.name is ${name.length} characters long, but it becomes the value of the label regcred.io/credential on every Secret, which holds at most 63: create the RegistryCredential again under a shorter name`,
  };
}
