import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import type { CachedInformer } from '../kube/informers.js';
import { describeApiError } from '../kube/reachability.js';
import type { ApiServerReport } from './api-server-report.js';

export interface SupervisorTimers {
  now(): number;
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
 *
 * Up means a start got through: its list (if it needed one) and its watch request were answered
 * without an error. client-node reports a failed list or watch through 'error' before `start()`
 * resolves, and its 'connect' event fires before either is even sent, so it is not a sign of health.
 */
export class SupervisedInformer<T extends KubernetesObject> {
  private listedOnce = false;
  private healthy = false;
  private stopped = false;
  private failures = 0;
  /** Errors so far: a start attempt that saw none got through. */
  private errors = 0;
  /** When the pending restart is due (clock ms); undefined when none is pending. */
  private restartDueAt: number | undefined;
  private firstList: Promise<void>;
  private markFirstList!: () => void;

  constructor(
    readonly name: string,
    private readonly build: (onListed: () => void) => CachedInformer<T>,
    private readonly handlers: ObjectHandlers<T>,
    private readonly timers: SupervisorTimers,
    private readonly log: Logger,
    /** Says once why the API server cannot be listed from (unreachable, 401, 403…); optional. */
    private readonly report?: ApiServerReport,
  ) {
    this.firstList = new Promise((resolve) => (this.markFirstList = resolve));
    this.informer = this.build(() => this.onListed());
    this.informer.on('add', (obj) => this.handlers.onUpsert(obj));
    this.informer.on('update', (obj) => this.handlers.onUpsert(obj));
    this.informer.on('delete', (obj) => this.handlers.onDelete(obj));
    // Registered before start(): an error before it would otherwise be lost.
    this.informer.on('error', (err: unknown) => this.onError(err));
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

  /**
   * When a restart that is still pending was due (clock ms), or undefined when none is pending. Long
   * past due means the timer that should have run it never fired: the supervisor is wedged.
   */
  get restartDueSince(): number | undefined {
    return this.stopped ? undefined : this.restartDueAt;
  }

  /** Starts watching; resolves once the first list has filled the cache, however many restarts that takes. */
  async start(): Promise<void> {
    this.attempt();
    await this.firstList;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  /** One start of the informer; a failure, reported or thrown, schedules the next. */
  private attempt(): void {
    const errorsBefore = this.errors;
    this.informer.start().then(
      () => {
        if (!this.stopped && this.errors === errorsBefore) this.up();
      },
      (err: unknown) => this.onError(err),
    );
  }

  private up(): void {
    this.failures = 0;
    this.healthy = true;
    this.report?.answered(this.name);
  }

  private onListed(): void {
    if (this.stopped) return;
    this.up();
    if (!this.listedOnce) {
      this.listedOnce = true;
      this.log.debug({ informer: this.name, objects: this.informer.list().length }, 'cache synced');
      this.markFirstList();
    } else {
      // A watch resumes from its last resourceVersion; a list after the first means the server no longer had it (410).
      this.log.info({ informer: this.name, objects: this.informer.list().length }, 'cache relisted: the watch could not resume from its resourceVersion');
    }
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    this.errors += 1;
    // A watch that was up and dropped is routine (an API server restart, a load balancer); a start
    // that fails says something about the server, which the report explains once for all informers.
    const wasUp = this.healthy;
    this.healthy = false;
    this.failures += 1;
    const delay = restartDelay(this.failures);
    const explained = !wasUp && this.report !== undefined && this.report.failed(this.name, err, delay, this.failures);
    const fields = { informer: this.name, err: describeApiError(err), retryInMs: delay };
    if (explained) this.log.debug(fields, 'watch failed; restarting');
    else this.log.warn(fields, 'watch failed; restarting');
    const dueAt = this.timers.now() + delay;
    this.restartDueAt = dueAt;
    this.timers.setTimeout(() => {
      if (this.restartDueAt === dueAt) this.restartDueAt = undefined;
      if (this.stopped) return;
      this.attempt();
    }, delay);
  }
}
