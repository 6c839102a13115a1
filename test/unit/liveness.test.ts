import { describe, expect, it } from '@jest/globals';
import { LivenessMonitor, WEDGED_AFTER_MS } from '../../src/controller/liveness.js';
import { ExponentialRateLimiter } from '../../src/controller/rate-limiter.js';
import { WorkQueue } from '../../src/controller/work-queue.js';
import { runWorkers } from '../../src/controller/workers.js';
import type { ReconcileResult } from '../../src/reconcile/contract.js';
import { FakeClock, settle } from '../support/fake-clock.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Deferred {
  readonly promise: Promise<ReconcileResult>;
  resolve(): void;
}

function defer(): Deferred {
  let resolve!: (r: ReconcileResult) => void;
  const promise = new Promise<ReconcileResult>((res) => (resolve = res));
  return { promise, resolve: () => resolve({}) };
}

/**
 * The operator's work loop as the Operator wires it: a real queue and real workers, the reconcile
 * wrapped by the monitor, on a fake clock. `hang(key)` makes that key's next reconcile never return
 * until released; every other reconcile returns at once.
 */
function workLoop(workers = 2) {
  const clock = new FakeClock(1_000_000);
  const queue = new WorkQueue<string>({ clock, rateLimiter: new ExponentialRateLimiter({ baseDelayMs: 100, maxDelayMs: 1000, jitter: { kind: 'none' } }) });
  const monitor = new LivenessMonitor(clock);
  const hanging = new Map<string, Deferred>();
  const reconciled: string[] = [];
  const reconcile = async (key: string): Promise<ReconcileResult> => {
    reconciled.push(key);
    const deferred = hanging.get(key);
    if (deferred) {
      await deferred.promise;
      hanging.delete(key);
    }
    return {};
  };
  const running = runWorkers(queue, workers, monitor.track(reconcile), () => undefined);
  monitor.watchWorkers(running, queue);
  return {
    clock,
    queue,
    monitor,
    reconciled,
    running,
    hang(key: string): Deferred {
      const deferred = defer();
      hanging.set(key, deferred);
      return deferred;
    },
    /** Moves the clock in steps, letting the workers run between them. */
    async advance(ms: number, step = MINUTE): Promise<void> {
      for (let left = ms; left > 0; left -= step) {
        clock.advance(Math.min(step, left));
        await settle();
      }
    },
  };
}

