import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ApiServerReport } from '../../src/controller/api-server-report.js';
import { RESTART_BASE_MS, RESTART_MAX_MS, restartDelay, SupervisedInformer } from '../../src/controller/supervisor.js';
import type { CachedInformer } from '../../src/kube/informers.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { captureLog } from '../support/log-capture.js';

describe('restartDelay', () => {
  it.each([
    { name: 'first restart', attempt: 1, want: 1000 },
    { name: 'second restart', attempt: 2, want: 2000 },
    { name: 'third restart', attempt: 3, want: 4000 },
    { name: 'fourth restart', attempt: 4, want: 8000 },
    { name: 'fifth restart', attempt: 5, want: 16_000 },
    { name: 'sixth restart', attempt: 6, want: 32_000 },
    { name: 'seventh restart is capped', attempt: 7, want: 60_000 },
    { name: 'far later, still capped', attempt: 50, want: 60_000 },
    { name: 'beyond float range, still capped', attempt: 5000, want: 60_000 },
    { name: 'attempt 0 is treated as the first', attempt: 0, want: 1000 },
    { name: 'a negative attempt is treated as the first', attempt: -3, want: 1000 },
  ])('$name ($attempt → $want ms)', ({ attempt, want }) => {
    expect(restartDelay(attempt)).toBe(want);
  });

  it('uses the exported bounds', () => {
    expect(RESTART_BASE_MS).toBe(1000);
    expect(RESTART_MAX_MS).toBe(60_000);
    expect(restartDelay(1)).toBe(RESTART_BASE_MS);
  });

  it('never decreases and never exceeds the cap', () => {
    let previous = 0;
    for (let attempt = 1; attempt <= 100; attempt++) {
      const delay = restartDelay(attempt);
      expect(delay).toBeGreaterThanOrEqual(previous);
      expect(delay).toBeLessThanOrEqual(RESTART_MAX_MS);
      expect(Number.isFinite(delay)).toBe(true);
      previous = delay;
    }
  });
});

/**
 * A stand-in for client-node's ListWatch, scripted one start at a time: like the real one, a failed
 * list or watch is reported through 'error' before start() resolves, and 'connect' fires before
 * anything is sent.
 */
class ScriptedInformer {
  readonly starts: number[] = [];
  readonly #handlers = new Map<string, ((arg?: unknown) => void)[]>();
  #script: (Error | 'ok' | { throws: Error })[] = [];
  onListed: () => void = () => undefined;

  constructor(private readonly clock: FakeClock) {}

  then(...outcomes: (Error | 'ok' | { throws: Error })[]): this {
    this.#script.push(...outcomes);
    return this;
  }

  on(event: string, cb: (arg?: unknown) => void): void {
    this.#handlers.set(event, [...(this.#handlers.get(event) ?? []), cb]);
  }

  emit(event: string, arg?: unknown): void {
    for (const cb of this.#handlers.get(event) ?? []) cb(arg);
  }

  async start(): Promise<void> {
    this.starts.push(this.clock.now());
    this.emit('connect');
    const outcome = this.#script.shift() ?? 'ok';
    await Promise.resolve();
    if (outcome === 'ok') {
      setImmediate(() => this.onListed());
      return;
    }
    if (outcome instanceof Error) {
      this.emit('error', outcome);
      return;
    }
    throw outcome.throws;
  }

  async stop(): Promise<void> {}

  list(): KubernetesObject[] {
    return [];
  }
}

function refused(): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:40123'), { code: 'ECONNREFUSED' }) });
}

function supervised(name = 'namespaces') {
  const clock = new FakeClock(1_000_000);
  const capture = captureLog();
  const report = new ApiServerReport('https://127.0.0.1:40123 (context test)', capture.log, () => clock.now());
  const fake = new ScriptedInformer(clock);
  const informer = new SupervisedInformer<KubernetesObject>(
    name,
    (onListed) => {
      fake.onListed = onListed;
      return fake as unknown as CachedInformer<KubernetesObject>;
    },
    { onUpsert: () => undefined, onDelete: () => undefined },
    clock,
    capture.log,
    report,
  );
  return { clock, fake, informer, ...capture };
}

