import { describe, expect, it } from '@jest/globals';
import { ExponentialRateLimiter } from '../../src/controller/rate-limiter.js';
import { MAX_SCOPED_NAMESPACES, ScopedWorkQueue } from '../../src/controller/scoped-queue.js';
import { WorkQueue } from '../../src/controller/work-queue.js';
import { runWorkers } from '../../src/controller/workers.js';
import type { ReconcileResult } from '../../src/reconcile/contract.js';
import { FakeClock, settle } from '../support/fake-clock.js';

/**
 * What a key handed out by the queue asks its reconcile to cover: the namespaces whose events woke it, or
 * the whole credential as soon as anything else did (a spec or source change, a timer, a retry, a resync).
 */

function makeQueue(): { clock: FakeClock; queue: ScopedWorkQueue } {
  const clock = new FakeClock(1_000_000);
  const rateLimiter = new ExponentialRateLimiter({ baseDelayMs: 100, maxDelayMs: 1_000, jitter: { kind: 'none' } });
  return { clock, queue: new ScopedWorkQueue({ clock, rateLimiter }) };
}

/** Takes the next key and what it covers, and marks it done. */
async function next(queue: ScopedWorkQueue): Promise<{ key: string | undefined; scope: string[] | 'whole' }> {
  const key = await queue.get();
  const scope = key === undefined ? undefined : queue.takeScope(key);
  if (key !== undefined) queue.done(key);
  return { key, scope: scope ? [...scope].sort() : 'whole' };
}

describe('ScopedWorkQueue', () => {
  it('namespace events on one key are handed out once, covering each namespace that woke it', async () => {
    const { queue } = makeQueue();
    queue.addIn('a', 'ns-2');
    queue.addIn('a', 'ns-1');
    queue.addIn('a', 'ns-2');
    queue.addIn('b', 'ns-1');
    expect(queue.len()).toBe(2);
    expect(await next(queue)).toEqual({ key: 'a', scope: ['ns-1', 'ns-2'] });
    expect(await next(queue)).toEqual({ key: 'b', scope: ['ns-1'] });
    expect(queue.pendingScopes).toBe(0);
  });

  it('a plain add covers the whole credential, before or after namespace events, and stays whole until handed out', async () => {
    const { queue } = makeQueue();
    queue.addIn('a', 'ns-1');
    queue.add('a');
    queue.addIn('a', 'ns-2');
    expect(await next(queue)).toEqual({ key: 'a', scope: 'whole' });
    queue.add('b');
    queue.addIn('b', 'ns-1');
    expect(await next(queue)).toEqual({ key: 'b', scope: 'whole' });
  });

  it('keys that come back through a timer or a backoff cover the whole credential', async () => {
    const { clock, queue } = makeQueue();
    queue.addAfter('refresh', 5_000);
    queue.addRateLimited('retry');
    queue.addIn('refresh', 'ns-1');
    expect(await next(queue)).toEqual({ key: 'refresh', scope: ['ns-1'] });
    clock.advance(5_000);
    expect(await next(queue)).toEqual({ key: 'retry', scope: 'whole' });
    expect(await next(queue)).toEqual({ key: 'refresh', scope: 'whole' });
  });

  it('a change that lands while the key is being reconciled is kept for the run after', async () => {
    const { queue } = makeQueue();
    queue.addIn('a', 'ns-1');
    const key = await queue.get();
    expect([...(queue.takeScope(key!) ?? [])]).toEqual(['ns-1']);
    queue.addIn('a', 'ns-2');
    queue.done(key!);
    expect(await next(queue)).toEqual({ key: 'a', scope: ['ns-2'] });
  });

  it(`more than ${MAX_SCOPED_NAMESPACES} namespaces make it whole (a fan-out's own echoes)`, async () => {
    const { queue } = makeQueue();
    for (let i = 0; i < MAX_SCOPED_NAMESPACES; i++) queue.addIn('a', `ns-${i}`);
    const key = await queue.get();
    expect(queue.takeScope(key!)?.size).toBe(MAX_SCOPED_NAMESPACES);
    queue.done(key!);
    for (let i = 0; i <= MAX_SCOPED_NAMESPACES; i++) queue.addIn('a', `ns-${i}`);
    expect(await next(queue)).toEqual({ key: 'a', scope: 'whole' });
  });

  it('a recount covers no namespace; namespace events join it, and a whole add overrides it', async () => {
    const { clock, queue } = makeQueue();
    queue.recountAfter('a', 750);
    queue.recountAfter('a', 900);
    queue.recountAfter('b', 750);
    expect(queue.len()).toBe(0);
    clock.advance(749);
    expect(queue.len()).toBe(0);
    queue.addIn('b', 'ns-1');
    clock.advance(1);
    expect(await next(queue)).toEqual({ key: 'b', scope: ['ns-1'] });
    expect(await next(queue)).toEqual({ key: 'a', scope: [] });
    // The later request was folded into the earlier one: nothing more comes.
    clock.advance(1_000);
    expect(queue.len()).toBe(0);
    queue.recountAfter('c', 0);
    queue.add('c');
    expect(await next(queue)).toEqual({ key: 'c', scope: 'whole' });
  });

  it('recount timers are apart from addAfter: an earlier recount does not stand in for a refresh timer', async () => {
    const { clock, queue } = makeQueue();
    queue.addAfter('a', 5_000);
    queue.recountAfter('a', 500);
    clock.advance(500);
    expect(await next(queue)).toEqual({ key: 'a', scope: [] });
    clock.advance(4_500);
    expect(await next(queue)).toEqual({ key: 'a', scope: 'whole' });
  });

  it('the workers honour recountAfterMs: the key comes back after it for its counts alone (whole from a plain queue)', async () => {
    const { clock, queue } = makeQueue();
    const seen: string[] = [];
    const finished = runWorkers(
      queue,
      2,
      (key): Promise<ReconcileResult> => {
        const scope = queue.takeScope(key);
        seen.push(`${key} ${scope ? `[${[...scope].join(',')}]` : 'whole'}`);
        return Promise.resolve(scope?.has('ns-1') ? { recountAfterMs: 500 } : {});
      },
      () => undefined,
    );
    queue.addIn('a', 'ns-1');
    await settle();
    clock.advance(499);
    await settle();
    expect(seen).toEqual(['a [ns-1]']);
    clock.advance(1);
    await settle();
    expect(seen).toEqual(['a [ns-1]', 'a []']);
    queue.shutDown();
    await finished;

    const plain = new WorkQueue<string>({ clock, rateLimiter: new ExponentialRateLimiter({ baseDelayMs: 100, maxDelayMs: 1_000, jitter: { kind: 'none' } }) });
    let runs = 0;
    const done = runWorkers(plain, 1, () => Promise.resolve(++runs === 1 ? { recountAfterMs: 500 } : {}), () => undefined);
    plain.add('a');
    await settle();
    clock.advance(500);
    await settle();
    expect(runs).toBe(2);
    plain.shutDown();
    await done;
  });

  it('shutdown drops pending recounts', () => {
    const { clock, queue } = makeQueue();
    queue.recountAfter('a', 500);
    queue.shutDown();
    clock.advance(500);
    queue.recountAfter('b', 0);
    expect(queue.len()).toBe(0);
    expect(queue.pendingScopes).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a key with no record (nothing asked for less) is whole; nothing is recorded after shutdown', async () => {
    const { queue } = makeQueue();
    expect(queue.takeScope('never-added')).toBeUndefined();
    queue.shutDown();
    queue.addIn('a', 'ns-1');
    queue.add('b');
    expect(queue.pendingScopes).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });
});
