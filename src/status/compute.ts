import { MAX_FAILED_NAMESPACES_IN_STATUS } from '../api/constants.js';
import type {
  Condition,
  ConditionStatus,
  FailedNamespace,
  ProviderName,
  RegistryCredential,
  RegistryCredentialStatus,
} from '../api/types.js';
import { DEFAULT_HEADROOM_PERCENT, headroomLow, type VerificationFacts } from '../reconcile/decide-verification.js';
import { getCondition, setCondition, statusEqual } from './conditions.js';
import { agree, plural } from './plural.js';
import { toKubeTime } from './time.js';

/** What the credential decision says about TokenAvailable (src/reconcile/decide-credential.ts). */
export interface TokenFacts {
  /** Why there is no credential to publish, when there is none. */
  credentialError?: { reason: string; message: string };
  /** A refresh failed but the published credential is still valid and stays in use. */
  refreshError?: { reason: string; message: string };
  /** Waiting to retry a failing refresh: TokenAvailable stays exactly as the last attempt left it. */
  keptTokenCondition?: { status: ConditionStatus; reason: string; message: string };
  /** The first provider call is under way and nothing is published yet. */
  minting?: { provider: ProviderName; since: Date };
}

/** What one reconcile found and did, gathered for the status. */
export interface ReconcileFacts extends TokenFacts {
  now: Date;
  provider?: ProviderName;
  /**
   * The spec failed validation: nothing was attempted, Ready says why, and the rest of the status keeps
   * describing what is still published (the other conditions as they were, `synced` counted from the
   * Secrets that are there).
   */
  invalid?: { reason: string; message: string };
  /** The credential the Secrets hold after this reconcile; `obtainedAt` is when it was minted or read. */
  credential?: { registries: string[]; expiresAt?: Date; obtainedAt: Date };
  /** The refresh schedule after this reconcile (absent: unchanged). */
  refresh?: { nextRefreshTime?: Date; failedAttempts: number };
  secretName: string;
  targets: number;
  synced: number;
  failed: FailedNamespace[];
  /** Names in spec.namespaces.names that do not exist. */
  missingNamespaces?: string[];
  /** Selected ServiceAccounts in synced namespaces that carry the entry. */
  patchedServiceAccounts: number;
  serviceAccountFailures: number;
  /** Target namespaces whose selected ServiceAccounts do not exist yet (the default one is created asynchronously). */
  missingServiceAccounts: number;
  /** What the Verified condition, status.lastVerifiedTime and status.rateLimit say (absent: as they were). */
  verification?: VerificationFacts;
}

interface ConditionValue {
  status: ConditionStatus;
  reason: string;
  message: string;
}

function tokenCondition(f: ReconcileFacts): ConditionValue {
  if (f.credentialError) return { status: 'False', ...f.credentialError };
  if (f.keptTokenCondition) {
    const { status, reason, message } = f.keptTokenCondition;
    return { status, reason, message };
  }
  if (f.minting) {
    const waiting = `waiting for the ${f.minting.provider} provider (call started at ${toKubeTime(f.minting.since)})`;
    const meanwhile = f.credential ? ' for the changed spec; the credential published before stays in place meanwhile' : '';
    return { status: 'Unknown', reason: 'Minting', message: `${waiting}${meanwhile}` };
  }
  if (f.refreshError && f.credential) {
    const until = f.credential.expiresAt ? ` until ${toKubeTime(f.credential.expiresAt)}` : '';
    return {
      status: 'True',
      reason: 'RefreshFailing',
      message: `refresh failed (${f.refreshError.reason}): ${f.refreshError.message}; the published credential stays valid${until}`,
    };
  }
  const expiry = f.credential?.expiresAt ? `, valid until ${toKubeTime(f.credential.expiresAt)}` : '';
  return {
    status: 'True',
    reason: 'CredentialAvailable',
    message: `credential for ${f.credential?.registries.join(', ')}${expiry}`,
  };
}

