/**
 * Objects this operator just wrote, remembered until its informer has seen
 * them. Without it, a reconcile that runs before the watch event arrives
 * reads a stale cache and, for example, takes its own new Secret for someone
 * else's (create → 409 AlreadyExists) or re-patches a ServiceAccount. This is
 * the idea of client-go's MutationCache, reduced to what we need.
 */
export interface Versioned {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
}

export interface MutationCacheOptions {
  now: () => number;
  /** After this long an entry is dropped even if no event came: the informer is then the truth. */
  ttlMs?: number;
  /**
   * The resourceVersion the informer's cache holds for an object, if any. A write whose answer comes back
   * after its own watch event (the two travel on different streams) finds the cache already at its version:
   * it is not remembered then, since no later event would ever clear it.
   */
  cachedVersion?: (namespace: string | undefined, name: string) => string | undefined;
}

/** How long `roomFor` waits for the watch at most once nothing of ours shows up in it any more (ms). */
export const WATCH_STALL_MS = 1_000;
const WAIT_STEP_MS = 5;

interface Entry<T> {
  object: T | null;
  resourceVersion: string | undefined;
  at: number;
}

/** An event that came while a write of its object was on its way, held until the write's answer says whose it was. */
interface Held {
  resourceVersion: string | undefined;
  settle(echo: boolean): void;
}

/** The writes of one object on their way, and the events held for them. */
interface InFlight {
  writes: number;
  held: Held[];
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * How long an event is held at most for the answer of a write on its way. The writer's own timeouts end a
 * write well before; this only keeps a write that never settles from hiding someone else's change for good.
 */
export const HOLD_MAX_MS = 30_000;

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class MutationCache<T extends Versioned> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly ttlMs: number;
  /** When the watch last showed one of our writes. */
  private lastCaughtUpAt = Number.NEGATIVE_INFINITY;
  private readonly inFlight = new Map<string, InFlight>();

  constructor(private readonly options: MutationCacheOptions) {
    this.ttlMs = options.ttlMs ?? 60_000;
  }

  /**
   * A write of this object is on its way: until its answer (`wrote`) or its failure (`writeFailed`), an
   * event for the object that is not already known as ours is held rather than taken for someone else's
   * change (`observed`). The answer and the event travel on different streams, and the event often comes
   * first: a rotation at 20,000 namespaces saw about a quarter of its writes' events before their answers.
   */
  writing(namespace: string | undefined, name: string): void {
    const key = keyOf(namespace, name);
    const flight = this.inFlight.get(key);
    if (flight) flight.writes++;
    else this.inFlight.set(key, { writes: 1, held: [] });
  }

  /** Record the object a write returned. */
  wrote(object: T): void {
    const { namespace, name, resourceVersion } = object.metadata ?? {};
    if (!name) return;
    const key = keyOf(namespace, name);
    // Its event came before it (held), or the cache already shows it: no later event would clear it.
    if (this.landed(key, resourceVersion) || isAtLeast(this.options.cachedVersion?.(namespace, name), resourceVersion)) {
      this.entries.delete(key);
      return;
    }
    this.entries.set(key, { object, resourceVersion, at: this.options.now() });
  }

  /** A write announced with `writing` failed: an event held for it was someone else's. */
  writeFailed(namespace: string | undefined, name: string): void {
    this.landed(keyOf(namespace, name), undefined);
  }

  /**
   * One write of the object has its answer (its resourceVersion; undefined if it failed): settles the held
   * events it explains, and says whether one showed it.
   */
  private landed(key: string, resourceVersion: string | undefined): boolean {
    const flight = this.inFlight.get(key);
    if (!flight) return false;
    flight.writes--;
    let seen = false;
    flight.held = flight.held.filter((h) => {
      if (resourceVersion === undefined || h.resourceVersion !== resourceVersion) return true;
      h.settle(true);
      seen = true;
      return false;
    });
    if (seen) this.lastCaughtUpAt = this.options.now();
    if (flight.writes === 0) this.release(key, flight);
    return seen;
  }

  /** No write of the object is on its way any more: every event still held was someone else's change. */
  private release(key: string, flight: InFlight): void {
    this.inFlight.delete(key);
    if (flight.timer) clearTimeout(flight.timer);
    for (const h of flight.held) h.settle(false);
  }

