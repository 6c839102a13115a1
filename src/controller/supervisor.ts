import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import type { CachedInformer } from '../kube/informers.js';

export interface SupervisorTimers {
  setTimeout(fn: () => void, ms: number): unknown;
}

export interface ObjectHandlers<T extends KubernetesObject> {
  onUpsert(obj: T): void;
  onDelete(obj: T): void;
}

export const RESTART_BASE_MS = 1000;
export const RESTART_MAX_MS = 60_000;

/** Delay before the nth restart (n from 1): doubling from 1 s, capped at 60 s. */
export function restartDelay(attempt: number): number {
  return Math.min(RESTART_BASE_MS * 2 ** Math.max(0, attempt - 1), RESTART_MAX_MS);
}

/**
 * Keeps one client-node informer running. A client-node informer stops for
 * good after most errors (all but 410 Gone); this restarts it with backoff, and
 * reports it unhealthy while it is down.
 */
export class SupervisedInformer<T extends KubernetesObject> {
  private listedOnce = false;
  private healthy = false;
  private stopped = false;
  private failures = 0;
  private firstList: Promise<void>;
  private markFirstList!: () => void;

  constructor(
    readonly name: string,
    private readonly build: (onListed: () => void) => CachedInformer<T>,
    private readonly handlers: ObjectHandlers<T>,
    private readonly timers: SupervisorTimers,
    private readonly log: Logger,
  ) {
    this.firstList = new Promise((resolve) => (this.markFirstList = resolve));
    this.informer = this.build(() => this.onListed());
    this.informer.on('add', (obj) => this.handlers.onUpsert(obj));
    this.informer.on('update', (obj) => this.handlers.onUpsert(obj));
    this.informer.on('delete', (obj) => this.handlers.onDelete(obj));
    // Registered before start(): an error before it would otherwise be lost.
    this.informer.on('error', (err: unknown) => this.onError(err));
    this.informer.on('connect', () => {
      if (this.listedOnce) this.healthy = true;
    });
  }

  private readonly informer: CachedInformer<T>;

  get cache(): CachedInformer<T> {
    return this.informer;
  }

  get isSynced(): boolean {
    return this.listedOnce;
  }

  get isHealthy(): boolean {
    return this.healthy && !this.stopped;
  }

  /** Starts watching; resolves once the first list has filled the cache. */
  async start(): Promise<void> {
    await this.informer.start();
    await this.firstList;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  private onListed(): void {
    this.failures = 0;
    this.healthy = true;
    if (!this.listedOnce) {
      this.listedOnce = true;
      this.log.debug({ informer: this.name, objects: this.informer.list().length }, 'cache synced');
      this.markFirstList();
    }
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    this.healthy = false;
    this.failures += 1;
    const delay = restartDelay(this.failures);
    this.log.warn({ informer: this.name, err: describeError(err), retryInMs: delay }, 'watch failed; restarting');
    this.timers.setTimeout(() => {
      if (this.stopped) return;
      this.informer.start().catch((startErr: unknown) => this.onError(startErr));
    }, delay);
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  const e = err as { code?: number; body?: unknown };
  return e?.code ? `HTTP ${e.code}` : String(err);
}
