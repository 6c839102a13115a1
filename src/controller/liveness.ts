/**
 * Liveness: can this process still make progress? Not "is the cluster fine": an API server that cannot
 * be reached is readiness (a restart would not bring it back), and so is a provider that does not
 * answer (its calls run apart from the workers, each under its own timeout). What only a restart fixes
 * is a loop of our own that stopped or hangs: a reconcile that never returns, a worker loop that
 * exited, keys that wait while no worker takes one, a timer that should have fired and did not.
 */
import type { ReconcileKey } from '../reconcile/contract.js';
import { agree, plural } from '../status/plural.js';
import type { Clock } from './clock.js';

/**
 * How long a reconcile may stay in flight, or keys wait with none taken, or a timer be overdue, before
 * the process counts as wedged. A reconcile only writes to the API server (provider calls run outside
 * the workers, each under --provider-timeout-seconds): the largest measured, 5,000 namespaces and
 * 10,000 writes, takes under 40 s (BENCHMARKS.md), but a single API request may wait for undici's
 * 300 s response timeout before it fails. Ten minutes is past both together, with room for a slow API
 * server; a reconcile in flight that long is waiting on something that will never answer, and only a
 * restart gets the worker back. Lower, a slow but healthy fan-out would restart the process over and
 * over; much higher, a wedged worker would hold its credentials back for as long.
 */
export const WEDGED_AFTER_MS = 10 * 60_000;

export type Liveness = { readonly live: true } | { readonly live: false; readonly reason: string };

/** What the worker loop exposes to the monitor: its queue's waiting keys and since when none was taken. */
export interface WatchedQueue {
  len(): number;
  stalledSince(): number | undefined;
}

interface Running {
  readonly key: string;
  readonly since: number;
}

/** "10m", "10m 1s", "45s": a duration for a person. */
function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const rest = seconds % 60;
  return `${Math.floor(seconds / 60)}m${rest === 0 ? '' : ` ${rest}s`}`;
}

/**
 * Watches the loops a process needs to make progress and says whether they still do. Time comes from
 * the injected clock only, so tests move it.
 */
export class LivenessMonitor {
  readonly #running = new Map<number, Running>();
  readonly #timers: { name: string; dueSince: () => number | undefined }[] = [];
  #nextId = 0;
  #queue: WatchedQueue | undefined;
  #workersStartedAt: number | undefined;
  #workersExited: string | undefined;
  #stopping = false;

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly boundMs: number = WEDGED_AFTER_MS,
  ) {}

  /** The reconcile the workers run, noting each call in flight and since when. */
  track<K extends string>(reconcile: ReconcileKey<K>): ReconcileKey<K> {
    return async (key) => {
      const id = this.#nextId++;
      this.#running.set(id, { key, since: this.clock.now() });
      try {
        return await reconcile(key);
      } finally {
        this.#running.delete(id);
      }
    };
  }

  /** The worker loop has started: `workers` settles when it exits, which before `stopping()` it must not. */
  watchWorkers(workers: Promise<void>, queue: WatchedQueue): void {
    this.#queue = queue;
    this.#workersStartedAt = this.clock.now();
    workers.then(
      () => this.#workersExit('the worker loop exited'),
      (err: unknown) => this.#workersExit(`the worker loop failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /** A timer the process relies on: `dueSince` says when it should have fired, undefined when none is pending. */
  watchTimer(name: string, dueSince: () => number | undefined): void {
    this.#timers.push({ name, dueSince });
  }

  /** Shutting down: the loops stop on purpose from here on. */
  stopping(): void {
    this.#stopping = true;
  }

  check(): Liveness {
    if (this.#stopping) return { live: true };
    if (this.#workersExited !== undefined) return { live: false, reason: this.#workersExited };
    const now = this.clock.now();
    const limit = ` (limit ${duration(this.boundMs)})`;
    let oldest: Running | undefined;
    for (const running of this.#running.values()) if (!oldest || running.since < oldest.since) oldest = running;
    if (oldest && now - oldest.since > this.boundMs) {
      return { live: false, reason: `the reconcile of ${oldest.key} has been in flight for ${duration(now - oldest.since)}${limit}` };
    }
    const stalled = this.#queue?.stalledSince();
    if (this.#queue && stalled !== undefined && this.#workersStartedAt !== undefined) {
      // Keys that waited before the workers started (while the caches synced) do not count against them.
      const since = Math.max(stalled, this.#workersStartedAt);
      if (now - since > this.boundMs) {
        const waiting = this.#queue.len();
        return { live: false, reason: `${plural(waiting, 'key')} ${agree(waiting, 'has', 'have')} waited ${duration(now - since)} with no worker taking one${limit}` };
      }
    }
    for (const timer of this.#timers) {
      const due = timer.dueSince();
      if (due !== undefined && now - due > this.boundMs) {
        return { live: false, reason: `the ${timer.name} is ${duration(now - due)} overdue${limit}` };
      }
    }
    return { live: true };
  }

  #workersExit(reason: string): void {
    if (!this.#stopping) this.#workersExited = reason;
  }
}
