import { ApiException, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { kubeRequest } from './raw.js';

/**
 * How the operator lists and watches, as client-go's reflector does it rather than as client-node's
 * makeInformer does:
 *
 * - **Paginated lists** (`limit`/`continue`, 500 a page): at 20,000 namespaces a list is 40 answers of
 *   500 objects instead of one body of all of them, so neither the API server nor this process holds the
 *   whole list at once. A continue token that expired mid-list (410) restarts the list from the start.
 * - **Raw JSON**: objects stay as the API server sent them (no client-node model classes, no Date objects),
 *   the same shape whether they came from a list or a watch event.
 * - **A transform** (src/kube/transforms.ts) runs on every object before it is cached: what the reconcile
 *   never reads is dropped there, so it is never held.
 * - **Bookmarks**: watches ask for `allowWatchBookmarks`, so the resourceVersion advances even when
 *   nothing we watch changes, and ask the server to end them after 5–10 minutes (`timeoutSeconds`, as
 *   client-go picks it). A watch that ends, times out or fails is resumed from the last resourceVersion;
 *   only a 410 (the server no longer has that version) costs a relist, and each is counted.
 */

/** Objects per list page (client-go's reflector pages by 500). */
export const LIST_PAGE_SIZE = 500;
/** The server ends each watch after a random 5–10 minutes (client-go's minWatchTimeout × (1 + rand)). */
export const MIN_WATCH_TIMEOUT_SECONDS = 300;
/**
 * A watch that brought nothing, not even a bookmark, for this long is taken for dead and resumed. The API
 * server sends a bookmark about every minute to a watch that asked for them, and one just before its
 * timeoutSeconds ends it.
 */
export const WATCH_IDLE_TIMEOUT_MS = 150_000;

/** What one informer's list/watch did since start: read at scrape time as counters. */
export interface ListWatchStats {
  /** Full lists, the first one included. */
  lists: number;
  /** Lists after the first: a watch that could not resume (410 Gone). */
  relists: number;
  /** List pages fetched. */
  pages: number;
  /** Watch requests made (each resume is one). */
  watches: number;
  /** Bookmark events received. */
  bookmarks: number;
  /** Continue tokens that expired in the middle of a list, restarting it. */
  expiredContinues: number;
}

export function emptyStats(): ListWatchStats {
  return { lists: 0, relists: 0, pages: 0, watches: 0, bookmarks: 0, expiredContinues: 0 };
}

/** How watches are made; the defaults are the operator's. Tests and the benchmark change them (docs/reference.md, Environment). */
export interface WatchOptions {
  /** Ask for bookmarks (default true). Off only to measure what they save. */
  bookmarks?: boolean;
  /** A fixed server-side timeout instead of a random 5–10 minutes: to end watches often in a test. */
  timeoutSeconds?: number;
  /** Cache objects whole, as sent (default false). Only for the benchmark to measure what the transforms save. */
  untransformed?: boolean;
}

export interface ListWatchSpec<T extends KubernetesObject> {
  name: string;
  /** The collection's path, e.g. `/api/v1/secrets`. */
  path: string;
  labelSelector?: string;
  /** Turns an object as the API server sent it into what is cached. Must not throw. */
  transform: (raw: KubernetesObject) => T;
}

interface ListPage {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubernetesObject[];
}

function isGone(err: unknown): boolean {
  return err instanceof ApiException && err.code === 410;
}

/**
 * One complete list, page by page, each object transformed as it arrives. Consistent across pages: every
 * page after the first is served at the first page's resourceVersion through the continue token.
 */
export async function pagedList<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  spec: ListWatchSpec<T>,
  stats: ListWatchStats,
  pageSize = LIST_PAGE_SIZE,
): Promise<KubernetesListObject<T>> {
  for (;;) {
    const items: T[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    try {
      do {
        const page = await kubeRequest<ListPage>(kubeConfig, {
          method: 'GET',
          path: spec.path,
          query: { limit: String(pageSize), labelSelector: spec.labelSelector, continue: token },
        });
        stats.pages += 1;
        for (const item of page.items ?? []) items.push(spec.transform(item));
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        token = page.metadata?.continue || undefined;
      } while (token);
    } catch (err) {
      // The continue token outlived the server's compaction window: start again from a fresh first page.
      if (token && isGone(err)) {
        stats.expiredContinues += 1;
        continue;
      }
      throw err;
    }
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion }, items };
  }
}

type WatchCallback = (phase: string, apiObj: any, watchObj?: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
type WatchDone = (err: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * client-node's Watch with bookmarks and a server-side timeout, transforming each object before the
 * ListWatch caches it. ListWatch keeps the resourceVersion of every event, bookmarks included, and
 * resumes from it.
 */
class BookmarkWatch extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly spec: ListWatchSpec<KubernetesObject>,
    private readonly stats: ListWatchStats,
    private readonly random: () => number,
    private readonly options: WatchOptions,
  ) {
    super(kubeConfig);
    // client-node's inactivity timeout (30 s, private) would end a quiet watch before its first bookmark.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_IDLE_TIMEOUT_MS;
  }

  override watch(path: string, queryParams: Record<string, any>, callback: WatchCallback, done: WatchDone): Promise<AbortController> { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.stats.watches += 1;
    const params = {
      ...queryParams,
      allowWatchBookmarks: this.options.bookmarks ?? true,
      timeoutSeconds: this.options.timeoutSeconds ?? Math.floor(MIN_WATCH_TIMEOUT_SECONDS * (1 + this.random())),
    };
    const transformed: WatchCallback = (phase, apiObj, watchObj) => {
      if (phase === 'BOOKMARK') {
        this.stats.bookmarks += 1;
        callback(phase, apiObj, watchObj);
        return;
      }
      if (phase === 'ERROR' || !apiObj || typeof apiObj !== 'object') {
        callback(phase, apiObj, watchObj);
        return;
      }
      callback(phase, this.spec.transform(apiObj as KubernetesObject));
    };
    return super.watch(path, params, transformed, done);
  }
}

export type CachedInformer<T extends KubernetesObject> = ListWatch<T>;

/**
 * A ListWatch (client-node's cache and event fan-out) fed by paginated, transformed lists and resumable
 * bookmark watches. `onListed` runs after each complete list has filled the cache.
 */
export function listWatch<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  spec: ListWatchSpec<T>,
  onListed: () => void,
  stats: ListWatchStats = emptyStats(),
  options: WatchOptions = {},
  random: () => number = Math.random,
): CachedInformer<T> {
  const list = async (): Promise<KubernetesListObject<T>> => {
    const result = await pagedList(kubeConfig, spec, stats);
    // Counted once complete: a list that failed and was tried again is one list, not a relist.
    stats.lists += 1;
    if (stats.lists > 1) stats.relists += 1;
    // The ListWatch fills its cache right after this promise settles; a macrotask runs after that.
    setImmediate(onListed);
    return result;
  };
  const watch = new BookmarkWatch(kubeConfig, spec, stats, random, options);
  return new ListWatch<T>(spec.path, watch, list, false, spec.labelSelector);
}
