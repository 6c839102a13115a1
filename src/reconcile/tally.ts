/**
 * The status counts of a credential, kept per namespace so that a reconcile of a few namespaces can say
 * what the whole credential's status counts are without walking every namespace again
 * (docs/adr/0011-scoped-reconcile.md). The whole reconcile builds a tally from its fan-out and takes its
 * counts from it; a scoped reconcile replaces the entries of its namespaces with what it found there. Both
 * paths therefore count the same way, and test/unit/scoped-snapshot.test.ts checks that a tally brought up
 * to date namespace by namespace equals the one the whole reconcile builds.
 */
import type { FailedNamespace } from '../api/types.js';
import type { ReconcileFacts } from '../status/compute.js';
import type { AccountResult } from './act.js';
import type { Snapshot } from './gather.js';
import type { NamespaceResult } from './plan-secrets.js';
import type { AccountPlan } from './plan-service-accounts.js';

/** What bringing a snapshot's namespaces in line did. */
export interface FanOut {
  results: NamespaceResult[];
  /** Namespaces whose Secret is in place now. */
  synced: Set<string>;
  accountPlan: AccountPlan;
  accountResults: AccountResult[];
}

export type TalliedCounts = Pick<
  ReconcileFacts,
  'targets' | 'synced' | 'failed' | 'patchedServiceAccounts' | 'serviceAccountFailures' | 'missingServiceAccounts' | 'missingNamespaces'
>;

/**
 * One target namespace, packed in a small integer so a tally over 20,000 namespaces stays a map of
 * numbers: bit 0 the Secret is in place, bit 1 no selected ServiceAccount exists yet, the rest the number
 * of selected ServiceAccounts that carry our entry.
 */
const SYNCED = 1;
const NO_ACCOUNT = 2;
const CARRYING_SHIFT = 2;

export class StatusTally {
  /** Target namespace → its packed entry. */
  private readonly targets = new Map<string, number>();
  /** Target namespace → why the Secret is not in place there. */
  private readonly failures = new Map<string, FailedNamespace>();
  /** Namespace (targeted or not) → ServiceAccounts there that could not be edited. */
  private readonly accountFailures = new Map<string, number>();
  /** spec.namespaces.names that do not exist. */
  private missing = new Set<string>();
  private synced = 0;
  private carrying = 0;
  private noAccount = 0;
  private failedAccounts = 0;

  /** The tally of a whole snapshot and what its fan-out did. */
  static of(snapshot: Snapshot, fanOut: FanOut): StatusTally {
    const tally = new StatusTally();
    tally.record(snapshot, fanOut);
    return tally;
  }

  /**
   * Replaces what the tally says about the scoped snapshot's namespaces with what its fan-out found there.
   * A namespace in the scope that is no longer targeted (deleted, relabelled) leaves the tally.
   */
  update(snapshot: Snapshot, fanOut: FanOut): void {
    const scope = snapshot.scope;
    if (!scope) throw new Error('StatusTally.update takes a scoped snapshot; a whole one makes a new tally');
    for (const namespace of scope) {
      this.setTarget(namespace, undefined);
      this.failures.delete(namespace);
      this.setAccountFailures(namespace, 0);
      this.missing.delete(namespace);
    }
    this.record(snapshot, fanOut);
  }

  counts(): TalliedCounts {
    return {
      targets: this.targets.size,
      synced: this.synced,
      failed: [...this.failures.values()],
      patchedServiceAccounts: this.carrying,
      serviceAccountFailures: this.failedAccounts,
      missingServiceAccounts: this.noAccount,
      missingNamespaces: [...this.missing].sort(),
    };
  }

  private record(snapshot: Snapshot, fanOut: FanOut): void {
    const { results, synced, accountPlan, accountResults } = fanOut;
    // Selected ServiceAccounts that carry the entry: those that already did, and those an edit gave it to.
    const added = new Map<string, number>();
    for (const r of accountResults) {
      const namespace = r.edit.sa.namespace;
      if (r.edit.add !== undefined && r.carries) added.set(namespace, (added.get(namespace) ?? 0) + 1);
      if (r.failed) this.setAccountFailures(namespace, (this.accountFailures.get(namespace) ?? 0) + 1);
    }
    for (const namespace of snapshot.targets) {
      const carrying = (accountPlan.carrying.get(namespace) ?? 0) + (added.get(namespace) ?? 0);
      const entry = (synced.has(namespace) ? SYNCED : 0) | (accountPlan.missingServiceAccounts.has(namespace) ? NO_ACCOUNT : 0) | (carrying << CARRYING_SHIFT);
      this.setTarget(namespace, entry);
    }
    for (const r of results) if (r.failure) this.failures.set(r.namespace, r.failure);
    for (const name of snapshot.missingNamespaces) this.missing.add(name);
  }

  private setTarget(namespace: string, entry: number | undefined): void {
    const old = this.targets.get(namespace);
    if (old !== undefined) this.count(old, -1);
    if (entry === undefined) this.targets.delete(namespace);
    else {
      this.targets.set(namespace, entry);
      this.count(entry, 1);
    }
  }

  private count(entry: number, sign: 1 | -1): void {
    if (entry & SYNCED) this.synced += sign;
    if (entry & NO_ACCOUNT) this.noAccount += sign;
    this.carrying += sign * (entry >>> CARRYING_SHIFT);
  }

  private setAccountFailures(namespace: string, failures: number): void {
    this.failedAccounts += failures - (this.accountFailures.get(namespace) ?? 0);
    if (failures === 0) this.accountFailures.delete(namespace);
    else this.accountFailures.set(namespace, failures);
  }
}
