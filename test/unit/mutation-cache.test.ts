import { describe, expect, it, jest } from '@jest/globals';
import { HOLD_MAX_MS, MutationCache, WATCH_STALL_MS, isAtLeast, type Versioned } from '../../src/controller/mutation-cache.js';

interface Obj extends Versioned {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
  value?: string;
}

function obj(resourceVersion: string | undefined, value = 'v', name = 'pull', namespace: string | undefined = 'team-a'): Obj {
  return { metadata: { namespace, name, resourceVersion }, value };
}

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function cacheWith(ttlMs?: number) {
  const c = clock();
  const cache = new MutationCache<Obj>(ttlMs === undefined ? { now: c.now } : { now: c.now, ttlMs });
  return { cache, clock: c };
}

describe('isAtLeast', () => {
  it.each([
    { name: 'equal numeric versions', seen: '10', ours: '10', want: true },
    { name: 'a newer numeric version', seen: '11', ours: '10', want: true },
    { name: 'an older numeric version', seen: '9', ours: '10', want: false },
    { name: 'numeric compare, not string compare (100 > 99)', seen: '100', ours: '99', want: true },
    { name: 'numeric compare, not string compare (99 < 100)', seen: '99', ours: '100', want: false },
    { name: 'integers beyond Number.MAX_SAFE_INTEGER', seen: '9007199254740993', ours: '9007199254740992', want: true },
    { name: 'integers beyond Number.MAX_SAFE_INTEGER, older', seen: '9007199254740992', ours: '9007199254740993', want: false },
    { name: 'equal opaque versions', seen: 'abc', ours: 'abc', want: true },
    { name: 'different opaque versions, even if they sort after', seen: 'abd', ours: 'abc', want: false },
    { name: 'one opaque, one numeric', seen: 'x12', ours: '11', want: false },
    { name: 'numeric-looking but signed', seen: '-1', ours: '1', want: false },
    { name: 'numeric with a decimal point', seen: '12.0', ours: '11', want: false },
    { name: 'seen undefined', seen: undefined, ours: '10', want: false },
    { name: 'ours undefined', seen: '10', ours: undefined, want: false },
    { name: 'both undefined', seen: undefined, ours: undefined, want: false },
  ])('$name', ({ seen, ours, want }) => {
    expect(isAtLeast(seen, ours)).toBe(want);
  });
});

