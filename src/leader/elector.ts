/**
 * Leader election with client-go's semantics (k8s.io/client-go/tools/leaderelection): one replica holds
 * the Lease and renews it every retry period; the others read it every retry period (jittered) and
 * take it only once it has gone unrenewed for a whole lease duration *as they observed it*: the time a
 * follower last saw the record change, on its own monotonic clock, never the holder's renewTime, so
 * clock skew between nodes cannot shorten a lease. A leader that cannot renew within the renew
 * deadline has lost; one that stops releases the Lease (holder cleared, duration 1 s) so another
 * replica takes over within a retry period instead of a lease duration. See docs/adr/0009.
 */
import type { Clock, TimerHandle } from '../controller/clock.js';
import type { Logger } from '../observability/logger.js';
import { microTime, type LeaderElectionRecord, type LeaseLock } from './lease-lock.js';
import { JITTER_FACTOR, type ElectionTiming } from './timing.js';

export interface ElectorDeps {
  lock: LeaseLock;
  /** This process: the pod name and a random suffix (holderIdentity). */
  identity: string;
  timing: ElectionTiming;
  /** Timers, and the wall-clock times written into the record (acquireTime, renewTime). */
  clock: Clock;
  /** Milliseconds on a clock that never jumps (performance.now()): every duration the election measures. */
  monotonic: () => number;
  random: () => number;
  log: Logger;
  /** This process now leads: start the work. */
  onStartedLeading(): void;
  /** Leading or not, whenever that changes (the regcred_leader gauge). */
  onLeading?(leading: boolean): void;
}

export type ElectionEnd = 'stopped' | 'lost';

export class LeaderElector {
  #observed: LeaderElectionRecord | undefined;
  /** The record as last read, to tell a change (client-go compares the raw record). */
  #observedRaw: string | undefined;
  /** Monotonic ms when the record last changed, as this process saw it. */
  #observedAt = 0;
  /** Monotonic ms when the last successful acquire or renew was sent: the lease is ours from there on. */
  #renewedAt: number | undefined;
  #leading = false;
  #lost = false;
  #stopped = false;
  /** Ends the current pause at once (stop). */
  #wake: (() => void) | undefined;
  #attempt: Promise<boolean> | undefined;
  #running: Promise<ElectionEnd> | undefined;
  #reportedLeader: string | undefined;

  constructor(private readonly deps: ElectorDeps) {}

  get identity(): string {
    return this.deps.identity;
  }

  /** The record this process last read or wrote. */
  get observed(): LeaderElectionRecord | undefined {
    return this.#observed;
  }

  /** This process holds the lease by what it observed (client-go's IsLeader), and has not lost or released it. */
  isLeader(): boolean {
    return !this.#lost && this.#observed?.holderIdentity === this.deps.identity;
  }

