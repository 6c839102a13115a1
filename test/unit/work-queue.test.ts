import { describe, expect, it } from '@jest/globals';
import { ExponentialRateLimiter } from '../../src/controller/rate-limiter.js';
import { WorkQueue } from '../../src/controller/work-queue.js';
import { runWorkers } from '../../src/controller/workers.js';
import { TerminalError, type ReconcileResult } from '../../src/reconcile/contract.js';
import { FakeClock, settle } from '../support/fake-clock.js';

type Key = string;

function makeQueue() {
  const clock = new FakeClock(1_000_000);
  const rateLimiter = new ExponentialRateLimiter({ baseDelayMs: 100, maxDelayMs: 1_000, jitter: { kind: 'none' } });
  const queue = new WorkQueue<Key>({ clock, rateLimiter });
  return { clock, queue };
}

/** Reports whether a promise has settled yet, without waiting for it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; value: () => T | undefined } {
  let settled = false;
  let value: T | undefined;
  void promise.then(
    (v) => {
      settled = true;
      value = v;
    },
    () => {
      settled = true;
    },
  );
  return { settled: () => settled, value: () => value };
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function defer(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Takes every ready key, in order, marking each done. */
async function drainReady(queue: WorkQueue<Key>): Promise<Key[]> {
  const keys: Key[] = [];
  while (queue.len() > 0) {
    const key = await queue.get();
    if (key === undefined) break;
    keys.push(key);
    queue.done(key);
  }
  return keys;
}

describe('WorkQueue add and get', () => {
  it.each([
    { name: 'distinct keys, in order', adds: ['a', 'b', 'c'], expected: ['a', 'b', 'c'] },
    { name: 'a waiting key once', adds: ['a', 'a', 'a'], expected: ['a'] },
    { name: 'duplicates at their first position', adds: ['a', 'b', 'a', 'c', 'b'], expected: ['a', 'b', 'c'] },
  ])('hands out $name', async ({ adds, expected }) => {
    const { queue } = makeQueue();
    for (const key of adds) queue.add(key);
    expect(queue.len()).toBe(expected.length);
    expect(await drainReady(queue)).toEqual(expected);
  });

  it('resolves a waiting get when a key arrives', async () => {
    const { queue } = makeQueue();
    const pending = track(queue.get());
    await settle();
    expect(pending.settled()).toBe(false);
    queue.add('a');
    await settle();
    expect(pending.value()).toBe('a');
  });

  it('never hands out a key that is in flight, even to another getter', async () => {
    const { queue } = makeQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    expect(queue.len()).toBe(0);
    const second = track(queue.get());
    await settle();
    expect(second.settled()).toBe(false);
    queue.done('a');
    await settle();
    expect(second.value()).toBe('a');
  });

  it('runs a key that changed while in flight once more after done', async () => {
    const { queue } = makeQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    queue.done('a');
    expect(await drainReady(queue)).toEqual(['a']);
    expect(queue.len()).toBe(0);
  });

  it('does not requeue a key that did not change while in flight', async () => {
    const { queue } = makeQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.done('a');
    expect(queue.len()).toBe(0);
  });

  it('ignores done for a key it never handed out', () => {
    const { queue } = makeQueue();
    queue.add('a');
    queue.done('a');
    expect(queue.len()).toBe(1);
  });
});