describe('MutationCache: writes', () => {
  it.each([
    { name: 'informer has nothing yet', cached: undefined, wantOurs: true },
    { name: 'informer still has the old version', cached: obj('9', 'old'), wantOurs: true },
    { name: 'informer has exactly our version', cached: obj('10', 'informer'), wantOurs: false },
    { name: 'informer has a newer version', cached: obj('12', 'newer'), wantOurs: false },
    { name: 'informer has an older version with an opaque rv', cached: obj('abc', 'opaque'), wantOurs: true },
  ])('read after a write: $name', ({ cached, wantOurs }) => {
    const { cache } = cacheWith();
    const ours = obj('10', 'ours');
    cache.wrote(ours);
    const got = cache.read('team-a', 'pull', cached);
    if (wantOurs) {
      expect(got).toBe(ours);
      expect(cache.size).toBe(1);
    } else {
      expect(got).toBe(cached);
      // once the informer caught up, the entry is forgotten
      expect(cache.size).toBe(0);
    }
  });

  it('keeps returning our write on every read until the informer catches up', () => {
    const { cache } = cacheWith();
    const ours = obj('10', 'ours');
    cache.wrote(ours);
    expect(cache.read('team-a', 'pull', obj('9'))).toBe(ours);
    expect(cache.read('team-a', 'pull', obj('9'))).toBe(ours);
    const caughtUp = obj('10', 'informer');
    expect(cache.read('team-a', 'pull', caughtUp)).toBe(caughtUp);
    // after that the cache is the truth again, even if it later goes back
    expect(cache.read('team-a', 'pull', obj('9', 'stale'))).toEqual(obj('9', 'stale'));
  });

  it('passes the cache through when there is no entry', () => {
    const { cache } = cacheWith();
    const cached = obj('3');
    expect(cache.read('team-a', 'pull', cached)).toBe(cached);
    expect(cache.read('team-a', 'pull', undefined)).toBeUndefined();
  });

  it('a later write replaces the earlier one', () => {
    const { cache } = cacheWith();
    cache.wrote(obj('10', 'first'));
    cache.wrote(obj('11', 'second'));
    expect(cache.size).toBe(1);
    expect(cache.read('team-a', 'pull', obj('10'))?.value).toBe('second');
  });

  it('ignores an object without a name', () => {
    const { cache } = cacheWith();
    cache.wrote({ metadata: { namespace: 'team-a', resourceVersion: '1' } });
    cache.wrote({});
    expect(cache.size).toBe(0);
  });

  it('keys by namespace and name', () => {
    const { cache } = cacheWith();
    const a = obj('10', 'a', 'pull', 'team-a');
    const b = obj('10', 'b', 'pull', 'team-b');
    const clusterScoped: Obj = { metadata: { name: 'pull', resourceVersion: '10' }, value: 'c' };
    cache.wrote(a);
    cache.wrote(b);
    cache.wrote(clusterScoped);
    expect(cache.size).toBe(3);
    expect(cache.read('team-a', 'pull', undefined)).toBe(a);
    expect(cache.read('team-b', 'pull', undefined)).toBe(b);
    expect(cache.read(undefined, 'pull', undefined)).toBe(clusterScoped);
    expect(cache.read('team-a', 'other', undefined)).toBeUndefined();
  });

  it('a write without a resourceVersion is never caught up by reads, only by TTL', () => {
    const { cache, clock } = cacheWith(1000);
    const ours = obj(undefined, 'ours');
    cache.wrote(ours);
    expect(cache.read('team-a', 'pull', obj('10'))).toBe(ours);
    clock.advance(1001);
    const cached = obj('10');
    expect(cache.read('team-a', 'pull', cached)).toBe(cached);
    expect(cache.size).toBe(0);
  });
});

describe('MutationCache: observed events after a write', () => {
  it.each([
    { name: 'an older version leaves our write in place', rv: '9', deleted: false, wantKept: true, wantEcho: false },
    { name: 'an event without a version leaves our write in place', rv: undefined, deleted: false, wantKept: true, wantEcho: false },
    { name: 'a different opaque version leaves our write in place', rv: 'zz', deleted: false, wantKept: true, wantEcho: false },
    { name: 'our own version forgets the write, and is its echo', rv: '10', deleted: false, wantKept: false, wantEcho: true },
    { name: 'a newer version forgets the write, and is someone else\'s change', rv: '15', deleted: false, wantKept: false, wantEcho: false },
    { name: 'a delete event forgets the write, and is someone else\'s delete', rv: '15', deleted: true, wantKept: false, wantEcho: false },
    { name: 'a delete event older than the write (of the object ours replaced) leaves our write in place', rv: '9', deleted: true, wantKept: true, wantEcho: false },
    { name: 'a delete event without a version forgets the write', rv: undefined, deleted: true, wantKept: false, wantEcho: false },
  ])('$name', ({ rv, deleted, wantKept, wantEcho }) => {
    const { cache } = cacheWith();
    cache.wrote(obj('10', 'ours'));
    expect(cache.observed('team-a', 'pull', rv, deleted)).toBe(wantEcho);
    expect(cache.size).toBe(wantKept ? 1 : 0);
  });

  it('an echo is recognized once: the same event again (a relist) is not ours any more', () => {
    const { cache } = cacheWith();
    cache.wrote(obj('10', 'ours'));
    expect(cache.observed('team-a', 'pull', '10', false)).toBe(true);
    expect(cache.observed('team-a', 'pull', '10', false)).toBe(false);
  });

  it('an event for another object changes nothing', () => {
    const { cache } = cacheWith();
    cache.wrote(obj('10', 'ours'));
    expect(cache.observed('team-b', 'pull', '99', false)).toBe(false);
    expect(cache.observed('team-a', 'other', '99', true)).toBe(false);
    expect(cache.size).toBe(1);
  });

  it('an event with no entry is a no-op', () => {
    const { cache } = cacheWith();
    expect(cache.observed('team-a', 'pull', '1', false)).toBe(false);
    expect(cache.observed('team-a', 'pull', '1', true)).toBe(false);
    expect(cache.size).toBe(0);
  });
});

