import type { Clock, TimerHandle } from './clock.js';

/**
 * At most one pending timer per key, the earliest asked for: a later request for a key that already has
 * one is dropped, an earlier one replaces it. Used for WorkQueue.addAfter and ScopedWorkQueue.recountAfter.
 */
export class EarliestTimers<K> {
  readonly #pending = new Map<K, { readonly readyAt: number; readonly timer: TimerHandle }>();

  constructor(
    private readonly clock: Clock,
    /** Called for a key once its timer fires (and it was not replaced or cleared meanwhile). */
    private readonly fire: (key: K) => void,
  ) {}

  /** Fires `key` after `delayMs` (> 0) unless it already has an earlier (or equal) time pending. */
  schedule(key: K, delayMs: number): void {
    const readyAt = this.clock.now() + delayMs;
    const pending = this.#pending.get(key);
    if (pending) {
      if (pending.readyAt <= readyAt) return;
      this.clock.clearTimeout(pending.timer);
    }
    const entry = {
      readyAt,
      timer: this.clock.setTimeout(() => {
        // A replaced entry's timer is cleared, but a clock may still race a callback in: ignore it.
        if (this.#pending.get(key) !== entry) return;
        this.#pending.delete(key);
        this.fire(key);
      }, delayMs),
    };
    this.#pending.set(key, entry);
  }

  /** Drops every pending timer. */
  clear(): void {
    for (const { timer } of this.#pending.values()) this.clock.clearTimeout(timer);
    this.#pending.clear();
  }
}