function missingNote(f: ReconcileFacts): string {
  const missing = f.missingNamespaces ?? [];
  if (missing.length === 0) return '';
  const shown = missing.slice(0, 10).join(', ');
  const more = missing.length > 10 ? ` and ${missing.length - 10} more` : '';
  return `; spec.namespaces.names lists ${missing.length === 1 ? 'a namespace that does' : 'namespaces that do'} not exist: ${shown}${more}`;
}

function secretsCondition(f: ReconcileFacts, token: ConditionValue): ConditionValue {
  if (f.credentialError || (token.status !== 'True' && !f.credential)) {
    return { status: token.status, reason: 'NoCredential', message: 'no credential to publish; see TokenAvailable' };
  }
  if (f.targets === 0) return { status: 'True', reason: 'NoTargets', message: `no namespace matches spec.namespaces${missingNote(f)}` };
  if (f.synced === f.targets) {
    return { status: 'True', reason: 'Synced', message: `Secret ${f.secretName} is current in ${plural(f.targets, 'namespace')}${missingNote(f)}` };
  }
  const reasons = new Set(f.failed.map((x) => x.reason));
  const reason = reasons.has('SecretConflict') ? 'SecretConflict' : reasons.has('WriteRejected') ? 'WriteRejected' : 'SyncFailed';
  return {
    status: 'False',
    reason,
    message: `Secret ${f.secretName} is current in ${f.synced} of ${plural(f.targets, 'namespace')}; see status.failedNamespaces${missingNote(f)}`,
  };
}

function serviceAccountsCondition(f: ReconcileFacts, token: ConditionValue): ConditionValue {
  if (f.credentialError || (token.status !== 'True' && !f.credential)) {
    return { status: token.status, reason: 'NoCredential', message: 'no credential to publish; see TokenAvailable' };
  }
  if (f.serviceAccountFailures > 0) {
    return { status: 'False', reason: 'PatchFailed', message: `${plural(f.serviceAccountFailures, 'ServiceAccount')} could not be updated; retrying` };
  }
  const missing = f.missingServiceAccounts;
  const waiting = missing > 0 ? ` (${plural(missing, 'namespace')} ${agree(missing, 'has', 'have')} no selected ServiceAccount yet)` : '';
  const patched = f.patchedServiceAccounts;
  return {
    status: 'True',
    reason: 'Patched',
    message: `${plural(patched, 'ServiceAccount')} ${agree(patched, 'lists', 'list')} ${f.secretName} in imagePullSecrets${waiting}`,
  };
}

function readyCondition(token: ConditionValue, secrets: ConditionValue, accounts: ConditionValue): ConditionValue {
  for (const c of [token, secrets, accounts]) {
    if (c.status !== 'True') return c;
  }
  return { status: 'True', reason: secrets.reason === 'NoTargets' ? 'NoTargets' : 'Synced', message: secrets.message };
}

function invalidReadyCondition(f: ReconcileFacts & { invalid: { reason: string; message: string } }): ConditionValue {
  const still = f.synced > 0 ? `; the Secrets published before stay in place in ${plural(f.synced, 'namespace')} until the spec is fixed` : '';
  return { status: 'False', reason: f.invalid.reason, message: `${f.invalid.message}${still}` };
}

