import { EarliestTimers } from './earliest-timers.js';
import { WorkQueue, type WorkQueueOptions } from './work-queue.js';

/**
 * How many namespaces one key may gather before its next reconcile is a whole one anyway: past this, a
 * pass over the named namespaces costs about what the whole reconcile does (a fan-out's own echoes).
 */
export const MAX_SCOPED_NAMESPACES = 64;

/**
 * The work queue with, per key, what woke it since it was last handed out: either something that
 * concerns the whole credential (its spec, its source, a timer, a retry, a resync) or only changes in
 * some namespaces (a namespace, a ServiceAccount or one of our Secrets there). The reconcile then runs
 * for those namespaces alone (src/reconcile/reconciler.ts, `reconcile(name, scope)`), which at 20,000
 * namespaces is the difference between a few milliseconds and a whole pass per new namespace.
 *
 * Every way a key comes back that is not a namespace event goes through `add` (addAfter's timers and
 * addRateLimited included), and `add` always asks for the whole reconcile: a refresh timer must never
 * run as a namespace pass. A key with no record asks for the whole reconcile too.
 *
 * A scope may be empty: `recountAfter` brings a key back for its status counts alone, which a reconcile of
 * a few namespaces held back (docs/adr/0007-status-write-coalescing.md). Its timers are kept apart from
 * `addAfter`'s, so a recount never stands in for a refresh timer, nor the other way round.
 */
export class ScopedWorkQueue extends WorkQueue<string> {
  /** key → the namespaces that woke it, or 'whole'. */
  readonly #scopes = new Map<string, Set<string> | 'whole'>();
  /** The pending recounts, one per key. */
  readonly #recounts: EarliestTimers<string>;

  constructor(options: WorkQueueOptions) {
    super(options);
    this.#recounts = new EarliestTimers(options.clock, (key) => this.addIn(key));
  }

  override add(key: string): void {
    if (this.isShuttingDown()) return;
    this.#scopes.set(key, 'whole');
    super.add(key);
  }

  /**
   * `key` concerns only what changed in `namespace` (unless something else already asked for more); without
   * a namespace, only its status counts.
   */
  addIn(key: string, namespace?: string): void {
    if (this.isShuttingDown()) return;
    const scope = this.#scopes.get(key);
    if (scope === undefined) this.#scopes.set(key, new Set(namespace === undefined ? [] : [namespace]));
    else if (scope !== 'whole' && namespace !== undefined) {
      scope.add(namespace);
      if (scope.size > MAX_SCOPED_NAMESPACES) this.#scopes.set(key, 'whole');
    }
    super.add(key);
  }

  /** `addIn(key)` once `delayMs` has passed; the earlier of two pending recounts wins. */
  recountAfter(key: string, delayMs: number): void {
    if (this.isShuttingDown()) return;
    if (!(delayMs > 0)) {
      this.addIn(key);
      return;
    }
    this.#recounts.schedule(key, delayMs);
  }

  override shutDown(): void {
    this.#recounts.clear();
    super.shutDown();
  }

  /**
   * What the key handed out now should reconcile, cleared for the next time: the namespaces that woke it,
   * or undefined for the whole credential. Called once per hand-out, before the reconcile reads anything,
   * so a change that lands meanwhile is kept for the run after.
   */
  takeScope(key: string): ReadonlySet<string> | undefined {
    const scope = this.#scopes.get(key);
    this.#scopes.delete(key);
    return scope === 'whole' ? undefined : scope;
  }

  /** Keys with a pending record (for tests). */
  get pendingScopes(): number {
    return this.#scopes.size;
  }
}