describe('WorkQueue addAfter', () => {
  it.each([
    { name: 'waits for the delay', calls: [{ at: 0, delay: 100 }], readyAt: 100 },
    { name: 'treats a zero delay as add', calls: [{ at: 0, delay: 0 }], readyAt: 0 },
    { name: 'treats a negative delay as add', calls: [{ at: 0, delay: -50 }], readyAt: 0 },
    {
      name: 'brings a pending time forward',
      calls: [
        { at: 0, delay: 100 },
        { at: 0, delay: 40 },
      ],
      readyAt: 40,
    },
    {
      name: 'does not postpone a pending time',
      calls: [
        { at: 0, delay: 40 },
        { at: 0, delay: 100 },
      ],
      readyAt: 40,
    },
    {
      name: 'does not postpone a pending time when asked again later',
      calls: [
        { at: 0, delay: 100 },
        { at: 30, delay: 100 },
      ],
      readyAt: 100,
    },
    {
      name: 'brings a pending time forward when asked again later',
      calls: [
        { at: 0, delay: 100 },
        { at: 30, delay: 20 },
      ],
      readyAt: 50,
    },
  ])('$name', ({ calls, readyAt }) => {
    const { clock, queue } = makeQueue();
    const start = clock.now();
    for (const { at, delay } of calls) {
      clock.advance(start + at - clock.now());
      queue.addAfter('a', delay);
    }
    if (readyAt > 0) {
      clock.advance(start + readyAt - 1 - clock.now());
      expect(queue.len()).toBe(0);
    }
    clock.advance(start + readyAt - clock.now());
    expect(queue.len()).toBe(1);
    // The replaced time must not fire again later.
    expect(clock.pendingTimers()).toBe(0);
  });

  it('keeps a separate time per key', () => {
    const { clock, queue } = makeQueue();
    queue.addAfter('a', 100);
    queue.addAfter('b', 50);
    clock.advance(50);
    expect(queue.len()).toBe(1);
    clock.advance(50);
    expect(queue.len()).toBe(2);
  });

  it('marks an in-flight key dirty when its time comes, so it runs after done', async () => {
    const { clock, queue } = makeQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.addAfter('a', 10);
    clock.advance(10);
    expect(queue.len()).toBe(0);
    queue.done('a');
    expect(await drainReady(queue)).toEqual(['a']);
  });

  it('adds a waiting key only once when its time comes', async () => {
    const { clock, queue } = makeQueue();
    queue.add('a');
    queue.addAfter('a', 10);
    clock.advance(10);
    expect(await drainReady(queue)).toEqual(['a']);
  });

  it('rejects a NaN delay', () => {
    const { queue } = makeQueue();
    expect(() => queue.addAfter('a', Number.NaN)).toThrow(RangeError);
  });
});