  /** Record a delete the API server accepted. */
  deleted(namespace: string | undefined, name: string): void {
    this.entries.set(keyOf(namespace, name), { object: null, resourceVersion: undefined, at: this.options.now() });
  }

  /**
   * The informer delivered an event for this object: once it shows our write (or anything newer), forget ours.
   * True when the event is the echo of our own last write, exactly: the object as we wrote it (same
   * resourceVersion), or the delete we made. The view showed that state already, so it changes nothing a
   * reconcile reads. When it is not known as ours but a write of the object is on its way (`writing`), the
   * answer is a promise, settled when that write's answer says whether the event showed it.
   */
  observed(namespace: string | undefined, name: string, resourceVersion: string | undefined, deleted: boolean): boolean | Promise<boolean> {
    const key = keyOf(namespace, name);
    const echo = this.echo(key, resourceVersion, deleted);
    const flight = echo || deleted ? undefined : this.inFlight.get(key);
    if (!flight) return echo;
    return new Promise<boolean>((settle) => {
      flight.held.push({ resourceVersion, settle });
      if (!flight.timer) {
        flight.timer = setTimeout(() => this.release(key, flight), HOLD_MAX_MS);
        flight.timer.unref?.();
      }
    });
  }

  private echo(key: string, resourceVersion: string | undefined, deleted: boolean): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    // Our delete is seen only with the delete event: watch events arrive in order, so an update
    // before it is a stale one and must not bring the object back into view. Our write is seen with an
    // event at least as new, an update or a delete of it; a delete older than our write is the delete of
    // the object ours replaced (another credential's Secret, deleted as that credential went, then ours
    // created under the same name before the watch showed the delete). Forgetting ours then would show
    // the name as free until our create's event came, and a cleanup reading the view in between would
    // take an entry naming our Secret for nobody's.
    const caughtUp =
      entry.object === null ? deleted : isAtLeast(resourceVersion, entry.resourceVersion) || (deleted && resourceVersion === undefined);
    if (caughtUp) {
      this.entries.delete(key);
      this.lastCaughtUpAt = this.options.now();
    }
    return deleted ? entry.object === null : entry.object !== null && resourceVersion !== undefined && resourceVersion === entry.resourceVersion;
  }

  /**
   * The freshest view: our write if the informer has not caught up, else the cached object.
   * `null` means "we deleted it"; undefined means "no fresher knowledge than the cache".
   */
  read(namespace: string | undefined, name: string, cached: T | undefined): T | undefined {
    // The common case by far (nothing written lately), and a reconcile reads every object it targets.
    if (this.entries.size === 0) return cached;
    const key = keyOf(namespace, name);
    const entry = this.entries.get(key);
    if (!entry) return cached;
    const cacheCaughtUp = entry.object !== null && cached !== undefined && isAtLeast(cached.metadata?.resourceVersion, entry.resourceVersion);
    if (this.options.now() - entry.at > this.ttlMs || cacheCaughtUp) {
      this.entries.delete(key);
      return cached;
    }
    return entry.object ?? undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Resolves once at most `limit` of our writes are still waiting for their watch event, or at once when
   * the watch has shown none of them for WATCH_STALL_MS (it is down or relisting: the entries' TTL is then
   * what clears them, and waiting would only stall the writes). A fan-out or a rotation waits here before
   * each write, so that a watch slower than its writes (a loaded API server) never makes this hold more
   * than `limit` written objects, each beside its old version in the informer's cache.
   */
  async roomFor(limit: number): Promise<void> {
    while (this.entries.size > limit && this.options.now() - this.lastCaughtUpAt < WATCH_STALL_MS) {
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }
}

/**
 * resourceVersions are opaque by contract, but every API server backed by
 * etcd issues increasing integers; when both parse as integers we compare
 * them, otherwise only equality counts.
 */
export function isAtLeast(seen: string | undefined, ours: string | undefined): boolean {
  if (seen === undefined || ours === undefined) return false;
  if (seen === ours) return true;
  return /^\d+$/.test(seen) && /^\d+$/.test(ours) && BigInt(seen) >= BigInt(ours);
}
