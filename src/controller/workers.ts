import { isTerminal, retryAfterOf, type ReconcileKey } from '../reconcile/contract.js';
import type { WorkQueue } from './work-queue.js';

/** Told about every failed reconcile before the key is requeued with backoff; for logging only. */
export type ReportReconcileError<K extends string> = (key: K, err: unknown) => void;

/**
 * The part of the queue a worker uses, so tests and wrappers can stand in for it. `recountAfter`
 * (ScopedWorkQueue) brings a key back for its status counts alone; a queue without it brings the key
 * back whole, which covers the counts too.
 */
export type WorkerQueue<K extends string> = Pick<WorkQueue<K>, 'get' | 'done' | 'forget' | 'addAfter' | 'addRateLimited'> & {
  recountAfter?(key: K, delayMs: number): void;
};

/**
 * Runs `count` workers that take keys from `queue` and reconcile them, one key per worker at a time,
 * so at most `count` reconciles are ever in flight, following the contract in src/reconcile/contract.ts:
 * a thrown error requeues the key with backoff, a TerminalError does not; a result resets the key's
 * backoff and honours `requeueAfterMs` and `recountAfterMs`. Resolves once every worker has exited,
 * which happens when the queue is shut down and has no key left to hand out. Reconcile errors never
 * escape as rejections: they go to `onError` and the backoff.
 */
export function runWorkers<K extends string>(
  queue: WorkerQueue<K>,
  count: number,
  reconcile: ReconcileKey<K>,
  onError: ReportReconcileError<K>,
): Promise<void> {
  if (!(Number.isInteger(count) && count > 0)) {
    throw new RangeError(`the number of workers must be a positive integer, got ${count}`);
  }
  const workers = Array.from({ length: count }, () => runWorker(queue, reconcile, onError));
  return Promise.all(workers).then(() => undefined);
}

async function runWorker<K extends string>(
  queue: WorkerQueue<K>,
  reconcile: ReconcileKey<K>,
  onError: ReportReconcileError<K>,
): Promise<void> {
  for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
    await processKey(queue, key, reconcile, onError);
  }
}

async function processKey<K extends string>(
  queue: WorkerQueue<K>,
  key: K,
  reconcile: ReconcileKey<K>,
  onError: ReportReconcileError<K>,
): Promise<void> {
  try {
    const result = await reconcile(key);
    queue.forget(key);
    const requeueAfterMs = result.requeueAfterMs;
    if (requeueAfterMs !== undefined) queue.addAfter(key, requeueAfterMs);
    const recountAfterMs = result.recountAfterMs;
    if (recountAfterMs !== undefined) {
      if (queue.recountAfter) queue.recountAfter(key, recountAfterMs);
      else queue.addAfter(key, recountAfterMs);
    }
  } catch (err) {
    reportSafely(onError, key, err);
    // Retrying cannot help until the object changes, and its change brings an event.
    if (isTerminal(err)) queue.forget(key);
    else queue.addRateLimited(key, retryAfterOf(err));
  } finally {
    // Always, or the key would stay "in flight" and never be handed out again.
    queue.done(key);
  }
}

function reportSafely<K extends string>(onError: ReportReconcileError<K>, key: K, err: unknown): void {
  try {
    onError(key, err);
  } catch {
    // A broken logger must not take a worker down or skip the requeue that follows.
  }
}
