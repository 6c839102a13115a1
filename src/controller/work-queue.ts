import type { Clock } from './clock.js';
import { EarliestTimers } from './earliest-timers.js';
import { reportSafely, type WorkQueueObserver } from './observer.js';
import type { RateLimiter } from './rate-limiter.js';

export interface WorkQueueOptions {
  readonly clock: Clock;
  readonly rateLimiter: RateLimiter;
  /** Told about real adds and retries (metrics); optional. */
  readonly observer?: WorkQueueObserver;
}

/**
 * A queue of keys with client-go's workqueue semantics (see docs/adr/0001-work-queue.md):
 * - a key is waiting at most once: adding a waiting key is a no-op;
 * - a key is handed out to one worker at a time: adding a key that is being processed marks it dirty,
 *   and `done` puts it back so it runs again after, once;
 * - `addAfter` keeps the earliest pending time per key; `addRateLimited` backs off per key;
 * - after `shutDown` nothing new is accepted, pending delays are dropped, keys already waiting are still
 *   handed out, then `get` resolves `undefined`.
 */
export class WorkQueue<K extends string> {
  readonly #clock: Clock;
  readonly #limiter: RateLimiter;
  readonly #observer: WorkQueueObserver | undefined;
  /** Keys ready to hand out, oldest first; each at most once, since only a key not yet dirty is pushed. */
  readonly #ready: K[] = [];
  /** Keys that need processing: the waiting ones, and those in flight that changed since handed out. */
  readonly #dirty = new Set<K>();
  readonly #processing = new Set<K>();
  readonly #delayed: EarliestTimers<K>;
  readonly #getters: ((key: K | undefined) => void)[] = [];
  readonly #drainers: (() => void)[] = [];
  #shuttingDown = false;
  /** When a key was last handed out, or keys started waiting if that is later (clock ms). */
  #progressAt = 0;

  constructor(options: WorkQueueOptions) {
    this.#clock = options.clock;
    this.#limiter = options.rateLimiter;
    this.#observer = options.observer;
    this.#delayed = new EarliestTimers(options.clock, (key) => this.add(key));
  }

  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    // Counted as client-go counts workqueue_adds_total: a no-op add is not an add; re-adding a key in flight is.
    const observer = this.#observer;
    if (observer) reportSafely(() => observer.added());
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#pushReady(key);
    this.#dispatch();
  }

  /**
   * Adds `key` once `delayMs` has passed. If the key already has a pending time, the earlier one wins:
   * a refresh timer is never postponed by a later request, and a retry can bring it forward.
   */
  addAfter(key: K, delayMs: number): void {
    if (Number.isNaN(delayMs)) throw new RangeError(`addAfter(${key}) needs a delay in milliseconds, got NaN`);
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    this.#delayed.schedule(key, delayMs);
  }

  /** Backs off per key; `atLeastMs` (a server's Retry-After) makes the wait at least that long. */
  addRateLimited(key: K, atLeastMs = 0): void {
    // Checked here too so that a rejected add does not count as one more failure.
    if (this.#shuttingDown) return;
    const observer = this.#observer;
    if (observer) reportSafely(() => observer.retried());
    this.addAfter(key, Math.max(this.#limiter.when(key), atLeastMs));
  }

  forget(key: K): void {
    this.#limiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.#limiter.failures(key);
  }

  /**
   * The next ready key, which the caller owns until it calls `done(key)`. Resolves `undefined` once
   * the queue is shut down and no key is waiting.
   */
  get(): Promise<K | undefined> {
    const key = this.#takeReady();
    if (key !== undefined) return Promise.resolve(key);
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  done(key: K): void {
    if (!this.#processing.delete(key)) return;
    if (this.#dirty.has(key)) this.#pushReady(key);
    this.#dispatch();
  }

  /** Keys waiting to be handed out (not those in flight or delayed). */
  len(): number {
    return this.#ready.length;
  }

  /**
   * Since when keys have been waiting without any being handed out (clock ms): the later of the last
   * hand-out and the moment keys started waiting. Undefined when no key is waiting. A worker loop that
   * takes keys keeps it recent; one long ago means no worker is taking any.
   */
  stalledSince(): number | undefined {
    return this.#ready.length > 0 ? this.#progressAt : undefined;
  }

  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    // Reconcile is level-based and every key is re-listed on start, so dropping delays loses nothing.
    this.#delayed.clear();
    this.#dispatch();
  }

  /** Shuts down, then resolves once no key is waiting or in flight. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.#drainers.push(resolve));
  }

  #pushReady(key: K): void {
    if (this.#ready.length === 0) this.#progressAt = this.#clock.now();
    this.#ready.push(key);
  }

  #takeReady(): K | undefined {
    const key = this.#ready.shift();
    if (key === undefined) return undefined;
    this.#progressAt = this.#clock.now();
    this.#dirty.delete(key);
    this.#processing.add(key);
    return key;
  }

  #isDrained(): boolean {
    return this.#shuttingDown && this.#ready.length === 0 && this.#processing.size === 0;
  }

  /** Hands ready keys to waiting getters and settles whoever waits on shutdown. */
  #dispatch(): void {
    while (this.#getters.length > 0 && this.#ready.length > 0) {
      const resolve = this.#getters.shift();
      resolve?.(this.#takeReady());
    }
    if (!this.#shuttingDown || this.#ready.length > 0) return;
    for (const resolve of this.#getters.splice(0)) resolve(undefined);
    if (this.#processing.size === 0) {
      for (const resolve of this.#drainers.splice(0)) resolve();
    }
  }
}