/** The whole status a reconcile wants; conditions keep their lastTransitionTime when unchanged. */
export function computeStatus(credential: RegistryCredential, f: ReconcileFacts): RegistryCredentialStatus {
  const previous = credential.status ?? {};
  const generation = credential.metadata.generation;
  let conditions: Condition[] | undefined = previous.conditions;
  if (f.invalid) {
    // Only Ready speaks for the invalid spec; the other conditions keep describing what is published.
    conditions = setCondition(conditions, { type: 'Ready', ...invalidReadyCondition({ ...f, invalid: f.invalid }), observedGeneration: generation }, f.now);
    return {
      ...previous,
      observedGeneration: generation,
      targetNamespaces: f.targets,
      syncedNamespaces: f.synced,
      conditions,
    };
  }
  const token = tokenCondition(f);
  const secrets = secretsCondition(f, token);
  const accounts = serviceAccountsCondition(f, token);
  const ready = readyCondition(token, secrets, accounts);
  for (const [type, value] of [
    ['Ready', ready],
    ['TokenAvailable', token],
    ['SecretsSynced', secrets],
    ['ServiceAccountsPatched', accounts],
  ] as const) {
    conditions = setCondition(conditions, { type, ...value, observedGeneration: generation }, f.now);
  }
  const verification = f.verification;
  if (verification) conditions = setCondition(conditions, { type: 'Verified', ...verification.condition, observedGeneration: generation }, f.now);

  const status: RegistryCredentialStatus = {
    observedGeneration: generation,
    provider: f.provider,
    registries: f.credential?.registries ?? previous.registries,
    lastRefreshTime: f.credential ? toKubeTime(f.credential.obtainedAt) : previous.lastRefreshTime,
    expiresAt: f.credential ? (f.credential.expiresAt ? toKubeTime(f.credential.expiresAt) : undefined) : previous.expiresAt,
    nextRefreshTime: f.refresh ? (f.refresh.nextRefreshTime ? toKubeTime(f.refresh.nextRefreshTime) : undefined) : previous.nextRefreshTime,
    targetNamespaces: f.targets,
    syncedNamespaces: f.synced,
    failedNamespaces: f.failed.length
      ? [...f.failed].sort((a, b) => a.namespace.localeCompare(b.namespace)).slice(0, MAX_FAILED_NAMESPACES_IN_STATUS)
      : undefined,
    patchedServiceAccounts: f.patchedServiceAccounts,
    failedRefreshAttempts: f.refresh?.failedAttempts ?? previous.failedRefreshAttempts ?? 0,
    lastVerifiedTime: verification ? (verification.lastVerifiedTime ? toKubeTime(verification.lastVerifiedTime) : undefined) : previous.lastVerifiedTime,
    rateLimit: verification ? verification.rateLimit : previous.rateLimit,
    conditions,
  };
  return status;
}

/** The status fields that are counts, and the conditions whose messages only render those counts. */
const COUNT_FIELDS = ['targetNamespaces', 'syncedNamespaces', 'patchedServiceAccounts'] as const;
const COUNTING_CONDITIONS: ReadonlySet<string> = new Set(['Ready', 'SecretsSynced', 'ServiceAccountsPatched']);

/**
 * True when `next` differs from `previous` only in namespace and ServiceAccount counts (and in the
 * messages of the conditions that state them): every condition keeps its status, reason and
 * lastTransitionTime, and nothing about the credential, its refresh or its failures changed. Such a
 * change may wait a moment to be written together with the next ones (docs/adr/0007-status-write-coalescing.md);
 * any other change may not.
 */
export function onlyCountsChanged(previous: RegistryCredentialStatus | undefined, next: RegistryCredentialStatus): boolean {
  if (!previous) return false;
  const withoutCounts = (status: RegistryCredentialStatus): RegistryCredentialStatus => {
    const copy: RegistryCredentialStatus = { ...status };
    for (const field of COUNT_FIELDS) delete copy[field];
    copy.conditions = status.conditions?.map((c) => (COUNTING_CONDITIONS.has(c.type) ? { ...c, message: '' } : c));
    return copy;
  };
  return statusEqual(withoutCounts(previous), withoutCounts(next));
}

/** A JSON merge patch that turns `from` into `to` at the top level (absent keys become null). */
export function statusMergePatch(from: RegistryCredentialStatus | undefined, to: RegistryCredentialStatus): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(from ?? {}), ...Object.keys(to)])) {
    const value = (to as Record<string, unknown>)[key];
    patch[key] = value === undefined ? null : value;
  }
  return patch;
}

