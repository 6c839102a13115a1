/**
 * Gives back the heap a burst of work grew, once the process goes quiet.
 *
 * A fan-out to 20,000 namespaces passes 40,000 writes and their watch events through the heap. V8 grows
 * its heap for that and keeps the pages afterwards: the work leaves nothing live behind (heap in use
 * settles where a fresh process's is), but the reserved heap stays up, and with it the RSS, until V8's
 * own memory reducer happens to run. In the benchmark it ran in some runs and not in others: the same
 * process settled at 0.96× a fresh one's RSS in one run and 1.27× in the next (BENCHMARKS.md).
 *
 * So the operator does what the memory reducer would: every CHECK_INTERVAL_MS it looks at how busy its
 * event loop was since the last look and at V8's reserved heap. Quiet (event loop busy under
 * QUIET_UTILIZATION of the time) and grown (reserved heap GROWTH times, and GROWTH_MIN_BYTES more than,
 * right after the last compaction), it runs one full garbage collection of the "last resort" flavour,
 * which collects until nothing more is freed and gives the emptied pages back to the system. A regular
 * full GC (`gc()`) does not give them back: in a small experiment it left the RSS higher than doing
 * nothing, because it also postponed V8's memory reducer. The pause is paid once per burst, while
 * nothing waits; in steady state the heap does not grow and nothing runs.
 *
 * It needs `gc`, which V8 exposes with `--expose-gc` (one of the V8 flags Node allows in NODE_OPTIONS;
 * the Deployment and the Helm chart set it). Without it, this does nothing and says so once at start.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from './logger.js';

export const CHECK_INTERVAL_MS = 10_000;
export const QUIET_UTILIZATION = 0.05;
export const GROWTH = 1.25;
export const GROWTH_MIN_BYTES = 16 * 2 ** 20;

/** V8's gc() as `--expose-gc` installs it, with the options of V8's gc extension. */
export type ExposedGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export interface IdleCompactionDeps {
  gc: ExposedGc;
  /** V8's reserved heap in bytes (total_heap_size). */
  heapBytes: () => number;
  /** The share of time the event loop was busy since the last call (0 to 1). */
  utilization: () => number;
  now: () => number;
  log: Logger;
}

const MiB = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

export class IdleCompaction {
  /** The reserved heap right after the last compaction (or at start, or the lowest seen since). */
  private baseline: number;

  constructor(private readonly deps: IdleCompactionDeps) {
    this.baseline = deps.heapBytes();
  }

  /** One look: compacts when the process was quiet and the heap grew. Returns whether it compacted. */
  check(): boolean {
    const utilization = this.deps.utilization();
    const before = this.deps.heapBytes();
    if (before < this.baseline) this.baseline = before;
    const grown = before > Math.max(this.baseline * GROWTH, this.baseline + GROWTH_MIN_BYTES);
    if (!grown || utilization >= QUIET_UTILIZATION) return false;
    const started = this.deps.now();
    this.deps.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const after = this.deps.heapBytes();
    this.baseline = after;
    this.deps.log.info({ heapMiB: MiB(before), heapAfterMiB: MiB(after), ms: this.deps.now() - started }, 'quiet after work: gave back the heap it had grown');
    return true;
  }
}

/** The gc() that `--expose-gc` put on the global object, if it did. */
export function exposedGc(): ExposedGc | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as ExposedGc) : undefined;
}

/**
 * Starts the looks on an unref'd timer; returns how to stop them. `gc` null: off, as in a process started
 * without --expose-gc (left out: the one --expose-gc installed, if any).
 */
export function startIdleCompaction(log: Logger, gc: ExposedGc | null = exposedGc() ?? null): () => void {
  if (!gc) {
    log.info('heap compaction when quiet is off: start node with --expose-gc (the Deployment sets it in NODE_OPTIONS)');
    return () => undefined;
  }
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const compaction = new IdleCompaction({
    gc,
    heapBytes: () => getHeapStatistics().total_heap_size,
    utilization: () => {
      const now = performance.eventLoopUtilization();
      const since = performance.eventLoopUtilization(now, last);
      last = now;
      return since.utilization;
    },
    now: () => performance.now(),
    log,
  });
  const timer = setInterval(() => compaction.check(), CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
