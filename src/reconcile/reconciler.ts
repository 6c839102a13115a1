/**
 * The reconcile of one RegistryCredential: gather → decide → act → report.
 *
 *   gather.ts                   the only reads: one snapshot of everything the credential reads
 *   decide-credential.ts        pure: what to publish, whether to call the provider, what TokenAvailable says
 *   plan-secrets.ts             pure: per namespace, create / update / replace / leave alone
 *   plan-service-accounts.ts    pure: entries to add and remove, stale Secrets to delete, cleanup on delete
 *   act.ts                      the only writes: performs a plan, reports what happened
 *   report.ts                   status (only when changed, counts coalesced) and Events
 *   mints.ts                    provider calls, outside the workers, bounded per provider
 *   decide-verification.ts      pure: what Verified says, whether to probe the registries now
 *   verifications.ts            registry probes, outside the workers
 *   memory.ts                   what this process remembers per credential, dropped in one place
 *   contract.ts                 what a reconcile returns and how the work loop treats it
 *
 * It is level-based: it never depends on which event woke it, except to narrow where it looks. When only
 * some namespaces changed (src/controller/scoped-queue.ts) and the last whole reconcile's decision about
 * the credential still holds, it runs the same plans over a snapshot of those namespaces alone, which is
 * the whole plan's part there (test/unit/scoped-snapshot.test.ts), and brings the status counts up to date
 * from a per-namespace tally (tally.ts) instead of counting every namespace again
 * (docs/adr/0011-scoped-reconcile.md).
 */
import type { ProviderName, RegistryCredential } from '../api/types.js';
import { CREDENTIAL_LABEL, FINALIZER } from '../api/constants.js';
import type { Clock } from '../controller/clock.js';
import type { ClusterView } from '../controller/cluster-view.js';
import type { EventRecorder } from '../controller/events.js';
import { secretTemplate, type SecretTemplate } from '../desired/secret.js';
import type { KubeWriter } from '../kube/writer.js';
import type { LeaseGuard } from '../leader/fence.js';
import type { Logger } from '../observability/logger.js';
import type { Provider } from '../providers/types.js';
import { computeStatus, type ReconcileFacts } from '../status/compute.js';
import { plural } from '../status/plural.js';
import { TerminalError, type ReconcileResult } from './contract.js';
import { Executor } from './act.js';
import { decideCredential, type CredentialDecision, type Publishable } from './decide-credential.js';
import { gather, sourceVersionOf, type Snapshot } from './gather.js';
import { CredentialMemories, type CredentialMemory, type ScopedBasis } from './memory.js';
import { MintRunner } from './mints.js';
import { planSecrets, type NamespaceResult } from './plan-secrets.js';
import { deletableSecrets, planCleanup, planServiceAccounts } from './plan-service-accounts.js';
import { recordEvent, writeStatus, type ReportDeps } from './report.js';
import { StatusTally, type FanOut } from './tally.js';
import { DEFAULT_HEADROOM_PERCENT, decideVerification, type VerificationDecision } from './decide-verification.js';
import { VerificationRunner } from './verifications.js';
import { parseDockerConfigJson } from '../desired/dockerconfig.js';
import type { Verifier } from '../registry/types.js';

export interface ReconcilerDeps {
  view: ClusterView;
  /** Records its own writes in the view's mutation caches (src/controller/recording-writer.ts). */
  writer: KubeWriter;
  providers: Partial<Record<ProviderName, Provider>>;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  /** Secret and ServiceAccount writes in flight at once, across all reconciles (one pool); a reconcile takes its plan that many at a time. */
  writeConcurrency: number;
  random: () => number;
  /** Puts a credential's key back on the queue (a provider call settled). */
  enqueue: (name: string) => void;
  /**
   * Puts a credential's key back on the queue for its status alone (a registry probe settled): the
   * reconcile that follows reuses the last whole one's decision when it still holds, and only writes what
   * the probe found (ScopedWorkQueue.addIn without a namespace). Absent: `enqueue`.
   */
  enqueueStatus?: (name: string) => void;
  /** How long one provider call may take, and how many run at once per provider. */
  providerTimeoutMs: number;
  providerConcurrency: number;
  reportProviderCalls?: (provider: ProviderName, inFlight: number, waiting: number) => void;
  /** Checks published credentials at their registries (the Verified condition); absent: Verified is not reported. */
  verifier?: Verifier;
  /** Docker Hub headroom under this percentage of the limit is reported (default 10). */
  headroomPercent?: number;
  /** Told each registry probe's duration and the reason it ended with. */
  observeVerification?: (seconds: number, reason: string) => void;
  /** Asked before every provider call and registry probe (leader election; src/leader/fence.ts). */
  guard?: LeaseGuard;
}

