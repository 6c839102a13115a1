import type { V1ServiceAccount } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import {
  CREDENTIAL_DIGEST_ANNOTATION,
  CREDENTIAL_LABEL,
  DEFAULT_SERVICE_ACCOUNTS,
  DOCKERCONFIGJSON_KEY,
  EXPIRES_AT_ANNOTATION,
  FINALIZER,
} from '../api/constants.js';
import { parseDockerConfigJson } from '../desired/dockerconfig.js';
import { isStillValid, mintDue, nextRefreshAfterSuccess, nextRetryAfterFailure, type RefreshInput } from '../policy/refresh.js';
import { toKubeTime } from '../status/time.js';
import type { FailedNamespace, ProviderName, RegistryCredential, RegistryCredentialStatus } from '../api/types.js';
import { validateSpec } from '../api/validate.js';
import { targetNamespaces } from '../desired/namespaces.js';
import {
  classifyExistingSecret,
  credentialDigest,
  desiredSecretIn,
  isCredentialReference,
  mergeSecretForUpdate,
  secretNeedsReplace,
  secretNeedsUpdate,
  secretTemplate,
  type DesiredSecret,
  type SecretTemplate,
  type SecretView,
} from '../desired/secret.js';
import {
  addPullSecret,
  addedPullSecrets,
  removePullSecret,
  selectServiceAccounts,
  serviceAccountPatch,
  type PullSecretChange,
  type ServiceAccountView,
} from '../desired/service-accounts.js';
import { isKind, KubeApiError } from '../kube/errors.js';
import type { KubeWriter } from '../kube/writer.js';
import type { Logger } from '../observability/logger.js';
import { ProviderError, type MintedCredential, type Provider } from '../providers/types.js';
import { computeStatus, onlyCountsChanged, statusMergePatch, statusTransitions, type ReconcileFacts } from '../status/compute.js';
import { statusEqual } from '../status/conditions.js';
import type { Clock } from './clock.js';
import { toServiceAccountView, type ClusterView } from './cluster-view.js';
import type { EventRecorder } from './events.js';
import type { ReconcileResult } from './workers.js';

export interface ReconcilerDeps {
  view: ClusterView;
  writer: KubeWriter;
  providers: Partial<Record<ProviderName, Provider>>;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  /** API writes in flight at once within one fan-out. */
  writeConcurrency: number;
  random: () => number;
}

/** How many times a ServiceAccount edit is redone after a 409 before the reconcile gives up and backs off. */
const SERVICE_ACCOUNT_RETRIES = 5;

/**
 * How long a namespace where our create met someone else's Secret is left
 * alone. That Secret is not in our label-selected cache, so nothing tells us
 * when it goes; re-trying the create on every resync would be a write each time.
 */
const CONFLICT_RECHECK_MS = 5 * 60_000;

/**
 * How long a status change that only moves counts waits, so that a burst of namespace events is
 * written as a few status patches instead of one each (docs/adr/0007-status-write-coalescing.md).
 */
const STATUS_COALESCE_MS = 1_000;

/** A fan-out write failed in a way worth retrying soon (a conflict, a transient error). */
class RetryableFanOutError extends Error {}

interface NamespaceResult {
  namespace: string;
  synced: boolean;
  /** Our Secret was there before this reconcile. */
  existed?: boolean;
  /** Our Secret was there with other data, and now holds the new credential. */
  replacedData?: boolean;
  failure?: FailedNamespace;
  retry?: boolean;
}

interface AccountResult {
  carries: boolean;
  failed: boolean;
}

/** ServiceAccount edits of one reconcile: results decided without a write, and writes in flight. */
class AccountEdits {
  private readonly decided: AccountResult[] = [];
  private readonly pending: Promise<AccountResult>[] = [];

  add(result: AccountResult | Promise<AccountResult>): void {
    if (result instanceof Promise) this.pending.push(result);
    else this.decided.push(result);
  }

  async settled(): Promise<AccountResult[]> {
    return [...this.decided, ...(await Promise.all(this.pending))];
  }
}

/**
 * Level-based reconcile of one RegistryCredential: read the caches, decide,
 * build the desired objects, write only what differs, report. It never
 * depends on which event woke it.
 */
