declare const TIMER_HANDLE: unique symbol;

/** Opaque: only the clock that issued a handle can interpret it. */
export type TimerHandle = { readonly [TIMER_HANDLE]: never };

/**
 * The only source of time for the controller, so the queue and everything scheduled through it can be
 * tested by advancing a fake clock instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch (wall clock: refresh times come from provider expiry timestamps). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Node clamps any delay above 2^31-1 ms (about 24.8 days) to 1 ms, with only a warning. A monthly cron
 * schedule would then refresh in a hot loop, so longer delays are served as a chain of shorter timers.
 */
const MAX_NODE_TIMER_MS = 2 ** 31 - 1;

interface SystemTimer {
  timer: NodeJS.Timeout | undefined;
}

function armSystemTimer(state: SystemTimer, fn: () => void, remainingMs: number): void {
  const stepMs = Math.min(remainingMs, MAX_NODE_TIMER_MS);
  state.timer = setTimeout(() => {
    if (remainingMs > MAX_NODE_TIMER_MS) {
      armSystemTimer(state, fn, remainingMs - MAX_NODE_TIMER_MS);
      return;
    }
    state.timer = undefined;
    fn();
  }, stepMs);
  // A pending refresh or backoff must not keep a stopping process alive.
  state.timer.unref();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const state: SystemTimer = { timer: undefined };
    armSystemTimer(state, fn, Math.max(0, ms));
    return state as unknown as TimerHandle;
  },
  clearTimeout: (handle) => {
    const state = handle as unknown as SystemTimer;
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
  },
};