describe('LivenessMonitor: the work loop', () => {
  it('an idle queue stays live, for a day', async () => {
    const loop = workLoop();
    await loop.advance(24 * HOUR, HOUR);
    expect(loop.monitor.check()).toEqual({ live: true });
  });

  it('a busy queue that keeps moving stays live', async () => {
    const loop = workLoop();
    for (let i = 0; i < 30; i++) {
      for (let k = 0; k < 50; k++) loop.queue.add(`credential-${k}`);
      await loop.advance(MINUTE);
      expect(loop.monitor.check()).toEqual({ live: true });
    }
    expect(loop.reconciled.length).toBeGreaterThanOrEqual(30 * 50);
  });

  it('a reconcile that never returns fails liveness once the bound has passed, and recovers when it returns', async () => {
    const loop = workLoop();
    const stuck = loop.hang('ecr-prod');
    loop.queue.add('ecr-prod');
    await settle();
    await loop.advance(WEDGED_AFTER_MS);
    expect(loop.monitor.check()).toEqual({ live: true });
    await loop.advance(1000);
    const wedged = loop.monitor.check();
    expect(wedged.live).toBe(false);
    expect(!wedged.live && wedged.reason).toBe('the reconcile of ecr-prod has been in flight for 10m 1s (limit 10m)');
    // The other worker keeps going meanwhile; liveness is about the stuck one.
    loop.queue.add('static-ghcr');
    await settle();
    expect(loop.reconciled).toContain('static-ghcr');
    stuck.resolve();
    await settle();
    expect(loop.monitor.check()).toEqual({ live: true });
  });

  it('a long reconcile within the bound is not a failure', async () => {
    const loop = workLoop();
    const slow = loop.hang('fan-out-5000');
    loop.queue.add('fan-out-5000');
    await settle();
    await loop.advance(WEDGED_AFTER_MS - MINUTE);
    expect(loop.monitor.check()).toEqual({ live: true });
    slow.resolve();
    await settle();
    await loop.advance(HOUR, 10 * MINUTE);
    expect(loop.monitor.check()).toEqual({ live: true });
  });

  it('every worker wedged: keys wait, and the stuck reconciles are named', async () => {
    const loop = workLoop(2);
    loop.hang('a');
    loop.hang('b');
    for (const key of ['a', 'b', 'c', 'd']) loop.queue.add(key);
    await settle();
    expect(loop.queue.len()).toBe(2);
    await loop.advance(WEDGED_AFTER_MS + MINUTE);
    const wedged = loop.monitor.check();
    expect(!wedged.live && wedged.reason).toMatch(/^the reconcile of a has been in flight for 11m/);
  });

  it('keys that wait while no worker takes one fail liveness, counted from when the workers started', () => {
    const clock = new FakeClock(1_000_000);
    const queue = new WorkQueue<string>({ clock, rateLimiter: new ExponentialRateLimiter() });
    const monitor = new LivenessMonitor(clock);
    // Keys arrive while the caches sync, long before the workers start: not their fault.
    queue.add('a');
    clock.advance(HOUR);
    // A worker loop that never takes a key (a bug, a lost wake-up).
    monitor.watchWorkers(new Promise<void>(() => undefined), queue);
    clock.advance(WEDGED_AFTER_MS);
    expect(monitor.check()).toEqual({ live: true });
    queue.add('b');
    clock.advance(1000);
    const wedged = monitor.check();
    expect(!wedged.live && wedged.reason).toBe('2 keys have waited 10m 1s with no worker taking one (limit 10m)');
  });

  it('a worker loop that exits while the operator runs fails liveness; after stopping() it is expected', async () => {
    const loop = workLoop();
    loop.queue.shutDown();
    await loop.running;
    await settle();
    const stopped = loop.monitor.check();
    expect(!stopped.live && stopped.reason).toBe('the worker loop exited');
    loop.monitor.stopping();
    expect(loop.monitor.check()).toEqual({ live: true });
  });

  it('a worker loop that rejects says why', async () => {
    const clock = new FakeClock();
    const monitor = new LivenessMonitor(clock);
    monitor.watchWorkers(Promise.reject(new Error('boom')), { len: () => 0, stalledSince: () => undefined });
    await settle();
    const failed = monitor.check();
    expect(!failed.live && failed.reason).toBe('the worker loop failed: boom');
  });
});

describe('LivenessMonitor: timers', () => {
  it('a timer long overdue fails liveness; one pending or just late does not', () => {
    const clock = new FakeClock(1_000_000);
    const monitor = new LivenessMonitor(clock);
    let due: number | undefined = clock.now() + MINUTE;
    monitor.watchTimer('restart of the namespaces informer', () => due);
    expect(monitor.check()).toEqual({ live: true });
    clock.advance(MINUTE + WEDGED_AFTER_MS);
    expect(monitor.check()).toEqual({ live: true });
    clock.advance(1000);
    const overdue = monitor.check();
    expect(!overdue.live && overdue.reason).toBe('the restart of the namespaces informer is 10m 1s overdue (limit 10m)');
    due = undefined;
    expect(monitor.check()).toEqual({ live: true });
  });

  it('no timers and no workers yet (caches still syncing, API server away for hours) is live', () => {
    const clock = new FakeClock();
    const monitor = new LivenessMonitor(clock);
    clock.advance(24 * HOUR);
    expect(monitor.check()).toEqual({ live: true });
  });
});
