/**
 * Leader election's decisions, on a fake clock against an in-memory Lease (test/support/memory-lease.ts):
 * who acquires, when a follower may take an unrenewed lease (by its own observation, not renewTime),
 * the resourceVersion race, release, losing on the renew deadline, and fencing.
 */
import { describe, expect, it, jest } from '@jest/globals';
import type { V1Secret } from '@kubernetes/client-node';
import { LeaderElector, holderIdentity } from '../../src/leader/elector.js';
import { fencedWriter, leaseGuard, NotLeaderError, FENCE_MARGIN_MS } from '../../src/leader/fence.js';
import { microTime } from '../../src/leader/lease-lock.js';
import { timingProblem } from '../../src/leader/timing.js';
import type { KubeWriter } from '../../src/kube/writer.js';
import { CredentialMemories } from '../../src/reconcile/memory.js';
import { MintRunner } from '../../src/reconcile/mints.js';
import type { Provider } from '../../src/providers/types.js';
import { captureLog } from '../support/log-capture.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { MemoryLease } from '../support/memory-lease.js';

const TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

interface Replica {
  elector: LeaderElector;
  lock: ReturnType<MemoryLease['lockFor']>;
  started: jest.Mock<() => void>;
  leading: boolean[];
  lines: ReturnType<typeof captureLog>['lines'];
}

function replica(lease: MemoryLease, clock: FakeClock, identity: string, random = () => 0): Replica {
  const lock = lease.lockFor(identity);
  const { log, lines } = captureLog('info');
  const started = jest.fn<() => void>();
  const leading: boolean[] = [];
  // The fake clock serves as both clocks: wall (renewTime) and monotonic (every duration).
  const elector = new LeaderElector({
    lock,
    identity,
    timing: TIMING,
    clock,
    monotonic: () => clock.now(),
    random,
    log,
    onStartedLeading: started,
    onLeading: (l) => leading.push(l),
  });
  return { elector, lock, started, leading, lines };
}

/** Moves the fake clock in small steps, letting promise chains run after each: no real waiting. */
async function pass(clock: FakeClock, ms: number, step = 100): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await settle();
  }
}

/** Replicas on one fake clock and one Lease, none running: each test calls tryAcquireOrRenew itself. */
function replicas(...identities: string[]): { clock: FakeClock; lease: MemoryLease; electors: LeaderElector[] } {
  const clock = new FakeClock(0);
  const lease = new MemoryLease();
  return { clock, lease, electors: identities.map((id) => replica(lease, clock, id).elector) };
}