  /**
   * Fencing: the lease is ours by the local monotonic clock, with `marginMs` to spare. Measured from when
   * the last successful renew was *sent*: every other replica observed that renew later than that, so
   * none can take the lease before this returns false. False as soon as leadership is lost.
   */
  holdsLease(marginMs: number): boolean {
    if (!this.#leading || !this.isLeader() || this.#renewedAt === undefined) return false;
    return this.deps.monotonic() < this.#renewedAt + this.deps.timing.leaseDurationMs - marginMs;
  }

  /** Runs the election until stopped ('stopped') or until leadership, once held, is lost ('lost'). */
  run(): Promise<ElectionEnd> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<ElectionEnd> {
    const { timing, random, log, lock } = this.deps;
    log.info({ identity: this.deps.identity, lease: lock.describe }, 'waiting to become leader');
    while (!this.#stopped && !(await this.#try(this.deps.monotonic() + timing.renewDeadlineMs))) {
      // client-go's wait.JitterUntil: the retry period plus up to 1.2 times it.
      await this.#pause(timing.retryPeriodMs * (1 + random() * JITTER_FACTOR));
    }
    if (this.#stopped) return 'stopped';
    this.#setLeading(true);
    log.info({ identity: this.deps.identity, lease: lock.describe, leaseTransitions: this.#observed?.leaseTransitions }, 'became leader');
    this.deps.onStartedLeading();
    for (;;) {
      await this.#pause(timing.retryPeriodMs);
      if (this.#stopped) return 'stopped';
      if (!(await this.#renew())) {
        if (this.#stopped) return 'stopped';
        this.#lost = true;
        this.#setLeading(false);
        log.error(
          { identity: this.deps.identity, lease: lock.describe, renewDeadlineSeconds: timing.renewDeadlineMs / 1000 },
          'lost leadership: the lease could not be renewed within the renew deadline',
        );
        return 'lost';
      }
    }
  }

  /** One renew round (client-go's renew): try every retry period until one succeeds or the renew deadline passes. */
  async #renew(): Promise<boolean> {
    const { monotonic, timing } = this.deps;
    const deadline = monotonic() + timing.renewDeadlineMs;
    for (;;) {
      if (await this.#try(deadline)) return true;
      const left = deadline - monotonic();
      if (left <= 0 || this.#stopped) return false;
      await this.#pause(Math.min(timing.retryPeriodMs, left));
    }
  }

  /** tryAcquireOrRenew, given up (as false) at `deadline`. */
  async #try(deadline: number): Promise<boolean> {
    const attempt = this.tryAcquireOrRenew();
    this.#attempt = attempt;
    const left = Math.max(0, deadline - this.deps.monotonic());
    let timer: TimerHandle | undefined;
    const expired = new Promise<false>((resolve) => (timer = this.deps.clock.setTimeout(() => resolve(false), left)));
    try {
      const ok = await Promise.race([attempt, expired]);
      this.#reportLeader();
      return ok;
    } finally {
      if (timer) this.deps.clock.clearTimeout(timer);
    }
  }

  /**
   * client-go's tryAcquireOrRenew: true when this process holds the lease afterwards; a failed request
   * (a conflict: someone else wrote first) is false. Exposed for tests; run() is what calls it.
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    try {
      return await this.#tryAcquireOrRenew();
    } catch (err) {
      this.deps.log.debug({ err: (err as Error).message, lease: this.deps.lock.describe }, 'could not acquire or renew the lease');
      return false;
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { lock, identity, timing, monotonic, clock } = this.deps;
    // Taken before any request: whatever another replica observes of our write, it observes later.
    const sentAt = monotonic();
    const now = microTime(clock.now());
    const record: LeaderElectionRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(timing.leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };

    // 1. The leader renews optimistically, assuming the Lease is still the version it wrote last.
    if (this.isLeader() && this.#leaseValid(sentAt) && this.#observed) {
      const renewed = { ...record, acquireTime: this.#observed.acquireTime, leaseTransitions: this.#observed.leaseTransitions };
      try {
        await lock.update(renewed);
        return this.#wrote(renewed, sentAt);
      } catch (err) {
        this.deps.log.debug({ err: (err as Error).message }, 'optimistic lease renewal failed; reading the Lease');
      }
    }

    // 2. Read the Lease; create it when there is none.
    const current = await lock.get();
    if (!current) {
      await lock.create(record);
      return this.#wrote(record, sentAt);
    }

    // 3. Someone else's, and not expired by our observation: wait.
    const raw = JSON.stringify(current);
    if (raw !== this.#observedRaw) {
      this.#observed = current;
      this.#observedRaw = raw;
      this.#observedAt = monotonic();
    }
    if (current.holderIdentity !== '' && this.#leaseValid(monotonic()) && !this.isLeader()) return false;

    // 4. Ours to renew, expired, or released: write it with the resourceVersion just read as precondition.
    const next: LeaderElectionRecord = this.isLeader()
      ? { ...record, acquireTime: current.acquireTime, leaseTransitions: current.leaseTransitions }
      : { ...record, leaseTransitions: current.leaseTransitions + 1 };
    await lock.update(next);
    return this.#wrote(next, sentAt);
  }

  /** Stops the election; a leader releases the Lease, so a follower takes over within a retry period. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    // An attempt in flight may still write the Lease: the release must come after it, not race it
    // (bounded: a request that never answers must not hold up the shutdown).
    await this.#within(Promise.all([this.#attempt, this.#running]), this.deps.timing.renewDeadlineMs);
    if (!this.isLeader()) return;
    await this.release();
  }

  /** client-go's release: holder cleared, duration 1 s, transitions kept. False when it could not be written. */
  async release(): Promise<boolean> {
    if (!this.isLeader() || !this.#observed) return true;
    const now = microTime(this.deps.clock.now());
    const record: LeaderElectionRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: this.#observed.leaseTransitions,
    };
    try {
      await this.deps.lock.update(record);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, lease: this.deps.lock.describe }, 'could not release the lease; another replica takes over once it expires');
      return false;
    }
    this.#observed = record;
    this.#observedRaw = JSON.stringify(record);
    this.#observedAt = this.deps.monotonic();
    this.#setLeading(false);
    this.deps.log.info({ identity: this.deps.identity, lease: this.deps.lock.describe }, 'released the lease');
    return true;
  }

  #wrote(record: LeaderElectionRecord, sentAt: number): true {
    this.#observed = record;
    this.#observedRaw = JSON.stringify(record);
    this.#observedAt = this.deps.monotonic();
    this.#renewedAt = sentAt;
    return true;
  }

  /** client-go's isLeaseValid: observed within the observed record's lease duration. */
  #leaseValid(now: number): boolean {
    return this.#observedAt + (this.#observed?.leaseDurationSeconds ?? 0) * 1000 > now;
  }

  /** "leader is X" when the holder this process sees changes to another replica. */
  #reportLeader(): void {
    const holder = this.#observed?.holderIdentity;
    if (holder === undefined || holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    if (holder !== '' && holder !== this.deps.identity) this.deps.log.info({ leader: holder, lease: this.deps.lock.describe }, `leader is ${holder}`);
  }

  #setLeading(leading: boolean): void {
    if (this.#leading === leading) return;
    this.#leading = leading;
    try {
      this.deps.onLeading?.(leading);
    } catch {
      // Observation is best effort.
    }
  }

  async #within(promise: Promise<unknown>, ms: number): Promise<void> {
    let timer: TimerHandle | undefined;
    await Promise.race([promise, new Promise<void>((resolve) => (timer = this.deps.clock.setTimeout(resolve, ms)))]);
    if (timer) this.deps.clock.clearTimeout(timer);
  }

  #pause(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.deps.clock.setTimeout(resolve, ms);
      this.#wake = () => {
        this.deps.clock.clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** The Lease the replicas of one installation compete for, in the operator's namespace. */
export const LEASE_NAME = 'regcred-operator';

/**
 * holderIdentity: the pod's name ($POD_NAME from the downward API, else the host name, which is the pod
 * name in a pod too) and a random suffix, so a restarted container never mistakes its predecessor's
 * lease for its own.
 */
export function holderIdentity(podName: string | undefined, hostname: string, suffix: string): string {
  return `${podName || hostname}_${suffix}`;
}
