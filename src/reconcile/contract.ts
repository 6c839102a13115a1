/**
 * The reconcile contract, in one place (after controller-runtime's pkg/reconcile): what a reconcile
 * returns, what the work loop does with it, and the error that says "retrying cannot help".
 *
 * - Resolves `{}`: done; the key runs again only when an event wakes it.
 * - Resolves `{ requeueAfterMs }`: run again after that delay (a scheduled refresh, a credential's
 *   expiry, a held-back status write). The earliest pending time wins (WorkQueue.addAfter).
 * - Resolves `{ recountAfterMs }`: a reconcile of a few namespaces held back a status write that only
 *   moves counts; the key comes back after that delay for its status counts alone
 *   (ScopedWorkQueue.recountAfter). Independent of `requeueAfterMs`.
 * - Resolves `{ failed: true, ... }`: the reconcile met a failure and reported it in status (Ready=False);
 *   it is counted as an error, but its retry time is its own (a provider's backoff is persisted in
 *   status), so the key is not put through the queue's rate limiter.
 * - Throws a TerminalError: the failure is reported and the key is not retried until something changes
 *   (an invalid spec: the next spec change brings a new event).
 * - Throws anything else: retried with the queue's per-key exponential backoff.
 */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
  readonly recountAfterMs?: number;
  readonly failed?: boolean;
}

export type ReconcileKey<K extends string> = (key: K) => Promise<ReconcileResult>;

/**
 * How a reconcile ended, as controller-runtime labels it: `success` (nothing more to do), `requeue`
 * (succeeded and asked to run again after a delay), `error` (threw, or reported a failure).
 */
export type ReconcileOutcome = 'success' | 'requeue' | 'error';

/** Retrying cannot help until the object changes: reported, never requeued with backoff. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export function isTerminal(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

export function outcomeOf(result: ReconcileResult): ReconcileOutcome {
  if (result.failed) return 'error';
  return result.requeueAfterMs === undefined && result.recountAfterMs === undefined ? 'success' : 'requeue';
}

/**
 * How long a failed reconcile must wait at least before it runs again, when the API server said so
 * (Retry-After on a 429 or 5xx): the backoff is then the longer of the two, never a tight loop.
 */
export function retryAfterOf(err: unknown): number | undefined {
  const wait = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof wait === 'number' && Number.isFinite(wait) && wait > 0 ? wait : undefined;
}
