import type { RegistryCredential } from '../api/types.js';
import type { ReconcileKey } from './workers.js';

/**
 * How a reconcile ended, as controller-runtime labels it: `success` (nothing more to do), `requeue`
 * (succeeded and asked to run again after a delay, e.g. a scheduled refresh; controller-runtime's
 * `requeue_after`), `error` (threw; the key is retried with backoff).
 */
export type ReconcileOutcome = 'success' | 'requeue' | 'error';

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
}

/** What the controller holds right now, read when someone asks (a scrape), never pushed. */
export interface ControllerState {
  /** Keys waiting to be handed to a worker. */
  queueDepth: number;
  informers: readonly { name: string; up: boolean }[];
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
      outcome = result.requeueAfterMs === undefined ? 'success' : 'requeue';
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