describe('MutationCache: deletes', () => {
  it('hides the cached object after a delete', () => {
    const { cache } = cacheWith();
    cache.deleted('team-a', 'pull');
    expect(cache.read('team-a', 'pull', obj('10', 'still in informer'))).toBeUndefined();
    expect(cache.read('team-a', 'pull', undefined)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('a delete hides even a cached object with a much newer version', () => {
    const { cache } = cacheWith();
    cache.deleted('team-a', 'pull');
    expect(cache.read('team-a', 'pull', obj('999999'))).toBeUndefined();
  });

  it.each([
    { name: 'a stale update event', rv: '10', deleted: false, wantHidden: true },
    { name: 'an update event without a version', rv: undefined, deleted: false, wantHidden: true },
    { name: 'the delete event', rv: '11', deleted: true, wantHidden: false },
    { name: 'a delete event without a version', rv: undefined, deleted: true, wantHidden: false },
  ])('after $name the object is hidden: $wantHidden', ({ rv, deleted, wantHidden }) => {
    const { cache } = cacheWith();
    cache.deleted('team-a', 'pull');
    // The delete event is the echo of our delete; a stale update before it is not.
    expect(cache.observed('team-a', 'pull', rv, deleted)).toBe(deleted);
    const cached = obj('10', 'informer');
    if (wantHidden) {
      expect(cache.read('team-a', 'pull', cached)).toBeUndefined();
      expect(cache.size).toBe(1);
    } else {
      expect(cache.size).toBe(0);
      expect(cache.read('team-a', 'pull', cached)).toBe(cached);
    }
  });

  it('a write after a delete replaces the delete', () => {
    const { cache } = cacheWith();
    cache.deleted('team-a', 'pull');
    const recreated = obj('20', 'recreated');
    cache.wrote(recreated);
    expect(cache.read('team-a', 'pull', undefined)).toBe(recreated);
  });

  it('the late delete event of the object a create replaced keeps the created one in view until its own event', () => {
    const { cache } = cacheWith();
    // Another credential's Secret (rv 10) is deleted, and ours is created under the same name (rv 20)
    // before the informer has shown the delete: the informer still holds the old one.
    cache.deleted('team-a', 'pull');
    const ours = obj('20', 'ours');
    cache.wrote(ours);
    expect(cache.read('team-a', 'pull', obj('10', 'theirs'))).toBe(ours);
    // The delete event (rv 15) empties the informer's slot: ours stays in view, and the event is not ours.
    expect(cache.observed('team-a', 'pull', '15', true)).toBe(false);
    expect(cache.read('team-a', 'pull', undefined)).toBe(ours);
    // Our create's event is the echo, and from then on the informer is the truth.
    expect(cache.observed('team-a', 'pull', '20', false)).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('a delete after a write replaces the write', () => {
    const { cache } = cacheWith();
    cache.wrote(obj('20', 'ours'));
    cache.deleted('team-a', 'pull');
    expect(cache.read('team-a', 'pull', obj('20'))).toBeUndefined();
  });
});

describe('MutationCache: TTL', () => {
  it.each([
    { name: 'write, default TTL, just inside', ttlMs: undefined, elapsed: 60_000, kind: 'write', wantFresh: true },
    { name: 'write, default TTL, expired', ttlMs: undefined, elapsed: 60_001, kind: 'write', wantFresh: false },
    { name: 'write, custom TTL, just inside', ttlMs: 500, elapsed: 500, kind: 'write', wantFresh: true },
    { name: 'write, custom TTL, expired', ttlMs: 500, elapsed: 501, kind: 'write', wantFresh: false },
    { name: 'delete, default TTL, just inside', ttlMs: undefined, elapsed: 60_000, kind: 'delete', wantFresh: true },
    { name: 'delete, default TTL, expired', ttlMs: undefined, elapsed: 60_001, kind: 'delete', wantFresh: false },
    { name: 'delete, custom TTL, expired', ttlMs: 500, elapsed: 501, kind: 'delete', wantFresh: false },
  ])('$name', ({ ttlMs, elapsed, kind, wantFresh }) => {
    const { cache, clock } = cacheWith(ttlMs);
    const ours = obj('10', 'ours');
    if (kind === 'write') cache.wrote(ours);
    else cache.deleted('team-a', 'pull');
    clock.advance(elapsed);
    const cached = obj('9', 'informer');
    const got = cache.read('team-a', 'pull', cached);
    if (wantFresh) {
      expect(got).toBe(kind === 'write' ? ours : undefined);
      expect(cache.size).toBe(1);
    } else {
      // the informer is the truth again
      expect(got).toBe(cached);
      expect(cache.size).toBe(0);
    }
  });

  it('TTL counts from the latest write', () => {
    const { cache, clock } = cacheWith(1000);
    cache.wrote(obj('10', 'first'));
    clock.advance(800);
    const second = obj('11', 'second');
    cache.wrote(second);
    clock.advance(800);
    expect(cache.read('team-a', 'pull', obj('9'))).toBe(second);
  });
});

describe('MutationCache: a write answered after its own watch event', () => {
  it('is not remembered when the cache already holds its version or a newer one (no event would ever clear it)', () => {
    const c = clock();
    let cached: string | undefined = '12';
    const cache = new MutationCache<Obj>({ now: c.now, cachedVersion: () => cached });
    cache.wrote(obj('12', 'ours'));
    expect(cache.size).toBe(0);
    cache.wrote(obj('11', 'older'));
    expect(cache.size).toBe(0);
    cached = '10'; // the watch has not shown it yet
    cache.wrote(obj('12', 'ours'));
    expect(cache.size).toBe(1);
    expect(cache.read('team-a', 'pull', obj('10', 'old'))?.value).toBe('ours');
    cached = undefined; // a create the cache knows nothing of yet
    cache.wrote(obj('13', 'new', 'other'));
    expect(cache.size).toBe(2);
  });
});

describe('MutationCache: an event that comes before its write\'s answer', () => {
  /** What a held event settled to, read once pending promises have run. */
  async function settled(answer: boolean | Promise<boolean>): Promise<boolean | 'pending'> {
    if (typeof answer === 'boolean') return answer;
    return Promise.race([answer, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
  }

  it('is held while the write is on its way, and is the echo once the answer has its resourceVersion (nothing is kept then)', async () => {
    const { cache } = cacheWith();
    cache.writing('team-a', 'pull');
    const answer = cache.observed('team-a', 'pull', '10', false);
    expect(answer).toBeInstanceOf(Promise);
    expect(await settled(answer)).toBe('pending');
    cache.wrote(obj('10', 'ours'));
    expect(await settled(answer)).toBe(true);
    // The event has been seen: no entry waits for it, and the next event is not taken for ours.
    expect(cache.size).toBe(0);
    expect(cache.observed('team-a', 'pull', '10', false)).toBe(false);
  });

  it('is someone else\'s change when the answer has another resourceVersion, or the write failed', async () => {
    const { cache } = cacheWith();
    cache.writing('team-a', 'pull');
    const before = cache.observed('team-a', 'pull', '9', false);
    cache.wrote(obj('10', 'ours'));
    expect(await settled(before)).toBe(false);
    // Ours is still waiting for its own event.
    expect(cache.size).toBe(1);

    cache.writing('team-a', 'other');
    const meanwhile = cache.observed('team-a', 'other', '20', false);
    cache.writeFailed('team-a', 'other');
    expect(await settled(meanwhile)).toBe(false);
  });

  it('with two writes of one object on their way, each answer settles its own event and the rest wait for the last', async () => {
    const { cache } = cacheWith();
    cache.writing('team-a', 'default');
    cache.writing('team-a', 'default');
    const first = cache.observed('team-a', 'default', '10', false);
    const second = cache.observed('team-a', 'default', '12', false);
    cache.wrote(obj('10', 'first', 'default'));
    expect(await settled(first)).toBe(true);
    expect(await settled(second)).toBe('pending');
    cache.wrote(obj('11', 'second', 'default'));
    // 12 is neither answer: someone else's change after both.
    expect(await settled(second)).toBe(false);
  });

  it('is not held when it is already known as ours, when it is a delete, or when nothing of the object is on its way', () => {
    const { cache } = cacheWith();
    cache.wrote(obj('10', 'ours'));
    cache.writing('team-a', 'pull');
    expect(cache.observed('team-a', 'pull', '10', false)).toBe(true);
    expect(cache.observed('team-a', 'pull', undefined, true)).toBe(false);
    expect(cache.observed('team-a', 'elsewhere', '5', false)).toBe(false);
  });

  it('is let go as someone else\'s change after HOLD_MAX_MS if the write never settles', async () => {
    jest.useFakeTimers();
    try {
      const { cache } = cacheWith();
      cache.writing('team-a', 'pull');
      const answer = cache.observed('team-a', 'pull', '10', false) as Promise<boolean>;
      jest.advanceTimersByTime(HOLD_MAX_MS - 1);
      let result: boolean | undefined;
      void answer.then((r) => (result = r));
      await Promise.resolve();
      expect(result).toBeUndefined();
      jest.advanceTimersByTime(1);
      await Promise.resolve();
      expect(result).toBe(false);
      // The answer that finally comes is recorded as any other.
      cache.wrote(obj('10', 'ours'));
      expect(cache.size).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('MutationCache.roomFor: writes run no further ahead of their watch than a limit', () => {
  const turn = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  it('waits while more writes than the limit wait for their events and the watch is showing ours; goes on as they come', async () => {
    const c = clock();
    const cache = new MutationCache<Obj>({ now: c.now });
    for (let i = 0; i < 5; i++) cache.wrote(obj(String(100 + i), 'v', `s${i}`));
    // No event of ours seen yet (a watch that has not started showing them): no waiting.
    await cache.roomFor(2);
    expect(cache.observed('team-a', 's0', '100', false)).toBe(true); // the watch shows ours: 4 wait
    let done = false;
    const waiting = cache.roomFor(2).then(() => (done = true));
    await turn();
    expect(done).toBe(false);
    expect(cache.observed('team-a', 's1', '101', false)).toBe(true);
    await turn();
    expect(done).toBe(false);
    expect(cache.observed('team-a', 's2', '102', false)).toBe(true); // 2 left
    await waiting;
    expect(done).toBe(true);
  });

  it('stops waiting once the watch has shown none of ours for a while (down or relisting)', async () => {
    const c = clock();
    const cache = new MutationCache<Obj>({ now: c.now });
    for (let i = 0; i < 5; i++) cache.wrote(obj(String(100 + i), 'v', `s${i}`));
    expect(cache.observed('team-a', 's0', '100', false)).toBe(true);
    let done = false;
    const waiting = cache.roomFor(2).then(() => (done = true));
    await turn();
    expect(done).toBe(false);
    c.advance(WATCH_STALL_MS);
    await waiting;
    expect(cache.size).toBe(4);
  });
});