describe('WorkQueue addRateLimited', () => {
  it('backs off per key, doubling up to the cap, until forgotten', async () => {
    const { clock, queue } = makeQueue();
    const waits: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      queue.addRateLimited('a');
      let waited = 0;
      while (queue.len() === 0) {
        clock.advance(10);
        waited += 10;
      }
      waits.push(waited);
      await drainReady(queue);
    }
    expect(waits).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(queue.numRequeues('a')).toBe(6);
    expect(queue.numRequeues('b')).toBe(0);

    queue.forget('a');
    expect(queue.numRequeues('a')).toBe(0);
    queue.addRateLimited('a');
    clock.advance(99);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(queue.len()).toBe(1);
  });

  it('waits at least a Retry-After the server gave, even when the backoff is shorter', () => {
    const { clock, queue } = makeQueue();
    queue.addRateLimited('a', 5_000);
    clock.advance(4_999);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(queue.len()).toBe(1);
    // A Retry-After shorter than the backoff leaves the backoff as it is.
    const second = makeQueue();
    second.queue.addRateLimited('b', 10);
    second.clock.advance(99);
    expect(second.queue.len()).toBe(0);
    second.clock.advance(1);
    expect(second.queue.len()).toBe(1);
  });

  it('lets a backoff bring a far refresh forward', () => {
    const { clock, queue } = makeQueue();
    queue.addAfter('a', 60_000);
    queue.addRateLimited('a');
    clock.advance(100);
    expect(queue.len()).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('WorkQueue shutdown', () => {
  it('accepts nothing new and drops pending delays', () => {
    const { clock, queue } = makeQueue();
    queue.addAfter('a', 100);
    queue.shutDown();
    expect(queue.isShuttingDown()).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    queue.add('b');
    queue.addAfter('c', 10);
    queue.addRateLimited('d');
    clock.advance(1_000);
    expect(queue.len()).toBe(0);
    expect(queue.numRequeues('d')).toBe(0);
  });

  it('still hands out keys already waiting, then undefined', async () => {
    const { queue } = makeQueue();
    queue.add('a');
    queue.shutDown();
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBeUndefined();
  });

  it('releases idle getters with undefined', async () => {
    const { queue } = makeQueue();
    const idle = [track(queue.get()), track(queue.get())];
    queue.shutDown();
    await settle();
    expect(idle.map((g) => [g.settled(), g.value()])).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
  });

  it('drains: resolves only once in-flight keys are done, including their re-run', async () => {
    const { queue } = makeQueue();
    queue.add('a');
    queue.add('b');
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    queue.add('a');

    const drained = track(queue.shutDownWithDrain());
    queue.done('b');
    await settle();
    expect(drained.settled()).toBe(false);

    queue.done('a');
    expect(await queue.get()).toBe('a');
    await settle();
    expect(drained.settled()).toBe(false);

    queue.done('a');
    await settle();
    expect(drained.settled()).toBe(true);
    expect(await queue.get()).toBeUndefined();
  });

  it('drains at once when nothing is in flight', async () => {
    const { queue } = makeQueue();
    await expect(queue.shutDownWithDrain()).resolves.toBeUndefined();
    await expect(queue.get()).resolves.toBeUndefined();
  });
});

describe('runWorkers', () => {
  it.each([{ workers: 1 }, { workers: 3 }, { workers: 5 }])(
    'never runs more than $workers reconciles at once, nor one key twice at once',
    async ({ workers }) => {
      const { queue } = makeQueue();
      const running = new Map<Key, Deferred>();
      let peak = 0;
      let runs = 0;
      let overlaps = 0;
      const finished = runWorkers(
        queue,
        workers,
        async (key): Promise<ReconcileResult> => {
          if (running.has(key)) overlaps++;
          const gate = defer();
          running.set(key, gate);
          peak = Math.max(peak, running.size);
          runs++;
          await gate.promise;
          running.delete(key);
          return {};
        },
        () => undefined,
      );

      const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'];
      for (const key of keys) queue.add(key);
      await settle();
      // Re-adding keys that are in flight must only make them run again afterwards.
      for (const key of running.keys()) queue.add(key);
      const rerun = running.size;

      while (running.size > 0) {
        expect(running.size).toBeLessThanOrEqual(workers);
        for (const gate of running.values()) gate.resolve();
        await settle();
      }
      expect(overlaps).toBe(0);
      expect(peak).toBe(Math.min(workers, keys.length));
      expect(runs).toBe(keys.length + rerun);

      queue.shutDown();
      await expect(finished).resolves.toBeUndefined();
    },
  );

  it('a failure that carries a Retry-After runs again no sooner than that', async () => {
    const { clock, queue } = makeQueue();
    let attempts = 0;
    const finished = runWorkers(
      queue,
      1,
      async () => {
        await Promise.resolve();
        attempts++;
        if (attempts === 1) throw Object.assign(new Error('HTTP 429 Too many requests'), { retryAfterMs: 3_000 });
        return {};
      },
      () => undefined,
    );
    queue.add('a');
    await settle();
    expect(attempts).toBe(1);
    clock.advance(2_999);
    await settle();
    expect(attempts).toBe(1);
    clock.advance(1);
    await settle();
    expect(attempts).toBe(2);
    queue.shutDown();
    await finished;
  });

  it('requeues a failed key with growing backoff and resets it on success', async () => {
    const { clock, queue } = makeQueue();
    const errors: [Key, unknown][] = [];
    let attempts = 0;
    const finished = runWorkers(
      queue,
      2,
      async () => {
        await Promise.resolve();
        attempts++;
        if (attempts <= 2) throw new Error(`attempt ${attempts} failed`);
        return {};
      },
      (key, err) => errors.push([key, err]),
    );

    queue.add('a');
    await settle();
    expect(attempts).toBe(1);
    expect(queue.numRequeues('a')).toBe(1);

    clock.advance(99);
    await settle();
    expect(attempts).toBe(1);
    clock.advance(1);
    await settle();
    expect(attempts).toBe(2);
    expect(queue.numRequeues('a')).toBe(2);

    clock.advance(199);
    await settle();
    expect(attempts).toBe(2);
    clock.advance(1);
    await settle();
    expect(attempts).toBe(3);
    expect(queue.numRequeues('a')).toBe(0);
    expect(errors.map(([key, err]) => [key, (err as Error).message])).toEqual([
      ['a', 'attempt 1 failed'],
      ['a', 'attempt 2 failed'],
    ]);

    queue.shutDown();
    await finished;
  });

  it('does not retry a terminal error: reported once, no backoff, no timer', async () => {
    const { clock, queue } = makeQueue();
    let runs = 0;
    const errors: unknown[] = [];
    const finished = runWorkers(
      queue,
      1,
      async (): Promise<ReconcileResult> => {
        await Promise.resolve();
        runs++;
        throw new TerminalError('invalid spec');
      },
      (_key, err) => errors.push(err),
    );
    queue.add('a');
    await settle();
    clock.advance(10 * 60_000);
    await settle();
    expect(runs).toBe(1);
    expect(errors).toHaveLength(1);
    expect(queue.numRequeues('a')).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
    // The next change of the object brings it back.
    queue.add('a');
    await settle();
    expect(runs).toBe(2);
    queue.shutDown();
    await finished;
  });

  it.each<{ name: string; first: ReconcileResult }>([
    { name: 'after a success', first: { requeueAfterMs: 5_000 } },
    { name: 'after a failure reported with its own retry time, without the rate limiter', first: { requeueAfterMs: 30_000, failed: true } },
  ])('runs a key again after requeueAfterMs $name', async ({ first }) => {
    const { clock, queue } = makeQueue();
    let runs = 0;
    const finished = runWorkers(
      queue,
      1,
      async (): Promise<ReconcileResult> => {
        await Promise.resolve();
        runs++;
        return runs === 1 ? first : {};
      },
      () => undefined,
    );
    queue.add('a');
    await settle();
    expect(queue.numRequeues('a')).toBe(0);
    clock.advance(first.requeueAfterMs! - 1);
    await settle();
    expect(runs).toBe(1);
    clock.advance(1);
    await settle();
    expect(runs).toBe(2);
    expect(clock.pendingTimers()).toBe(0);
    queue.shutDown();
    await finished;
  });

  it('survives a reconcile that throws synchronously and an onError that throws', async () => {
    const { clock, queue } = makeQueue();
    let runs = 0;
    const finished = runWorkers(
      queue,
      1,
      (): Promise<ReconcileResult> => {
        runs++;
        throw new Error('sync failure');
      },
      () => {
        throw new Error('logger broke');
      },
    );
    queue.add('a');
    await settle();
    clock.advance(100);
    await settle();
    expect(runs).toBe(2);
    expect(queue.numRequeues('a')).toBe(2);
    queue.shutDown();
    await expect(finished).resolves.toBeUndefined();
  });

  it('lets in-flight reconciles finish on shutdown with drain, then exits', async () => {
    const { queue } = makeQueue();
    const gate = defer();
    let completed = 0;
    const finished = track(
      runWorkers(
        queue,
        2,
        async () => {
          await gate.promise;
          completed++;
          return {};
        },
        () => undefined,
      ),
    );
    queue.add('a');
    await settle();
    const drained = track(queue.shutDownWithDrain());
    await settle();
    expect([drained.settled(), finished.settled()]).toEqual([false, false]);

    gate.resolve();
    await settle();
    expect(completed).toBe(1);
    expect([drained.settled(), finished.settled()]).toEqual([true, true]);
  });

  it.each([{ workers: 0 }, { workers: -1 }, { workers: 1.5 }])('rejects $workers workers', ({ workers }) => {
    const { queue } = makeQueue();
    expect(() => runWorkers(queue, workers, () => Promise.resolve({}), () => undefined)).toThrow(RangeError);
  });
});

describe('WorkQueue.stalledSince: whether keys wait with none handed out', () => {
  it('is undefined with no key waiting', () => {
    const { clock, queue } = makeQueue();
    expect(queue.stalledSince()).toBeUndefined();
    clock.advance(10_000);
    expect(queue.stalledSince()).toBeUndefined();
  });

  it('is when keys started waiting, then when one was last handed out', async () => {
    const { clock, queue } = makeQueue();
    clock.advance(5000);
    queue.add('a');
    clock.advance(1000);
    queue.add('b');
    expect(queue.stalledSince()).toBe(1_005_000);
    clock.advance(2000);
    const key = await queue.get();
    expect(key).toBe('a');
    expect(queue.stalledSince()).toBe(1_008_000);
    await queue.get();
    expect(queue.stalledSince()).toBeUndefined();
  });

  it('starts again when a key in flight changed and comes back', async () => {
    const { clock, queue } = makeQueue();
    queue.add('a');
    await queue.get();
    queue.add('a');
    expect(queue.stalledSince()).toBeUndefined();
    clock.advance(3000);
    queue.done('a');
    expect(queue.stalledSince()).toBe(1_003_000);
  });
});