/** A fan-out write failed in a way worth retrying soon (a conflict, a transient error). */
export class RetryableFanOutError extends Error {
  constructor(
    message: string,
    /** The longest Retry-After the API server gave among the failed writes: the retry waits at least that. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The longest Retry-After among some failed writes, if any gave one. */
function longestRetryAfter(results: readonly { retryAfterMs?: number }[]): number | undefined {
  const waits = results.map((r) => r.retryAfterMs).filter((w): w is number => w !== undefined);
  return waits.length > 0 ? Math.max(...waits) : undefined;
}

/** "1 namespace needs", "2 namespaces and 1 ServiceAccount need": what a fan-out left to retry, with the verb. */
export function retryCounts(namespaces: number, serviceAccounts: number): string {
  const parts = [
    ...(namespaces > 0 ? [plural(namespaces, 'namespace')] : []),
    ...(serviceAccounts > 0 ? [plural(serviceAccounts, 'ServiceAccount')] : []),
  ];
  if (parts.length === 0) return 'nothing needs';
  // One subject of one thing takes "needs"; two things, or two subjects joined by "and", take "need".
  const single = parts.length === 1 && namespaces + serviceAccounts === 1;
  return `${parts.join(' and ')} ${single ? 'needs' : 'need'}`;
}

export class Reconciler {
  readonly memories = new CredentialMemories();
  /**
   * name → uid of each credential whose finalizer this process removed, until the cache sees it go. Until
   * then a reconcile of it (queued by the deletes of its own Secrets) still finds it marked deleted with the
   * finalizer, and must not clean up again: by then another credential may have taken over the Secret name
   * and added its entry to the same ServiceAccounts, and a second cleanup that took that entry for its own
   * would remove it with a write that wakes no one (the handover in test/integration/ownership.test.ts).
   */
  private readonly finalized = new Map<string, string>();
  private readonly act: Executor;
  private readonly mints: MintRunner;
  private readonly verifications?: VerificationRunner;
  private readonly report: ReportDeps;

  constructor(private readonly deps: ReconcilerDeps) {
    this.act = new Executor(
      deps.writer,
      deps.writeConcurrency,
      (namespace, name) => deps.view.serviceAccount(namespace, name),
      () => deps.view.watchesKeepingUp(),
    );
    this.report = { writer: deps.writer, events: deps.events, headroomPercent: deps.headroomPercent ?? DEFAULT_HEADROOM_PERCENT };
    if (deps.verifier) {
      this.verifications = new VerificationRunner({
        verifier: deps.verifier,
        clock: deps.clock,
        log: deps.log,
        memories: this.memories,
        settled: deps.enqueueStatus ?? deps.enqueue,
        observe: deps.observeVerification,
        guard: deps.guard,
      });
    }
    this.mints = new MintRunner({
      providers: deps.providers,
      clock: deps.clock,
      log: deps.log,
      timeoutMs: deps.providerTimeoutMs,
      concurrency: deps.providerConcurrency,
      memories: this.memories,
      settled: deps.enqueue,
      report: deps.reportProviderCalls,
      guard: deps.guard,
    });
  }

  /**
   * `scope`: only these namespaces changed (src/controller/scoped-queue.ts); empty: only the status counts.
   * When the last whole reconcile's decision still holds, only they are brought in line and counted;
   * otherwise, and without a scope, the whole credential.
   */
  async reconcile(name: string, scope?: ReadonlySet<string>): Promise<ReconcileResult> {
    const credential = this.deps.view.credential(name);
    if (!credential) {
      this.memories.forget(name);
      this.finalized.delete(name);
      return {};
    }
    const log = this.deps.log.child({ credential: name, reconcileId: Math.random().toString(36).slice(2, 10) });
    if (credential.metadata.deletionTimestamp) {
      // Released already: the cache has not seen it go yet.
      if (this.finalized.get(name) === credential.metadata.uid) return {};
      await this.finalize(credential, log);
      return {};
    }
    if (!credential.metadata.finalizers?.includes(FINALIZER)) {
      if ((await this.act.addFinalizer(credential)) === 'gone') return {};
      log.debug('finalizer added');
    }
    const memory = this.memories.get(name);
    const basis = scope && this.basisFor(credential, memory);
    if (scope && basis) return this.syncNamespaces(credential, basis, scope, memory, log);
    return this.sync(credential, memory, log);
  }

  /** The last whole reconcile's decision, if a reconcile of a few namespaces may reuse it now (ScopedBasis). */
  private basisFor(credential: RegistryCredential, memory: CredentialMemory): ScopedBasis | undefined {
    const basis = memory.scopedBasis;
    if (!basis || memory.mintInFlight || memory.mintSettled) return undefined;
    if (basis.uid !== credential.metadata.uid || basis.generation !== credential.metadata.generation) return undefined;
    if (basis.sourceVersion !== sourceVersionOf(credential, this.deps.view)) return undefined;
    if (basis.until && this.deps.clock.now() >= basis.until.getTime()) return undefined;
    return basis;
  }

  /**
   * The whole reconcile's act, over a few namespaces: the same plans, made from a snapshot restricted to
   * them, so it writes what the whole reconcile would write there and nothing elsewhere. The status is the
   * whole reconcile's, with the counts of the tally brought up to date in these namespaces; a change of
   * counts alone waits as the whole reconcile's would (writeStatus), and `recountAfterMs` brings the key
   * back to write it. A failed write goes back through the whole reconcile's retry. What Verified says is
   * decided again each time, from the credential the basis publishes: a registry probe that settled is
   * reported by a reconcile of no namespace at all, not by a whole one that would find nothing to write.
   */
  private async syncNamespaces(credential: RegistryCredential, basis: ScopedBasis, scope: ReadonlySet<string>, memory: CredentialMemory, log: Logger): Promise<ReconcileResult> {
    const now = new Date(this.deps.clock.now());
    const snapshot = gather({ view: this.deps.view, now, random: this.deps.random }, credential, memory, scope);
    const fanOut = await this.bringInLine(snapshot, basis.template, memory, now, log);
    basis.tally.update(snapshot, fanOut);
    log.debug({ namespaces: scope.size, targets: snapshot.targets.length }, 'reconciled namespaces');
    const { results, accountResults } = fanOut;
    const retries = results.filter((r) => r.retry).length;
    const failedAccounts = accountResults.filter((r) => r.failed).length;
    if (retries > 0 || failedAccounts > 0) {
      throw new RetryableFanOutError(`${retryCounts(retries, failedAccounts)} another try`, longestRetryAfter([...results, ...accountResults]));
    }
    const facts: ReconcileFacts = { ...basis.facts, now, ...basis.tally.counts() };
    const verification = this.verify(credential, basis.publish, memory, now);
    if (verification) facts.verification = verification.facts;
    await this.reportMissingNamespaces(credential, facts.missingNamespaces ?? [], memory, log);
    const delay = await this.writeStatus(credential, facts, memory, log);
    await this.reportRecovery(credential, memory, log);
    // A probe that settled since the whole reconcile sets the next one's time, which that reconcile could
    // not plan for: the basis holds until then, and the key comes back then for a whole reconcile.
    const wakeAt = verification?.wakeAt;
    const sooner = wakeAt && (!basis.until || wakeAt < basis.until) ? wakeAt : undefined;
    if (sooner) basis.until = sooner;
    return {
      ...(delay === undefined ? {} : { recountAfterMs: delay }),
      ...(sooner ? requeueAt(now, [sooner]) : {}),
      ...(leftFailed(facts) ? { failed: true } : {}),
    };
  }

  /**
   * Act: the Secrets first; the ServiceAccounts only where the Secret is in place; stale Secrets last
   * (only once no edit removing an entry that names one has failed).
   */
  private async bringInLine(snapshot: Snapshot, template: SecretTemplate, memory: CredentialMemory, now: Date, log: Logger): Promise<FanOut> {
    const { credential } = snapshot;
    const secretPlan = planSecrets(snapshot, template, memory);
    const written = await this.act.writeSecrets(secretPlan.writes, template, credential.spec.adoptExisting === true, log);
    const results = [...secretPlan.settled, ...written];
    await this.rememberSecretResults(credential, results, memory, now, log);
    const synced = new Set(results.filter((r) => r.synced).map((r) => r.namespace));

    const accountPlan = planServiceAccounts(snapshot, synced);
    const accountResults = await this.act.editServiceAccounts(accountPlan.edits, log);
    const failedRemovals = new Set(accountResults.filter((r) => r.failed).flatMap((r) => r.edit.remove.map((n) => `${r.edit.sa.namespace}/${n}`)));
    await this.act.deleteSecrets(deletableSecrets(accountPlan.staleSecrets, failedRemovals), log);
    return { results, synced, accountPlan, accountResults };
  }

  private async sync(credential: RegistryCredential, memory: CredentialMemory, log: Logger): Promise<ReconcileResult> {
    // Set again below once this reconcile has published without anything left to retry.
    memory.scopedBasis = undefined;
    const now = new Date(this.deps.clock.now());
    const snapshot = gather({ view: this.deps.view, now, random: this.deps.random }, credential, memory);
    const facts = baseFacts(snapshot);

    if (!snapshot.validation.ok || !snapshot.credentialInput) {
      // Terminal until the spec changes: reported, not retried, and nothing published is touched.
      const invalid = snapshot.validation.ok ? { reason: 'InvalidSpec', message: 'the spec cannot be read' } : snapshot.validation;
      const published = new Set(snapshot.ours.map((s) => s.metadata.namespace));
      await this.writeStatus(credential, { ...facts, invalid, targets: credential.status?.targetNamespaces ?? 0, synced: published.size }, memory, log);
      throw new TerminalError(`invalid spec (${invalid.reason}): ${invalid.message}`);
    }
    facts.provider = snapshot.validation.provider;

    const decision = decideCredential(snapshot.credentialInput);
    this.rememberDecision(snapshot, decision, memory, log);
    Object.assign(facts, decision.token, { refresh: decision.refresh });

    const publish = decision.publish;
    if (!publish) {
      // What is published stays in place: count it as it is.
      facts.synced = snapshot.targets.filter((ns) => snapshot.existing.get(ns)?.metadata.labels?.[CREDENTIAL_LABEL] === snapshot.name).length;
      facts.patchedServiceAccounts = credential.status?.patchedServiceAccounts ?? 0;
      const verification = this.verify(credential, undefined, memory, now);
      if (verification) facts.verification = verification.facts;
      const delay = await this.writeStatus(credential, facts, memory, log);
      const result = requeueAt(now, wakeTimes(decision), delay);
      return leftFailed(facts) ? { ...result, failed: true } : result;
    }

    const template = secretTemplate({
      credentialName: snapshot.name,
      credentialUid: credential.metadata.uid ?? '',
      secretName: snapshot.secretName,
      dockerConfigJson: publish.dockerConfigJson,
      expiresAt: publish.expiresAt,
    });
    const fanOut = await this.bringInLine(snapshot, template, memory, now, log);
    const { results, accountResults } = fanOut;

    // Remembered even where no namespace took it (every target in conflict): it is still the credential
    // status describes, and a time taken afresh on each reconcile would rewrite status each time.
    memory.published = { digest: publish.digest, obtainedAt: publish.obtainedAt };
    // Counted the way a reconcile of a few namespaces counts (tally.ts), so both paths report alike.
    const tally = StatusTally.of(snapshot, fanOut);
    Object.assign(facts, tally.counts());
    facts.credential = { registries: publish.registries, expiresAt: publish.expiresAt, obtainedAt: publish.obtainedAt };
    await this.reportMissingNamespaces(credential, facts.missingNamespaces ?? [], memory, log);
    const verification = this.verify(credential, publish, memory, now);
    if (verification) facts.verification = verification.facts;
    const delay = await this.writeStatus(credential, facts, memory, log);
    await this.reportRecovery(credential, memory, log);

    if (results.some((r) => r.retry) || facts.serviceAccountFailures > 0) {
      // The retry runs the whole reconcile again, status included.
      throw new RetryableFanOutError(
        `${retryCounts(facts.targets - facts.synced, facts.serviceAccountFailures)} another try`,
        longestRetryAfter([...results, ...accountResults]),
      );
    }
    if (!decision.awaitingCall) {
      // Until the first time the whole reconcile must run again for its own sake (a refresh, an expiry, a probe).
      const until = [...wakeTimes(decision), verification?.wakeAt].filter((t): t is Date => t !== undefined);
      memory.scopedBasis = {
        uid: credential.metadata.uid,
        generation: credential.metadata.generation,
        sourceVersion: snapshot.credentialInput.current.sourceVersion,
        template,
        publish,
        until: until.length > 0 ? new Date(Math.min(...until.map((t) => t.getTime()))) : undefined,
        facts,
        tally,
      };
    }
    return { ...requeueAt(now, [...wakeTimes(decision), verification?.wakeAt], delay), ...(leftFailed(facts) ? { failed: true } : {}) };
  }

  /**
   * Decides what Verified says for the credential published now and starts a registry probe when one is
   * due (outside the workers; its settling queues the credential again). Never changes what is published.
   */
  private verify(credential: RegistryCredential, publish: Publishable | undefined, memory: CredentialMemory, now: Date): VerificationDecision | undefined {
    if (!this.verifications) return undefined;
    const decision = decideVerification({
      now,
      spec: credential.spec.verify,
      generation: credential.metadata.generation,
      published: publish ? { digest: publish.digest, obtainedAt: publish.obtainedAt } : undefined,
      memory: memory.verification,
      previous: credential.status ?? {},
      headroomPercent: this.report.headroomPercent,
    });
    if (decision.abortInFlight) {
      memory.verification.inFlight?.abort.abort();
      memory.verification.inFlight = undefined;
    }
    if (decision.adopt) memory.verification.settled = decision.adopt;
    if (decision.start && publish) {
      const parsed = parseDockerConfigJson(publish.dockerConfigJson);
      // What we publish was built from checked logins; a document we cannot read back is not probed.
      if (parsed.ok) {
        this.verifications.start(
          { name: credential.metadata.name, key: decision.start, logins: parsed.value.logins, images: credential.spec.verify?.images ?? [] },
          memory,
        );
      }
    }
    return decision;
  }

  /** Applies what the decision asks of this process's memory, and starts the provider call it asks for. */
  private rememberDecision(snapshot: Snapshot, decision: CredentialDecision, memory: CredentialMemory, log: Logger): void {
    if (decision.consumeSettled) memory.mintSettled = undefined;
    if (decision.abortInFlight && memory.mintInFlight) {
      memory.mintInFlight.abort.abort();
      memory.mintInFlight = undefined;
    }
    if (decision.readFor) memory.lastMintFor = decision.readFor;
    memory.refreshPlan = decision.refresh;
    if (decision.failure) log.warn(decision.failure, 'refresh failed');
    if (decision.recoveredAfter) log.info({ after: decision.recoveredAfter }, 'refresh succeeded after failures');
    if (decision.startMint) {
      const { provider } = snapshot.credentialInput!;
      log.debug({ provider }, 'calling the provider');
      this.mints.start(
        { name: snapshot.name, provider, spec: snapshot.credential.spec, sources: this.deps.view.sources, for: decision.startMint, forChange: decision.mintForChange },
        memory,
      );
    }
  }

  private async rememberSecretResults(credential: RegistryCredential, results: NamespaceResult[], memory: CredentialMemory, now: Date, log: Logger): Promise<void> {
    for (const result of results) {
      if (result.metUnmanaged) memory.unmanagedConflicts.set(result.namespace, now.getTime());
      else if (result.synced) memory.unmanagedConflicts.delete(result.namespace);
      if (result.adopted) {
        const secretName = credential.spec.secretName ?? credential.metadata.name;
        await recordEvent(this.report, credential, 'Normal', 'Adopted', `adopted the existing Secret ${secretName} in ${result.namespace} (spec.adoptExisting)`, log);
      }
    }
  }

  /** A Normal event, once, when the registries accept a credential after they refused the one before. */
  private async reportRecovery(credential: RegistryCredential, memory: CredentialMemory, log: Logger): Promise<void> {
    const settled = memory.verification.settled;
    if (!settled?.recovered || memory.statusWrite?.status.conditions?.find((c) => c.type === 'Verified')?.status !== 'True') return;
    settled.recovered = false;
    await recordEvent(this.report, credential, 'Normal', 'VerificationRecovered', settled.condition.message, log);
  }

  /** A Warning when the set of spec.namespaces.names that do not exist (sorted) changes (and is not empty). */
  private async reportMissingNamespaces(credential: RegistryCredential, missing: readonly string[], memory: CredentialMemory, log: Logger): Promise<void> {
    const key = missing.join(',');
    if (key === (memory.reportedMissingNamespaces ?? '')) return;
    memory.reportedMissingNamespaces = key;
    if (key === '') return;
    const message = `spec.namespaces.names lists namespaces that do not exist: ${missing.slice(0, 10).join(', ')}; they get the Secret once created`;
    await recordEvent(this.report, credential, 'Warning', 'NamespacesNotFound', message, log);
  }

  private async writeStatus(credential: RegistryCredential, facts: ReconcileFacts, memory: CredentialMemory, log: Logger): Promise<number | undefined> {
    return writeStatus(this.report, credential, computeStatus(credential, facts), memory, this.deps.clock.now(), log);
  }

  /** Deletion: clean up (or orphan) what we wrote, release the finalizer, forget the credential. */
  private async finalize(credential: RegistryCredential, log: Logger): Promise<void> {
    const name = credential.metadata.name;
    if (!credential.metadata.finalizers?.includes(FINALIZER)) {
      this.memories.forget(name);
      return;
    }
    const memory = this.memories.get(name);
    memory.mintInFlight?.abort.abort();
    const snapshot = gather({ view: this.deps.view, now: new Date(this.deps.clock.now()), random: this.deps.random }, credential, memory);
    if ((credential.spec.deletionPolicy ?? 'Delete') === 'Delete') {
      const cleanup = planCleanup(snapshot);
      const results = await this.act.editServiceAccounts(cleanup.edits, log);
      if (results.some((r) => r.failed)) throw new RetryableFanOutError('some ServiceAccounts could not be cleaned up; retrying', longestRetryAfter(results));
      await this.act.deleteSecrets(cleanup.secrets, log);
      log.info({ secrets: cleanup.secrets.length, serviceAccounts: results.length }, 'cleaned up');
    } else {
      const ours = snapshot.ours;
      await this.act.orphanSecrets(ours);
      log.info({ secrets: ours.length }, 'orphaned');
    }
    await this.act.removeFinalizer(credential);
    if (credential.metadata.uid) this.finalized.set(name, credential.metadata.uid);
    this.memories.forget(name);
  }
}

function baseFacts(snapshot: Snapshot): ReconcileFacts {
  return {
    now: snapshot.now,
    secretName: snapshot.secretName,
    targets: snapshot.targets.length,
    missingNamespaces: snapshot.missingNamespaces,
    synced: 0,
    failed: [],
    patchedServiceAccounts: 0,
    serviceAccountFailures: 0,
    missingServiceAccounts: 0,
  };
}

/** A reconcile that leaves the credential Ready=False (a credential error, a namespace that failed) counts as failed. */
function leftFailed(facts: ReconcileFacts): boolean {
  return facts.credentialError !== undefined || facts.failed.length > 0;
}

/** When the decision needs the credential reconciled again, besides events: its refresh time and its expiry. */
function wakeTimes(decision: CredentialDecision): (Date | undefined)[] {
  // While a provider call is under way its settling brings the key back; its refresh time has passed.
  return decision.awaitingCall ? [decision.wakeAt] : [decision.refresh.nextRefreshTime, decision.wakeAt];
}

/** Run again at the earliest of these times, or after `delayMs` (a held-back status write) if that is sooner. */
function requeueAt(now: Date, times: (Date | undefined)[], delayMs?: number): ReconcileResult {
  const delays = times.filter((t): t is Date => t !== undefined).map((t) => Math.max(0, t.getTime() - now.getTime()));
  if (delayMs !== undefined) delays.push(delayMs);
  return delays.length > 0 ? { requeueAfterMs: Math.min(...delays) } : {};
}
