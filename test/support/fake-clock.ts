import type { Clock, TimerHandle } from '../../src/controller/clock.js';

interface FakeTimer {
  readonly dueAt: number;
  /** Breaks ties between timers due at the same instant: they fire in the order they were set. */
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A clock that only moves when a test tells it to. Timers fire synchronously inside `advance`, in due
 * order, each with `now()` equal to its due time; promise continuations they trigger run afterwards,
 * so tests let those settle with `await settle()` (one macrotask turn, no real waiting).
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<TimerHandle, FakeTimer>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = {} as TimerHandle;
    // Infinity stays infinite (never due), as it effectively is on the system clock.
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
    this.#timers.set(handle, { dueAt: this.#now + delay, seq: this.#seq++, fn });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle);
  }

  /** Moves time forward by `ms`, firing every timer due within the window, including ones set while firing. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance needs a non-negative duration, got ${ms}`);
    const target = this.#now + ms;
    for (let next = this.#nextDue(target); next !== undefined; next = this.#nextDue(target)) {
      const [handle, timer] = next;
      this.#timers.delete(handle);
      this.#now = timer.dueAt;
      timer.fn();
    }
    this.#now = target;
  }

  pendingTimers(): number {
    return this.#timers.size;
  }

  #nextDue(limit: number): [TimerHandle, FakeTimer] | undefined {
    let best: [TimerHandle, FakeTimer] | undefined;
    for (const entry of this.#timers) {
      const timer = entry[1];
      if (timer.dueAt > limit) continue;
      if (best === undefined || timer.dueAt < best[1].dueAt || (timer.dueAt === best[1].dueAt && timer.seq < best[1].seq)) {
        best = entry;
      }
    }
    return best;
  }
}

/** Lets pending promise chains run to completion: one macrotask turn, which no real timer delays. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
