import type { RegistryCredential } from '../api/types.js';
import { outcomeOf, type ReconcileKey, type ReconcileOutcome } from '../reconcile/contract.js';
import type { ProviderName } from '../api/types.js';
import type { ListWatchStats } from '../kube/list-watch.js';

export type { ReconcileOutcome } from '../reconcile/contract.js';

/** Told when a key really enters the queue and when one is put back with backoff. */
export interface WorkQueueObserver {
  /** A key became waiting (an add of a key that is already waiting is a no-op and is not reported). */
  added(): void;
  /** A key was requeued with backoff after a failed reconcile. */
  retried(): void;
}

/**
 * What the controller reports about its own work as it happens. main.ts passes one in (metrics); the
 * controller never knows what is behind it. Implementations must be cheap and must not throw.
 */
export interface ControllerObserver extends WorkQueueObserver {
  reconciled(outcome: ReconcileOutcome, seconds: number): void;
  /** Provider calls (ECR, Google) now in flight, and waiting for a slot, for one provider. */
  providerCalls?(provider: ProviderName, inFlight: number, waiting: number): void;
  /** A registry check (Verified) finished after `seconds`, with this reason. */
  verified?(seconds: number, reason: string): void;
}

/** What the controller holds right now, read when someone asks (a scrape), never pushed. */
export interface ControllerState {
  /** Keys waiting to be handed to a worker. */
  queueDepth: number;
  /** Each informer: whether it is up, and what its list/watch did since start (src/kube/list-watch.ts). */
  informers: readonly ({ name: string; up: boolean } & Partial<ListWatchStats>)[];
  /** The RegistryCredentials in the informer cache, with the status the operator last wrote. */
  credentials: readonly RegistryCredential[];
}

/**
 * Wraps a reconcile so that each run reports its outcome and duration. `now` is a monotonic clock in
 * milliseconds; the result and any error pass through unchanged.
 */
export function observeReconcile<K extends string>(
  reconcile: ReconcileKey<K>,
  observer: ControllerObserver,
  now: () => number = () => performance.now(),
): ReconcileKey<K> {
  return async (key) => {
    const started = now();
    let outcome: ReconcileOutcome = 'error';
    try {
      const result = await reconcile(key);
      outcome = outcomeOf(result);
      return result;
    } finally {
      reportSafely(() => observer.reconciled(outcome, Math.max(0, now() - started) / 1000));
    }
  };
}

/** An observer that throws must not change what the controller does. */
export function reportSafely(report: () => void): void {
  try {
    report();
  } catch {
    // Observation is best effort.
  }
}