export interface Transition {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Events mark transitions (first sync, failures, conflicts, recovery), never a steady state. */
export function statusTransitions(
  previous: RegistryCredentialStatus | undefined,
  next: RegistryCredentialStatus,
  options: { headroomPercent: number } = { headroomPercent: DEFAULT_HEADROOM_PERCENT },
): Transition[] {
  const out: Transition[] = [];
  const before = getCondition(previous?.conditions, 'Ready');
  const after = getCondition(next.conditions, 'Ready');
  if (after && (before?.status !== after.status || before.reason !== after.reason)) {
    if (after.status === 'True') {
      // Synced after a provider call that was only under way is the first sync, not a recovery.
      const recovered = before !== undefined && before.status === 'False';
      if (before?.status !== 'True') out.push({ type: 'Normal', reason: recovered ? 'Recovered' : 'Synced', message: after.message });
    } else if (after.status === 'False' && after.reason !== 'SecretConflict') {
      out.push({ type: 'Warning', reason: after.reason, message: after.message });
    }
  }
  const tokenBefore = getCondition(previous?.conditions, 'TokenAvailable');
  const tokenAfter = getCondition(next.conditions, 'TokenAvailable');
  if (tokenAfter?.reason === 'RefreshFailing' && tokenBefore?.reason !== 'RefreshFailing') {
    out.push({ type: 'Warning', reason: 'RefreshFailed', message: tokenAfter.message });
  } else if (tokenBefore?.reason === 'RefreshFailing' && tokenAfter?.reason === 'CredentialAvailable') {
    out.push({ type: 'Normal', reason: 'Refreshed', message: tokenAfter.message });
  }
  const knownConflicts = new Set((previous?.failedNamespaces ?? []).filter((x) => x.reason === 'SecretConflict').map((x) => x.namespace));
  const newConflicts = (next.failedNamespaces ?? []).filter((x) => x.reason === 'SecretConflict' && !knownConflicts.has(x.namespace));
  if (newConflicts.length > 0) {
    const names = newConflicts.slice(0, 5).map((x) => x.namespace).join(', ');
    const more = newConflicts.length > 5 ? ` and ${newConflicts.length - 5} more` : '';
    out.push({ type: 'Warning', reason: 'SecretConflict', message: `${newConflicts[0]!.message} (${agree(newConflicts.length, 'namespace', 'namespaces')}: ${names}${more})` });
  }
  out.push(...verificationTransitions(previous, next, options.headroomPercent));
  return out;
}

/**
 * A Warning on every transition of Verified to False (or from one False reason to another), and a
 * Warning when Docker Hub headroom falls low. (Recovery is the reconcile's to report: a fixed source
 * is checked as a new credential, so the status passes through Verifying on the way back to True.)
 */
function verificationTransitions(previous: RegistryCredentialStatus | undefined, next: RegistryCredentialStatus, headroomPercent: number): Transition[] {
  const out: Transition[] = [];
  const before = getCondition(previous?.conditions, 'Verified');
  const after = getCondition(next.conditions, 'Verified');
  if (after?.status === 'False' && (before?.status !== 'False' || before.reason !== after.reason)) {
    out.push({ type: 'Warning', reason: 'VerificationFailed', message: `${after.reason}: ${after.message}` });
  }
  const lowBefore = previous?.rateLimit ? headroomLow(previous.rateLimit, headroomPercent) : false;
  const lowAfter = next.rateLimit ? headroomLow(next.rateLimit, headroomPercent) : false;
  if (lowAfter && !lowBefore && next.rateLimit) {
    const r = next.rateLimit;
    out.push({
      type: 'Warning',
      reason: 'RateLimitLow',
      message: `Docker Hub pull headroom is low: ${r.remaining} of ${r.limit} pulls left in the ${r.windowSeconds} s window; authenticate every pull or use a pull-through cache`,
    });
  }
  return out;
}