/** Fires due restarts and lets the starts they make settle. */
async function advance(clock: FakeClock, ms: number): Promise<void> {
  clock.advance(ms);
  await settle();
  await settle();
}

describe('SupervisedInformer', () => {
  it('keeps retrying a first list the API server refuses, with backoff, and is up once it lists', async () => {
    const { clock, fake, informer, at } = supervised();
    fake.then(refused(), refused(), refused(), 'ok');
    let synced = false;
    void informer.start().then(() => (synced = true));
    await settle();
    expect(informer.isHealthy).toBe(false);
    expect(informer.isSynced).toBe(false);
    await advance(clock, 1000);
    await advance(clock, 2000);
    expect(synced).toBe(false);
    await advance(clock, 4000);
    expect(fake.starts.map((t) => t - 1_000_000)).toEqual([0, 1000, 3000, 7000]);
    expect(synced).toBe(true);
    expect(informer.isHealthy).toBe(true);
    // One error line naming the server, the retries at debug level, and the recovery.
    expect(at('error')).toEqual([expect.objectContaining({ problem: 'unreachable', server: 'https://127.0.0.1:40123 (context test)' })]);
    expect(at('warn')).toEqual([]);
    expect(at('debug').filter((l) => l.msg === 'watch failed; restarting').map((l) => l.retryInMs)).toEqual([1000, 2000, 4000]);
    expect(at('info')).toEqual([expect.objectContaining({ msg: 'the API server answers again' })]);
  });

  it('is not up while a restart is failing, though client-node says "connect" before each', async () => {
    const { clock, fake, informer } = supervised();
    fake.then('ok');
    await informer.start();
    await settle();
    expect(informer.isHealthy).toBe(true);
    fake.then(refused(), refused());
    fake.emit('error', refused());
    expect(informer.isHealthy).toBe(false);
    await advance(clock, 1000);
    expect(fake.starts).toHaveLength(2);
    expect(informer.isHealthy).toBe(false);
    await advance(clock, 2000);
    expect(informer.isHealthy).toBe(false);
    await advance(clock, 4000);
    expect(informer.isHealthy).toBe(true);
  });

  it('warns when a watch that was up drops, and leaves the first retry to say more', async () => {
    const { fake, informer, at } = supervised();
    fake.then('ok');
    await informer.start();
    await settle();
    fake.emit('error', new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
    expect(at('warn')).toEqual([expect.objectContaining({ msg: 'watch failed; restarting', err: 'terminated: other side closed', retryInMs: 1000 })]);
    expect(at('error')).toEqual([]);
  });

  it('retries a start that throws instead of giving up', async () => {
    const { clock, fake, informer, at } = supervised();
    fake.then({ throws: new Error('exec plugin: aws eks get-token failed') }, 'ok');
    let synced = false;
    void informer.start().then(() => (synced = true));
    await settle();
    expect(at('warn')).toEqual([expect.objectContaining({ err: 'exec plugin: aws eks get-token failed' })]);
    await advance(clock, 1000);
    expect(synced).toBe(true);
  });

  it('knows when its pending restart was due, so a timer that never fires can be noticed', async () => {
    const { clock, fake, informer } = supervised();
    fake.then(refused(), 'ok');
    void informer.start();
    await settle();
    expect(informer.restartDueSince).toBe(1_000_000 + 1000);
    await advance(clock, 1000);
    expect(informer.restartDueSince).toBeUndefined();
  });

  it('stops restarting once stopped', async () => {
    const { clock, fake, informer } = supervised();
    fake.then(refused());
    void informer.start();
    await settle();
    await informer.stop();
    expect(informer.restartDueSince).toBeUndefined();
    await advance(clock, 60_000);
    expect(fake.starts).toHaveLength(1);
    expect(informer.isHealthy).toBe(false);
  });
});
