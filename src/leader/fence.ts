/**
 * Fencing: a replica acts only while the lease is its own by its own monotonic clock. Every API write
 * the reconciler makes goes through fencedWriter, and every provider call and registry probe asks the
 * guard first (src/reconcile/mints.ts, verifications.ts). A replica frozen past its lease (SIGSTOP, a
 * long GC pause, a suspended VM) finds its lease gone when it resumes and is refused before it writes.
 */
import type { KubeWriter } from '../kube/writer.js';

/** Refused: this process does not hold the lease (or no longer with the safety margin to spare). */
export class NotLeaderError extends Error {
  constructor(action: string) {
    super(`refused to ${action}: this replica does not hold the leader lease`);
    this.name = 'NotLeaderError';
  }
}

export interface LeaseGuard {
  /** Throws NotLeaderError unless this process may act as the leader now. */
  check(action: string): void;
}

/** Whoever runs without leader election may always act. */
export const ALWAYS_LEADING: LeaseGuard = { check: () => undefined };

/**
 * How much sooner than the lease's end a leader stops acting: a write checked just before the end still
 * has to travel to the API server. Larger than a request's usual latency, small beside the lease duration.
 */
export const FENCE_MARGIN_MS = 2_000;

/** The guard of an elector: the lease held with `marginMs` to spare. */
export function leaseGuard(elector: { holdsLease(marginMs: number): boolean }, marginMs = FENCE_MARGIN_MS): LeaseGuard {
  return {
    check(action) {
      if (!elector.holdsLease(marginMs)) throw new NotLeaderError(action);
    },
  };
}

/** The same writer, each call refused (a rejected promise, nothing sent) unless the guard allows it. */
export function fencedWriter(writer: KubeWriter, guard: LeaseGuard): KubeWriter {
  const fenced =
    <A extends unknown[], R>(action: (args: NoInfer<A>) => string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      guard.check(action(args));
      return fn(...args);
    };
  return {
    createSecret: fenced(([s]) => `create Secret ${s.metadata?.namespace}/${s.metadata?.name}`, (s) => writer.createSecret(s)),
    replaceSecret: fenced(([s]) => `update Secret ${s.metadata?.namespace}/${s.metadata?.name}`, (s) => writer.replaceSecret(s)),
    getSecret: fenced(([ns, name]) => `read Secret ${ns}/${name}`, (ns, name) => writer.getSecret(ns, name)),
    deleteSecret: fenced(([ns, name]) => `delete Secret ${ns}/${name}`, (ns, name, uid) => writer.deleteSecret(ns, name, uid)),
    getServiceAccount: fenced(([ns, name]) => `read ServiceAccount ${ns}/${name}`, (ns, name) => writer.getServiceAccount(ns, name)),
    patchServiceAccount: fenced(([ns, name]) => `patch ServiceAccount ${ns}/${name}`, (ns, name, patch) => writer.patchServiceAccount(ns, name, patch)),
    patchCredential: fenced(([name]) => `patch RegistryCredential ${name}`, (name, patch) => writer.patchCredential(name, patch)),
    patchCredentialStatus: fenced(([name]) => `update status of RegistryCredential ${name}`, (name, status) => writer.patchCredentialStatus(name, status)),
    createEvent: fenced(([e]) => `create Event about ${e.involvedObject?.name}`, (e) => writer.createEvent(e)),
  };
}
