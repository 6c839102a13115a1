import type { RegistryCredentialStatus } from '../api/types.js';
import type { SecretTemplate } from '../desired/secret.js';
import type { ProviderCredential, ProviderError } from '../providers/types.js';
import type { ReconcileFacts } from '../status/compute.js';
import type { Publishable } from './decide-credential.js';
import type { VerificationMemory } from './decide-verification.js';
import type { StatusTally } from './tally.js';

/** What a provider call was made for: a settled call for an older spec or source is thrown away. */
export interface MintFor {
  generation?: number;
  /** The source Secret's resourceVersion ('absent' when named but missing; undefined when none is named). */
  sourceVersion?: string;
}

export interface MintInFlight extends MintFor {
  startedAt: Date;
  abort: AbortController;
  /** Started because the spec or the source changed: what is published meanwhile was made for the old one. */
  forChange?: boolean;
}

export type MintSettled = MintFor & { at: Date } & ({ ok: true; credential: ProviderCredential } | { ok: false; error: ProviderError });

/**
 * Everything this process remembers about one RegistryCredential between reconciles: what it has
 * learnt that the informer caches cannot show yet (a status it wrote, a mint it made) or cannot show
 * at all (a Secret someone else owns). One object per credential, dropped in one place
 * (CredentialMemories.forget), so no path can clear one part and keep another.
 */
export interface CredentialMemory {
  /** The provider call running now, outside the reconcile workers (src/reconcile/mints.ts). */
  mintInFlight?: MintInFlight;
  /** A provider call that finished and whose result the next reconcile takes in. */
  mintSettled?: MintSettled;
  /** The spec generation and source version of the last provider call started (or static source read). */
  lastMintFor?: MintFor;
  /** The refresh time and failure count this process last decided (the cached status may lag behind). */
  refreshPlan?: { nextRefreshTime?: Date; failedAttempts: number };
  /** The credential our Secrets hold, by digest, and when it was obtained: status.lastRefreshTime. */
  published?: { digest: string; obtainedAt: Date };
  /** When this process last wrote the status, and what it wrote. */
  statusWrite?: { at: number; status: RegistryCredentialStatus };
  /** namespace → when a create there met a Secret we do not manage (it is not in our label-filtered cache). */
  unmanagedConflicts: Map<string, number>;
  /** The missing spec.namespaces.names last reported in an Event (sorted, comma-joined). */
  reportedMissingNamespaces?: string;
  /** The registry probe in flight and the last one settled (src/reconcile/verifications.ts). */
  verification: VerificationMemory;
  /** What the last whole reconcile published, for reconciles of a few namespaces (absent: none may run). */
  scopedBasis?: ScopedBasis;
}

/**
 * A whole reconcile's decision about the credential, which a reconcile of a few namespaces reuses instead of
 * deciding again: valid for the same object (uid), spec (generation) and source Secret version, with no
 * provider call under way or waiting to be taken in, and only until the whole reconcile wanted to run again.
 */
export interface ScopedBasis {
  uid?: string;
  generation?: number;
  sourceVersion?: string;
  /** The Secret every target namespace should hold. */
  template: SecretTemplate;
  /** The credential it holds, as the whole reconcile decided to publish it (what a registry probe checks). */
  publish: Publishable;
  /** The first refresh, expiry or registry-probe time the whole reconcile planned for. */
  until?: Date;
  /** What the whole reconcile's status said about the credential; the counts come from `tally`. */
  facts: ReconcileFacts;
  /** The status counts per namespace, which each reconcile of a few namespaces brings up to date there. */
  tally: StatusTally;
}

export class CredentialMemories {
  private readonly byName = new Map<string, CredentialMemory>();

  get(name: string): CredentialMemory {
    let memory = this.byName.get(name);
    if (!memory) {
      memory = { unmanagedConflicts: new Map(), verification: {} };
      this.byName.set(name, memory);
    }
    return memory;
  }

  /** Whether `memory` is still the one kept for `name` (a call that settles after a forget is dropped). */
  holds(name: string, memory: CredentialMemory): boolean {
    return this.byName.get(name) === memory;
  }

  /** The credential is gone or finalized: forget all of it, and stop any provider call or probe made for it. */
  forget(name: string): void {
    this.byName.get(name)?.mintInFlight?.abort.abort();
    this.byName.get(name)?.verification.inFlight?.abort.abort();
    this.byName.delete(name);
  }

  get size(): number {
    return this.byName.size;
  }
}