describe('tryAcquireOrRenew', () => {
  it('creates the Lease when there is none, and holds it', async () => {
    const clock = new FakeClock(Date.parse('2025-03-01T10:00:00.250Z'));
    const lease = new MemoryLease();
    const a = replica(lease, clock, 'pod-a_1');
    expect(await a.elector.tryAcquireOrRenew()).toBe(true);
    expect(a.elector.isLeader()).toBe(true);
    expect(lease.record).toEqual({
      holderIdentity: 'pod-a_1',
      leaseDurationSeconds: 15,
      acquireTime: '2025-03-01T10:00:00.250000Z',
      renewTime: '2025-03-01T10:00:00.250000Z',
      leaseTransitions: 0,
    });
  });

  it('renews keeping acquireTime and leaseTransitions, moving renewTime', async () => {
    const clock = new FakeClock(Date.parse('2025-03-01T10:00:00Z'));
    const lease = new MemoryLease();
    const a = replica(lease, clock, 'pod-a_1');
    await a.elector.tryAcquireOrRenew();
    clock.advance(2_000);
    expect(await a.elector.tryAcquireOrRenew()).toBe(true);
    expect(lease.record).toMatchObject({ acquireTime: '2025-03-01T10:00:00.000000Z', renewTime: '2025-03-01T10:00:02.000000Z', leaseTransitions: 0 });
    expect(lease.writes.map((w) => w.by)).toEqual(['pod-a_1', 'pod-a_1']);
  });

  it('a follower waits a full lease duration from when it saw the record change, then takes the lease', async () => {
    const clock = new FakeClock(0);
    const lease = new MemoryLease();
    const a = replica(lease, clock, 'pod-a_1');
    const b = replica(lease, clock, 'pod-b_2');
    await a.elector.tryAcquireOrRenew();
    clock.advance(5_000);
    // B sees the record for the first time 5 s after it was written: its 15 s start now.
    expect(await b.elector.tryAcquireOrRenew()).toBe(false);
    clock.advance(14_999);
    expect(await b.elector.tryAcquireOrRenew()).toBe(false);
    expect(lease.record?.holderIdentity).toBe('pod-a_1');
    clock.advance(1);
    expect(await b.elector.tryAcquireOrRenew()).toBe(true);
    expect(lease.record).toMatchObject({ holderIdentity: 'pod-b_2', leaseTransitions: 1 });
    expect(b.elector.isLeader()).toBe(true);
  });

  it('ignores renewTime: a record whose renewTime is long past (a skewed clock) is still waited out', async () => {
    const clock = new FakeClock(Date.parse('2025-03-01T10:00:00Z'));
    const lease = new MemoryLease();
    const b = replica(lease, clock, 'pod-b_2');
    lease.stored = {
      record: { holderIdentity: 'pod-a_1', leaseDurationSeconds: 15, acquireTime: microTime(0), renewTime: microTime(0), leaseTransitions: 3 },
      resourceVersion: 1000,
    };
    expect(await b.elector.tryAcquireOrRenew()).toBe(false);
    clock.advance(14_000);
    expect(await b.elector.tryAcquireOrRenew()).toBe(false);
    clock.advance(1_000);
    expect(await b.elector.tryAcquireOrRenew()).toBe(true);
    expect(lease.record).toMatchObject({ holderIdentity: 'pod-b_2', leaseTransitions: 4 });
  });

  it("each renewal the follower sees restarts its wait", async () => {
    const { clock, lease, electors: [a, b] } = replicas('pod-a_1', 'pod-b_2');
    await a!.tryAcquireOrRenew();
    expect(await b!.tryAcquireOrRenew()).toBe(false);
    for (let i = 0; i < 10; i++) {
      clock.advance(10_000);
      await a!.tryAcquireOrRenew();
      expect(await b!.tryAcquireOrRenew()).toBe(false);
    }
    expect(lease.record?.holderIdentity).toBe('pod-a_1');
  });

  it('of two followers taking an expired lease at once, the resourceVersion lets exactly one win', async () => {
    const { clock, lease, electors } = replicas('pod-a_1', 'pod-b_2', 'pod-c_3');
    for (const elector of electors) await elector.tryAcquireOrRenew();
    clock.advance(15_000);
    const [, b, c] = electors as [LeaderElector, LeaderElector, LeaderElector];
    const results = await Promise.all([b.tryAcquireOrRenew(), c.tryAcquireOrRenew()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect([b.isLeader(), c.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(lease.record?.leaseTransitions).toBe(1);
  });

  it('a released lease (no holder) is taken at once', async () => {
    const { lease, electors: [a, b] } = replicas('pod-a_1', 'pod-b_2');
    await a!.tryAcquireOrRenew();
    expect(await b!.tryAcquireOrRenew()).toBe(false);
    expect(await a!.release()).toBe(true);
    expect(lease.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(a!.isLeader()).toBe(false);
    expect(await b!.tryAcquireOrRenew()).toBe(true);
    expect(lease.record).toMatchObject({ holderIdentity: 'pod-b_2', leaseDurationSeconds: 15, leaseTransitions: 1 });
  });
});

/** A leads (it runs first), B follows: both running on one fake clock against one Lease. */
async function leaderAndFollower(randomB = () => 0): Promise<{ clock: FakeClock; lease: MemoryLease; a: Replica; b: Replica; aEnd: Promise<string> }> {
  const clock = new FakeClock(0);
  const lease = new MemoryLease();
  const a = replica(lease, clock, 'pod-a_1');
  const b = replica(lease, clock, 'pod-b_2', randomB);
  const aEnd = a.elector.run();
  await pass(clock, 100);
  void b.elector.run();
  return { clock, lease, a, b, aEnd };
}

describe('run', () => {
  it('acquires, starts leading once, renews every retry period, and reports the leader to followers', async () => {
    const { clock, lease, a, b } = await leaderAndFollower();
    await pass(clock, 20_000);
    expect(a.started).toHaveBeenCalledTimes(1);
    expect(b.started).not.toHaveBeenCalled();
    expect(a.leading).toEqual([true]);
    expect(b.leading).toEqual([]);
    // Renewed every 2 s: the follower never got its chance.
    expect(lease.writes.filter((w) => w.by === 'pod-a_1').length).toBeGreaterThanOrEqual(10);
    expect(lease.writes.some((w) => w.by === 'pod-b_2')).toBe(false);
    expect(a.lines().map((l) => l.msg)).toContain('became leader');
    expect(b.lines().map((l) => l.msg)).toContain('leader is pod-a_1');
    await b.elector.stop();
    await a.elector.stop();
  });

  it('a leader that cannot renew within the renew deadline loses, says so, and a follower takes over after the lease duration', async () => {
    const { clock, lease, a, b, aEnd } = await leaderAndFollower();
    await pass(clock, 4_000);
    a.lock.unreachable = true;
    let ended: string | undefined;
    void aEnd.then((end) => (ended = end));
    await pass(clock, 9_000);
    expect(ended).toBeUndefined();
    expect(a.elector.isLeader()).toBe(true);
    // Last renewal at 4.1 s at the latest; the round after it gives up 10 s after it began.
    await pass(clock, 5_000);
    expect(ended).toBe('lost');
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.holdsLease(0)).toBe(false);
    expect(a.leading).toEqual([true, false]);
    expect(a.lines().find((l) => l.msg.startsWith('lost leadership'))?.level).toBe('error');
    // B took it only after a full lease duration without a change it could see.
    await pass(clock, 10_000);
    expect(b.started).toHaveBeenCalledTimes(1);
    const taken = lease.writes.find((w) => w.by === 'pod-b_2');
    expect(taken?.record.leaseTransitions).toBe(1);
    const lastByA = lease.writes.filter((w) => w.by === 'pod-a_1').at(-1)!;
    expect(Date.parse(taken!.record.acquireTime!) - Date.parse(lastByA.record.renewTime!)).toBeGreaterThanOrEqual(15_000);
    await b.elector.stop();
  });

  it('stop releases the lease after any attempt in flight, and a follower takes over within a retry period', async () => {
    const { clock, lease, a, b } = await leaderAndFollower(() => 1);
    await pass(clock, 10_000);
    const stopped = a.elector.stop();
    await pass(clock, 100);
    await stopped;
    expect(lease.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(a.lines().map((l) => l.msg)).toContain('released the lease');
    const releasedAt = clock.now();
    // Jitter at its largest (random 1): 2 s + 1.2 × 2 s.
    await pass(clock, 4_500);
    expect(b.started).toHaveBeenCalledTimes(1);
    const taken = lease.writes.find((w) => w.by === 'pod-b_2')!;
    expect(Date.parse(taken.record.acquireTime!) - releasedAt).toBeLessThanOrEqual(4_400);
    await b.elector.stop();
  });

  it('stop on a follower writes nothing', async () => {
    const { clock, lease, a, b } = await leaderAndFollower();
    await pass(clock, 3_000);
    const writes = lease.writes.length;
    await b.elector.stop();
    expect(lease.writes.length).toBe(writes);
    expect(lease.record?.holderIdentity).toBe('pod-a_1');
    await a.elector.stop();
  });
});

describe('fencing', () => {
  it('holds the lease only while the last renewal was sent less than the lease duration minus the margin ago', async () => {
    const clock = new FakeClock(0);
    const lease = new MemoryLease();
    const a = replica(lease, clock, 'pod-a_1');
    const guard = leaseGuard(a.elector);
    expect(() => guard.check('create Secret x/y')).toThrow(NotLeaderError);
    void a.elector.run();
    await pass(clock, 100);
    expect(a.elector.holdsLease(FENCE_MARGIN_MS)).toBe(true);
    expect(() => guard.check('create Secret x/y')).not.toThrow();
    // Frozen (SIGSTOP, a long pause): 20 s pass at once, and the first thing that runs on waking is a write.
    clock.advance(20_000);
    expect(() => guard.check('create Secret x/y')).toThrow('refused to create Secret x/y: this replica does not hold the leader lease');
    await a.elector.stop();
  });

  it('closes the margin before the lease ends', async () => {
    const clock = new FakeClock(0);
    const lease = new MemoryLease();
    const a = replica(lease, clock, 'pod-a_1');
    void a.elector.run();
    await pass(clock, 100);
    a.lock.unreachable = true;
    // Last renewal sent at 0 (acquire) … at most 2 s later; without more, the fence closes 13 s after it.
    const lastSent = Math.max(...lease.writes.map((w) => Date.parse(w.record.renewTime!)));
    clock.advance(lastSent + 15_000 - FENCE_MARGIN_MS - 1 - clock.now());
    expect(a.elector.holdsLease(FENCE_MARGIN_MS)).toBe(true);
    clock.advance(1);
    expect(a.elector.holdsLease(FENCE_MARGIN_MS)).toBe(false);
    await a.elector.stop();
  });

  it('fencedWriter refuses every call without sending it when the guard refuses, and passes them through when it allows', async () => {
    let allowed = false;
    const guard = { check: (action: string) => { if (!allowed) throw new NotLeaderError(action); } };
    const calls: string[] = [];
    const record = (name: string) => () => {
      calls.push(name);
      return Promise.resolve({} as never);
    };
    const inner: KubeWriter = {
      createSecret: record('createSecret'),
      replaceSecret: record('replaceSecret'),
      getSecret: record('getSecret'),
      deleteSecret: record('deleteSecret'),
      getServiceAccount: record('getServiceAccount'),
      patchServiceAccount: record('patchServiceAccount'),
      patchCredential: record('patchCredential'),
      patchCredentialStatus: record('patchCredentialStatus'),
      createEvent: record('createEvent'),
    };
    const writer = fencedWriter(inner, guard);
    const secret: V1Secret = { metadata: { namespace: 'team-a', name: 'pull' } };
    const every = (): Promise<unknown>[] => [
      writer.createSecret(secret),
      writer.replaceSecret(secret),
      writer.getSecret('team-a', 'pull'),
      writer.deleteSecret('team-a', 'pull', 'uid'),
      writer.getServiceAccount('team-a', 'default'),
      writer.patchServiceAccount('team-a', 'default', {}),
      writer.patchCredential('rc', {}),
      writer.patchCredentialStatus('rc', {}),
      writer.createEvent({ metadata: { namespace: 'default' }, involvedObject: { name: 'rc' } }),
    ];
    const refused = await Promise.allSettled(every());
    expect(refused.map((r) => r.status)).toEqual(Array(9).fill('rejected'));
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(NotLeaderError);
    expect(((refused[0] as PromiseRejectedResult).reason as Error).message).toBe('refused to create Secret team-a/pull: this replica does not hold the leader lease');
    expect(calls).toEqual([]);
    allowed = true;
    await Promise.all(every());
    expect(calls).toHaveLength(9);
  });
});

describe('fencing of provider calls', () => {
  function runner(allowed: () => boolean, concurrency = 1) {
    const clock = new FakeClock(0);
    const mint = jest.fn<Provider['mint']>(() => new Promise(() => undefined));
    const settled = jest.fn<(name: string) => void>();
    const memories = new CredentialMemories();
    const mints = new MintRunner({
      providers: { gcr: { name: 'gcr', mint } },
      clock,
      log: captureLog('silent').log,
      timeoutMs: 30_000,
      concurrency,
      memories,
      settled,
      guard: { check: (action) => { if (!allowed()) throw new NotLeaderError(action); } },
    });
    const request = (name: string) => ({ name, provider: 'gcr' as const, spec: { gcr: { registries: ['gcr.io'] } }, sources: { read: () => undefined } as never, for: { generation: 1 } });
    return { mints, mint, settled, memories, request };
  }

  it('a replica off the lease starts no call: the reconcile fails with NotLeaderError', () => {
    const { mints, mint, memories, request } = runner(() => false);
    const memory = memories.get('rc');
    expect(() => mints.start(request('rc'), memory)).toThrow(NotLeaderError);
    expect(memory.mintInFlight).toBeUndefined();
    expect(mint).not.toHaveBeenCalled();
  });

  it('a call that waited for a slot while the lease lapsed is not made, and leaves no failure behind', async () => {
    let allowed = true;
    const { mints, mint, settled, memories, request } = runner(() => allowed);
    mints.start(request('first'), memories.get('first'));
    const second = memories.get('second');
    mints.start(request('second'), second);
    await settle();
    expect(mint).toHaveBeenCalledTimes(1);
    allowed = false;
    // The first call's slot frees (it is forgotten); the second asks the guard again before calling.
    memories.forget('first');
    await settle();
    await settle();
    expect(mint).toHaveBeenCalledTimes(1);
    expect(second.mintInFlight).toBeUndefined();
    expect(second.mintSettled).toBeUndefined();
    expect(settled).toHaveBeenCalledWith('second');
  });
});

describe('configuration', () => {
  it("checks the durations as client-go does", () => {
    expect(timingProblem(TIMING)).toBeUndefined();
    expect(timingProblem({ ...TIMING, leaseDurationMs: 10_000 })).toMatch(/lease duration must be greater than the renew deadline/);
    expect(timingProblem({ ...TIMING, retryPeriodMs: 9_000 })).toMatch(/renew deadline must be greater than the retry period × 1.2/);
  });

  it('names the holder by pod name, else host name, with a suffix', () => {
    expect(holderIdentity('regcred-operator-7d9f-abcde', 'host', 'x1')).toBe('regcred-operator-7d9f-abcde_x1');
    expect(holderIdentity(undefined, 'host', 'x1')).toBe('host_x1');
    expect(holderIdentity('', 'host', 'x1')).toBe('host_x1');
  });

  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(Date.parse('2025-03-01T10:00:00.007Z'))).toBe('2025-03-01T10:00:00.007000Z');
  });
});