export class Reconciler {
  private readonly limit: ReturnType<typeof pLimit>;
  /** "credential/namespace/secret" → when a create last met an unmanaged Secret there. */
  private readonly unmanagedConflicts = new Map<string, number>();
  /** credential → the source Secret's resourceVersion at its last mint. */
  private readonly mintedSourceVersions = new Map<string, string | undefined>();
  /** credential → the refresh time and attempt count this process last decided (and wrote to status). */
  private readonly refreshPlans = new Map<string, { nextRefreshTime?: Date; failedAttempts: number }>();
  /** credential → the generation of its last mint: the cached status may not show our status write yet. */
  private readonly mintedGenerations = new Map<string, number | undefined>();
  /** credential → when this process last wrote its status, and what it wrote (the cache may not show it yet). */
  private readonly statusWrites = new Map<string, { at: number; status: RegistryCredentialStatus }>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.limit = pLimit(deps.writeConcurrency);
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    const credential = this.deps.view.credential(name);
    if (!credential) {
      this.statusWrites.delete(name);
      return {};
    }
    const log = this.deps.log.child({ credential: name, reconcileId: Math.random().toString(36).slice(2, 10) });
    if (credential.metadata.deletionTimestamp) {
      await this.finalize(credential, log);
      return {};
    }
    if (!credential.metadata.finalizers?.includes(FINALIZER)) {
      try {
        await this.deps.writer.patchCredential(name, {
          metadata: { resourceVersion: credential.metadata.resourceVersion, finalizers: [...(credential.metadata.finalizers ?? []), FINALIZER] },
        });
      } catch (err) {
        // Deleted meanwhile: its delete event brings the next reconcile.
        if (isKind(err, 'NotFound')) return {};
        throw err;
      }
      log.debug('finalizer added');
    }
    return this.sync(credential, log);
  }

  private async sync(credential: RegistryCredential, log: Logger): Promise<ReconcileResult> {
    const { view } = this.deps;
    const name = credential.metadata.name;
    const spec = credential.spec;
    const secretName = spec.secretName ?? name;
    const now = new Date(this.deps.clock.now());
    const facts: ReconcileFacts = {
      now,
      secretName,
      targets: 0,
      synced: 0,
      failed: [],
      patchedServiceAccounts: 0,
      serviceAccountFailures: 0,
      missingServiceAccounts: 0,
    };

    const validation = validateSpec(spec);
    if (!validation.ok) {
      // Terminal until the spec changes: reported, not retried, and nothing published is touched.
      facts.invalid = { reason: validation.reason, message: validation.message };
      return this.requeueAt(undefined, await this.writeStatus(credential, facts, log));
    }
    facts.provider = validation.provider;
    const { targets } = targetNamespaces(spec.namespaces, view.namespaces());
    facts.targets = targets.length;

    const expiring = validation.provider !== 'static';
    const { minted, mintedNow } = await this.obtainCredential(credential, validation.provider, secretName, facts, log);

    if (!minted) {
      // What is published stays in place: count it as it is.
      facts.synced = targets.filter((ns) => classifyExistingSecret(view.managedSecret(ns, secretName), name) === 'ours').length;
      return this.requeueAt(facts.refresh?.nextRefreshTime, await this.writeStatus(credential, facts, log));
    }
    const targetSet = new Set(targets);
    const claims = this.competingClaims(credential, secretName);
    const template = secretTemplate({
      credentialName: name,
      credentialUid: credential.metadata.uid ?? '',
      secretName,
      dockerConfigJson: minted.dockerConfigJson,
      expiresAt: minted.expiresAt,
    });
    const results = await this.syncSecrets(credential, targets, template, claims, log);
    const syncedNamespaces = results.filter((r) => r.synced).map((r) => r.namespace);
    facts.synced = syncedNamespaces.length;
    facts.failed = results.filter((r) => r.failure).map((r) => r.failure!);
    // A new credential: a fresh mint of an expiring one, the first publish, or data replaced that no Secret
    // held yet. A copy restored where someone edited a Secret is not one: the other Secrets already held it.
    const firstPublish = results.some((r) => r.synced) && !results.some((r) => r.existed);
    const alreadyHeld = results.some((r) => r.existed && r.synced && !r.replacedData);
    const changed = (mintedNow && expiring) || firstPublish || (results.some((r) => r.replacedData) && !alreadyHeld);
    facts.credential = { registries: minted.registries, expiresAt: minted.expiresAt, changed };

    const accounts = await this.syncServiceAccounts(credential, secretName, new Set(syncedNamespaces), targetSet, facts, log);
    facts.patchedServiceAccounts = accounts.filter((a) => a.carries).length;
    facts.serviceAccountFailures = accounts.filter((a) => a.failed).length;

    await this.removeStaleSecrets(credential, secretName, targetSet, log);
    const statusDelayMs = await this.writeStatus(credential, facts, log);

    if (results.some((r) => r.retry) || facts.serviceAccountFailures > 0) {
      // The retry runs the whole reconcile again, status included.
      throw new RetryableFanOutError(`${facts.targets - facts.synced} namespaces or ${facts.serviceAccountFailures} ServiceAccounts need another try`);
    }
    return this.requeueAt(facts.refresh?.nextRefreshTime, statusDelayMs);
  }

  /** The resourceVersion of the source Secret the spec names (undefined: none, or not found). */
  private sourceVersion(credential: RegistryCredential): string | undefined {
    const spec = credential.spec;
    const ref = spec.static?.credentialsSecretRef ?? spec.ecr?.credentialsSecretRef ?? spec.gcr?.credentialsSecretRef;
    return ref ? (this.deps.view.sources.get(ref.name)?.resourceVersion ?? 'absent') : undefined;
  }

  private specChanged(credential: RegistryCredential, observedGeneration: number | undefined): boolean {
    const generation = credential.metadata.generation;
    return observedGeneration !== generation && this.mintedGenerations.get(credential.metadata.name) !== generation;
  }

  /** Known only in memory: after a restart, a fresh published credential is reused rather than re-minted. */
  private sourceChanged(name: string, version: string | undefined): boolean {
    return this.mintedSourceVersions.has(name) && this.mintedSourceVersions.get(name) !== version;
  }

  /**
   * Refresh is a delayed key: the queue runs it again at the time given, or after `statusDelayMs`
   * (a held-back status write) if that is sooner.
   */
  private requeueAt(at: Date | undefined, statusDelayMs?: number): ReconcileResult {
    const delays = [at && Math.max(0, at.getTime() - this.deps.clock.now()), statusDelayMs].filter((ms) => ms !== undefined);
    return delays.length > 0 ? { requeueAfterMs: Math.min(...delays) } : {};
  }

  /** The credential our Secrets hold now (any one of them: they are written together). */
  private publishedCredential(name: string, secretName: string): MintedCredential | undefined {
    for (const secret of this.deps.view.managedSecretsOf(name)) {
      if (secret.metadata.name !== secretName) continue;
      const raw = secret.data?.[DOCKERCONFIGJSON_KEY];
      if (!raw) continue;
      const dockerConfigJson = Buffer.from(raw, 'base64').toString('utf8');
      // Only a copy we wrote: one edited by hand is restored, never spread.
      if (secret.metadata.annotations?.[CREDENTIAL_DIGEST_ANNOTATION] !== credentialDigest(dockerConfigJson)) continue;
      const parsed = parseDockerConfigJson(dockerConfigJson);
      if (!parsed.ok) continue;
      const expiresAt = parseTime(secret.metadata.annotations?.[EXPIRES_AT_ANNOTATION]);
      if (!expiresAt) continue;
      return { registries: parsed.value.registries, dockerConfigJson, expiresAt };
    }
    return undefined;
  }

  /**
   * The credential to publish this time: a new mint when one is due, else
   * the still-valid one our Secrets hold. Records in `facts` what status
   * must say about it.
   */
  private async obtainCredential(
    credential: RegistryCredential,
    provider: ProviderName,
    secretName: string,
    facts: ReconcileFacts,
    log: Logger,
  ): Promise<{ minted?: MintedCredential; mintedNow: boolean }> {
    const name = credential.metadata.name;
    const spec = credential.spec;
    const now = facts.now;
    const previous = credential.status ?? {};
    const expiring = provider !== 'static';
    const published = expiring ? this.publishedCredential(name, secretName) : undefined;
    const sourceVersion = this.sourceVersion(credential);
    // What this process last decided is newer than the cached status, whose write may not have come back yet.
    const planned = this.refreshPlans.get(name);
    const refresh: RefreshInput = {
      now,
      expiring,
      // A changed spec, or a changed source Secret (rotated cloud keys), calls for a new credential now.
      specChanged: this.specChanged(credential, previous.observedGeneration) || this.sourceChanged(name, sourceVersion),
      published,
      nextRefreshTime: planned ? planned.nextRefreshTime : parseTime(previous.nextRefreshTime),
      failedAttempts: planned ? planned.failedAttempts : (previous.failedRefreshAttempts ?? 0),
    };
    let minted: MintedCredential | undefined;
    let mintedNow = false;
    if (mintDue(refresh)) {
      this.mintedSourceVersions.set(name, sourceVersion);
      this.mintedGenerations.set(name, credential.metadata.generation);
      try {
        minted = await this.mint(credential, provider);
        mintedNow = true;
        facts.refresh = {
          failedAttempts: 0,
          nextRefreshTime: nextRefreshAfterSuccess({ now, expiresAt: minted.expiresAt, schedule: spec.refresh?.schedule, random: this.deps.random }),
        };
        if (refresh.failedAttempts > 0) log.info({ after: refresh.failedAttempts }, 'refresh succeeded after failures');
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        if (expiring) {
          // Every failure backs off, persisted in status, so neither events nor restarts call the provider hot.
          const attempts = refresh.failedAttempts + 1;
          facts.refresh = { failedAttempts: attempts, nextRefreshTime: nextRetryAfterFailure({ now, attempts, random: this.deps.random }) };
          log.warn({ reason: err.reason, attempts, retryAt: facts.refresh.nextRefreshTime }, 'mint failed');
        }
        if (published && isStillValid(published, now)) {
          // The last good credential stays in place, and keeps serving new namespaces, until it expires.
          minted = published;
          facts.refreshError = { reason: err.reason, message: err.message };
        } else {
          facts.credentialError = published ? expiredError(published, err.message) : { reason: err.reason, message: err.message };
        }
      }
    } else {
      facts.refresh = { failedAttempts: refresh.failedAttempts, nextRefreshTime: refresh.nextRefreshTime };
      const lastError = tokenProblem(previous);
      if (published && isStillValid(published, now)) {
        minted = published;
        // Still failing, waiting for the next attempt: TokenAvailable says so until an attempt succeeds.
        const token = previous.conditions?.find((c) => c.type === 'TokenAvailable');
        if (refresh.failedAttempts > 0 && token?.reason === 'RefreshFailing') facts.keptTokenCondition = token;
      } else if (published) {
        facts.credentialError = expiredError(published, lastError?.message ?? `next attempt at ${toKubeTime(refresh.nextRefreshTime ?? now)}`);
      } else {
        // Waiting for the next attempt: the reason stays the one the last attempt gave.
        facts.credentialError = lastError ?? { reason: 'RefreshPending', message: `no credential yet; next attempt at ${toKubeTime(refresh.nextRefreshTime ?? now)}` };
      }
    }

    if (facts.refresh && expiring) this.refreshPlans.set(name, facts.refresh);
    return { minted, mintedNow };
  }

  private async mint(credential: RegistryCredential, providerName: ProviderName): Promise<MintedCredential> {
    const provider = this.deps.providers[providerName];
    if (!provider) {
      throw new ProviderError('ProviderUnavailable', `the ${providerName} provider is not available in this build of regcred-operator`, false);
    }
    const minted = await provider.mint(credential.spec, this.deps.view.sources, AbortSignal.timeout(30_000), {
      credentialName: credential.metadata.name,
    });
    if (!minted.dockerConfigJson || minted.registries.length === 0) {
      // An empty mint must never overwrite a working Secret.
      throw new ProviderError('EmptyCredential', `the ${providerName} provider returned no credential`, true);
    }
    if (minted.expiresAt && minted.expiresAt.getTime() <= this.deps.clock.now()) {
      // Publishing it would break pulls, and refreshing "at half its lifetime" would loop: back off instead.
      throw new ProviderError(
        'ExpiredOnArrival',
        `the ${providerName} provider returned a credential that expired at ${toKubeTime(minted.expiresAt)}; check the clock of the operator's node`,
        true,
      );
    }
    return minted;
  }

  /**
   * Namespaces where another RegistryCredential publishes the same Secret name.
   * The older credential (then the smaller name) wins where neither owns the
   * Secret yet; an existing Secret always stays with the credential that owns it.
   */
  private competingClaims(credential: RegistryCredential, secretName: string): Map<string, string> {
    const claims = new Map<string, string>();
    const mine = rank(credential);
    for (const other of this.deps.view.credentials()) {
      if (other.metadata.name === credential.metadata.name || (other.spec.secretName ?? other.metadata.name) !== secretName) continue;
      if (other.metadata.deletionTimestamp || rank(other) > mine) continue;
      for (const ns of targetNamespaces(other.spec.namespaces, this.deps.view.namespaces()).targets) {
        claims.set(ns, other.metadata.name);
      }
    }
    return claims;
  }

  /**
   * One result per target, in the same order. A namespace whose Secret is already right is settled
   * here without a promise or a slot in the write pool: on a converged credential that is nearly
   * every namespace, and this loop runs on every event.
   */
  private async syncSecrets(
    credential: RegistryCredential,
    targets: readonly string[],
    template: SecretTemplate,
    claims: ReadonlyMap<string, string>,
    log: Logger,
  ): Promise<NamespaceResult[]> {
    const results = new Array<NamespaceResult>(targets.length);
    const writes: Promise<void>[] = [];
    targets.forEach((namespace, i) => {
      const step = this.secretStep(credential, namespace, template, claims.get(namespace), log);
      if (typeof step === 'function') {
        writes.push(this.limit(step).then((result) => void (results[i] = result)));
      } else {
        results[i] = step;
      }
    });
    await Promise.all(writes);
    return results;
  }

  /** What one namespace needs: a result when no write is needed, else the write that settles it. */
  private secretStep(
    credential: RegistryCredential,
    namespace: string,
    template: SecretTemplate,
    olderClaim: string | undefined,
    log: Logger,
  ): NamespaceResult | (() => Promise<NamespaceResult>) {
    const name = credential.metadata.name;
    const secretName = template.metadata.name;
    const existing = this.deps.view.managedSecret(namespace, secretName);
    const ownership = classifyExistingSecret(existing, name);
    const conflict = (message: string): NamespaceResult => ({
      namespace,
      synced: false,
      failure: { namespace, reason: 'SecretConflict', message },
    });
    if (ownership === 'foreign') {
      const owner = existing?.metadata.labels?.[CREDENTIAL_LABEL];
      return conflict(`secret ${secretName} exists and is managed by RegistryCredential ${owner}`);
    }
    if (ownership === 'absent' && olderClaim) {
      return conflict(`secret ${secretName} is claimed by the older RegistryCredential ${olderClaim}`);
    }
    if (this.unmanagedConflicts.size > 0) {
      const conflictKey = `${name}/${namespace}/${secretName}`;
      const seenConflict = this.unmanagedConflicts.get(conflictKey);
      if (!existing && seenConflict !== undefined && this.deps.clock.now() - seenConflict < CONFLICT_RECHECK_MS) {
        return conflict(`secret ${secretName} exists and is not managed by regcred-operator`);
      }
      this.unmanagedConflicts.delete(conflictKey);
    }
    if (existing && !secretNeedsUpdate(existing, template)) return { namespace, synced: true, existed: true };
    return () => this.writeSecret(credential, namespace, existing, template, log);
  }

  private async writeSecret(
    credential: RegistryCredential,
    namespace: string,
    existing: SecretView | undefined,
    template: SecretTemplate,
    log: Logger,
  ): Promise<NamespaceResult> {
    const secretName = template.metadata.name;
    const desired = desiredSecretIn(template, namespace);
    try {
      if (!existing) {
        await this.createSecret(desired);
        log.debug({ namespace }, 'secret created');
        return { namespace, synced: true };
      }
      const replacedData = existing.data?.[DOCKERCONFIGJSON_KEY] !== desired.data[DOCKERCONFIGJSON_KEY];
      if (secretNeedsReplace(existing, desired)) {
        await this.deps.writer.deleteSecret(namespace, secretName, existing.metadata.uid ?? '');
        await this.createSecret(desired);
        return { namespace, synced: true, existed: true, replacedData };
      }
      const written = await this.deps.writer.replaceSecret(mergeSecretForUpdate(existing, desired));
      this.deps.view.secretWrites.wrote(written);
      log.debug({ namespace }, 'secret updated');
      return { namespace, synced: true, existed: true, replacedData };
    } catch (err) {
      if (isKind(err, 'AlreadyExists')) this.unmanagedConflicts.set(`${credential.metadata.name}/${namespace}/${secretName}`, this.deps.clock.now());
      return this.secretWriteFailure(namespace, secretName, err, log);
    }
  }

  private async createSecret(desired: DesiredSecret): Promise<void> {
    const written = await this.deps.writer.createSecret(desired);
    this.deps.view.secretWrites.wrote(written);
  }

  private secretWriteFailure(namespace: string, secretName: string, err: unknown, log: Logger): NamespaceResult {
    const fail = (reason: string, message: string, retry: boolean): NamespaceResult => ({
      namespace,
      synced: false,
      failure: { namespace, reason, message },
      retry,
    });
    if (isKind(err, 'AlreadyExists')) {
      // Not in our label-selected cache, so not ours: never read, changed or deleted.
      return fail('SecretConflict', `secret ${secretName} exists and is not managed by regcred-operator`, false);
    }
    if (isKind(err, 'Forbidden') && !this.deps.view.namespaceExists(namespace)) {
      return fail('NamespaceGone', `namespace ${namespace} is being deleted`, false);
    }
    if (isKind(err, 'Forbidden') && /being terminated/.test((err as Error).message)) {
      return fail('NamespaceTerminating', `namespace ${namespace} is being deleted`, false);
    }
    log.warn({ namespace, err: (err as Error).message }, 'secret write failed');
    const kind = err instanceof KubeApiError ? err.kind : 'Unknown';
    return fail(kind === 'Conflict' ? 'WriteConflict' : 'WriteFailed', (err as Error).message, true);
  }

  /**
   * Adds the entry to selected ServiceAccounts of namespaces where our Secret
   * is in place, and removes entries we added everywhere else.
   */
  private async syncServiceAccounts(
    credential: RegistryCredential,
    secretName: string,
    syncedNamespaces: Set<string>,
    targets: Set<string>,
    facts: ReconcileFacts,
    log: Logger,
  ): Promise<AccountResult[]> {
    const { view } = this.deps;
    const name = credential.metadata.name;
    const selection = credential.spec.serviceAccounts?.names;
    const selectsAny = (selection ?? DEFAULT_SERVICE_ACCOUNTS).length > 0;
    const add = (sa: ServiceAccountView): PullSecretChange | null => addPullSecret(sa, secretName);
    const remove = (sa: ServiceAccountView): PullSecretChange | null => removePullSecret(sa, secretName);
    const edits = new AccountEdits();
    for (const ns of syncedNamespaces) {
      const accounts = view.serviceAccounts(ns);
      const selected = selectServiceAccounts(selection, accounts);
      if (selected.length === 0 && selectsAny) facts.missingServiceAccounts += 1;
      for (const sa of selected) edits.add(this.editServiceAccount(sa, add, true, log));
      if (selected.length === accounts.length) continue;
      const selectedNames = new Set(selected.map((sa) => sa.name));
      for (const sa of accounts) {
        if (!selectedNames.has(sa.name) && addedPullSecrets(sa).includes(secretName)) edits.add(this.editServiceAccount(sa, remove, false, log));
      }
    }
    // Entries we added in namespaces that are no longer targeted, or that lost our Secret.
    for (const sa of view.allServiceAccounts(syncedNamespaces)) {
      if (!addedPullSecrets(sa).includes(secretName)) continue;
      // Another credential's Secret of that name: the entry is its, not ours to remove.
      if (classifyExistingSecret(view.managedSecret(sa.namespace, secretName), name) === 'foreign') continue;
      if (targets.has(sa.namespace) && view.managedSecret(sa.namespace, secretName)) continue;
      edits.add(this.editServiceAccount(sa, remove, false, log));
    }
    return edits.settled();
  }

  /**
   * Decides from the cached ServiceAccount whether it needs a write at all; only a write takes a slot
   * in the write pool (most ServiceAccounts of a converged credential need none).
   */
  private editServiceAccount(
    cached: ServiceAccountView,
    change: (sa: ServiceAccountView) => PullSecretChange | null,
    wantEntry: boolean,
    log: Logger,
  ): AccountResult | Promise<AccountResult> {
    const edit = change(cached);
    if (!edit) return { carries: wantEntry, failed: false };
    return this.limit(() => this.writeServiceAccount(cached, edit, change, wantEntry, log));
  }

  /**
   * Read-modify-write with a resourceVersion precondition: on 409 re-read and
   * recompute, so a concurrent writer's entries are never lost (FACTS.md).
   */
  private async writeServiceAccount(
    cached: ServiceAccountView,
    firstEdit: PullSecretChange,
    change: (sa: ServiceAccountView) => PullSecretChange | null,
    wantEntry: boolean,
    log: Logger,
  ): Promise<AccountResult> {
    let sa = cached;
    let edit: PullSecretChange | null = firstEdit;
    for (let attempt = 0; attempt <= SERVICE_ACCOUNT_RETRIES; attempt++) {
      if (attempt > 0) edit = change(sa);
      if (!edit) return { carries: wantEntry, failed: false };
      try {
        const written = await this.deps.writer.patchServiceAccount(sa.namespace, sa.name, serviceAccountPatch(sa, edit));
        this.deps.view.serviceAccountWrites.wrote(written);
        log.debug({ namespace: sa.namespace, serviceAccount: sa.name, added: wantEntry }, 'serviceaccount updated');
        return { carries: wantEntry, failed: false };
      } catch (err) {
        if (isKind(err, 'NotFound')) return { carries: false, failed: false };
        if (!isKind(err, 'Conflict')) {
          log.warn({ namespace: sa.namespace, serviceAccount: sa.name, err: (err as Error).message }, 'serviceaccount update failed');
          return { carries: false, failed: true };
        }
        let fresh: V1ServiceAccount;
        try {
          fresh = await this.deps.writer.getServiceAccount(sa.namespace, sa.name);
        } catch (readErr) {
          if (isKind(readErr, 'NotFound')) return { carries: false, failed: false };
          return { carries: false, failed: true };
        }
        sa = toServiceAccountView(fresh);
      }
    }
    log.warn({ namespace: sa.namespace, serviceAccount: sa.name }, 'serviceaccount kept changing; will retry');
    return { carries: false, failed: true };
  }

  /** Our Secrets in namespaces no longer targeted, or under an old secretName. */
  private async removeStaleSecrets(credential: RegistryCredential, secretName: string, targets: Set<string>, log: Logger): Promise<void> {
    const stale = this.deps.view
      .managedSecretsOf(credential.metadata.name)
      .filter((s) => !targets.has(s.metadata.namespace) || s.metadata.name !== secretName);
    await Promise.all(stale.map((s) => this.limit(() => this.deleteSecret(s, log))));
  }

  private async deleteSecret(secret: SecretView, log: Logger): Promise<void> {
    const { namespace, name } = secret.metadata;
    try {
      await this.deps.writer.deleteSecret(namespace, name, secret.metadata.uid ?? '');
      log.debug({ namespace, secret: name }, 'secret deleted');
    } catch (err) {
      // Replaced by a newer object (uid precondition): that one is not the one we meant; the cache will show it.
      if (isKind(err, 'Conflict')) return;
      if (!isKind(err, 'NotFound')) throw err;
    }
    this.deps.view.secretWrites.deleted(namespace, name);
  }

  /** Deletion: clean up (or orphan) what we wrote, then release the finalizer. */
  private async finalize(credential: RegistryCredential, log: Logger): Promise<void> {
    const { view, writer } = this.deps;
    const name = credential.metadata.name;
    if (!credential.metadata.finalizers?.includes(FINALIZER)) return;
    for (const key of this.unmanagedConflicts.keys()) if (key.startsWith(`${name}/`)) this.unmanagedConflicts.delete(key);
    this.mintedSourceVersions.delete(name);
    this.mintedGenerations.delete(name);
    this.refreshPlans.delete(name);
    this.statusWrites.delete(name);
    const ours = view.managedSecretsOf(name);
    if ((credential.spec.deletionPolicy ?? 'Delete') === 'Delete') {
      const names = new Set([credential.spec.secretName ?? name, ...ours.map((s) => s.metadata.name)]);
      const edits = new AccountEdits();
      for (const sa of view.allServiceAccounts()) {
        for (const secretName of addedPullSecrets(sa).filter((n) => names.has(n))) {
          if (classifyExistingSecret(view.managedSecret(sa.namespace, secretName), name) === 'foreign') continue;
          edits.add(this.editServiceAccount(sa, (fresh) => removePullSecret(fresh, secretName), false, log));
        }
      }
      const results = await edits.settled();
      if (results.some((r) => r.failed)) throw new RetryableFanOutError('some ServiceAccounts could not be cleaned up; retrying');
      await Promise.all(ours.map((s) => this.limit(() => this.deleteSecret(s, log))));
      log.info({ secrets: ours.length, serviceAccounts: results.length }, 'cleaned up');
    } else {
      // Orphan: keep Secrets and entries, but drop our ownerReference so the garbage collector leaves them.
      await Promise.all(ours.map((s) => this.limit(() => this.orphanSecret(s))));
      log.info({ secrets: ours.length }, 'orphaned');
    }
    await writer
      .patchCredential(name, {
        metadata: { resourceVersion: credential.metadata.resourceVersion, finalizers: credential.metadata.finalizers.filter((f) => f !== FINALIZER) },
      })
      .catch((err: unknown) => {
        if (!isKind(err, 'NotFound')) throw err;
      });
  }

  private async orphanSecret(secret: SecretView): Promise<void> {
    const owners = secret.metadata.ownerReferences ?? [];
    const kept = owners.filter((ref) => !isCredentialReference(ref));
    if (kept.length === owners.length) return;
    const written = await this.deps.writer.replaceSecret({ ...secret, metadata: { ...secret.metadata, ownerReferences: kept } });
    this.deps.view.secretWrites.wrote(written);
  }

  /**
   * Writes the status if it changed. A change of counts alone, within STATUS_COALESCE_MS of our last
   * status write, is held back instead: the returned delay is when the key must run again to write it.
   */
  private async writeStatus(credential: RegistryCredential, facts: ReconcileFacts, log: Logger): Promise<number | undefined> {
    const name = credential.metadata.name;
    const next = computeStatus(credential, facts);
    const previous = credential.status;
    if (statusEqual(previous ?? {}, next)) return undefined;
    const changed = Object.keys({ ...previous, ...next }).filter(
      (key) => !statusEqual((previous as Record<string, unknown> | undefined)?.[key], (next as Record<string, unknown>)[key]),
    );
    const now = this.deps.clock.now();
    const last = this.statusWrites.get(name);
    // Compared with our last write too: a transition it made must not be taken back in silence by a stale cache.
    if (last && now - last.at < STATUS_COALESCE_MS && onlyCountsChanged(previous, next) && onlyCountsChanged(last.status, next)) {
      const delayMs = last.at + STATUS_COALESCE_MS - now;
      log.debug({ changed, delayMs }, 'status counts changed; written shortly, with any that follow');
      return delayMs;
    }
    log.debug({ changed }, 'status changed');
    await this.deps.writer.patchCredentialStatus(name, statusMergePatch(previous, next));
    this.statusWrites.set(name, { at: now, status: next });
    for (const t of statusTransitions(previous, next)) {
      await this.deps.events.record(credential, t.type, t.reason, t.message);
      const level = t.type === 'Warning' ? 'warn' : 'info';
      log[level]({ reason: t.reason }, t.message);
    }
  }
}

function parseTime(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** The failure the last attempt reported (TokenAvailable=False), kept while waiting for the next one. */
function tokenProblem(status: RegistryCredential['status']): { reason: string; message: string } | undefined {
  const token = status?.conditions?.find((c) => c.type === 'TokenAvailable');
  if (!token || token.status !== 'False' || token.reason === 'Expired') return undefined;
  return { reason: token.reason, message: token.message };
}

function expiredError(published: MintedCredential, detail: string): { reason: string; message: string } {
  return { reason: 'Expired', message: `the published credential expired at ${toKubeTime(published.expiresAt!)}; ${detail}` };
}

/** Older first, then by name: a stable order to settle two claims on one Secret. */
function rank(credential: RegistryCredential): string {
  return `${credential.metadata.creationTimestamp ?? ''}\0${credential.metadata.name}`;
}
