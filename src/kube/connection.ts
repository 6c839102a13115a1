import {
  ApiextensionsV1Api,
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  ServerConfiguration,
  setHeaderMiddleware,
  type ApiType,
  type Configuration,
} from '@kubernetes/client-node';

type ApiConstructor<T extends ApiType> = new (config: Configuration) => T;
import { createHash } from 'node:crypto';
import { closeWithin } from '../close.js';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface KubeConnection {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  events: EventsV1Api;
  apiextensions: ApiextensionsV1Api;
  objects: KubernetesObjectApi;
  /** e.g. "https://127.0.0.1:6443 (context regcred-operator)" */
  describe: string;
  /** Closes the pooled connections to the API server (after the last request). */
  close(): Promise<void>;
}

export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
}

/**
 * Sends `userAgent` with every request of this KubeConfig, API calls and watches alike: the API server's
 * audit log records it, which tells replicas apart that share one ServiceAccount. client-node sets its own
 * in two places: a middleware of the clients makeApiClient builds (rebuilt here the same way, with ours),
 * and the headers of its (private) applyOptions, which watches use. Both are replaced on this instance only.
 */
function setUserAgent(kubeConfig: KubeConfig, userAgent: string): void {
  type Options = { headers?: Record<string, string> };
  const target = kubeConfig as unknown as { applyOptions?: (opts: Options) => Promise<void> };
  const original = target.applyOptions;
  if (typeof original === 'function') {
    target.applyOptions = async (opts) => {
      await original.call(kubeConfig, opts);
      opts.headers = { ...opts.headers, 'User-Agent': userAgent };
    };
  }
  kubeConfig.makeApiClient = <T extends ApiType>(apiClientType: ApiConstructor<T>): T => {
    const server = kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('No active cluster!');
    return new apiClientType(
      createConfiguration({
        baseServer: new ServerConfiguration(server, {}),
        authMethods: { default: kubeConfig },
        middleware: [setHeaderMiddleware('User-Agent', userAgent)],
      }),
    );
  };
}

/**
 * Loads a kubeconfig: an explicit file, else $KUBECONFIG / ~/.kube/config,
 * else the in-cluster ServiceAccount.
 */
export function loadKubeConfig(options: ConnectOptions): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) {
    kc.loadFromFile(options.kubeconfig);
  } else {
    kc.loadFromDefault();
  }
  if (options.context) {
    if (!kc.getContextObject(options.context)) {
      throw new Error(`context "${options.context}" is not in the kubeconfig; it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'}`);
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error('the kubeconfig has no current cluster; pass --kubeconfig and --context, or set KUBECONFIG');
  }
  return kc;
}

/** What client-node's (private) KubeConfig.createDispatcher returns: an undici dispatcher, or undefined for plain HTTP. */
interface Dispatcher {
  close(): Promise<void>;
  destroy(): Promise<void>;
}
type DispatcherFactory = (cluster: unknown, agentOptions: Record<string, unknown>) => Dispatcher | undefined;
/** Distinct TLS identities kept at once: a rotated client certificate gets a new pool, the old one is closed. */
const MAX_POOLS = 4;

/**
 * client-node 2.0 builds a new undici Agent for every API request whose kubeconfig has TLS settings (any
 * CA: always, in a cluster), so no connection is ever reused: each of the thousands of writes in a fan-out
 * pays a TLS handshake and a fresh SecureContext, and the process's native memory grows with them (measured
 * in BENCHMARKS.md). Here every request with the same server and TLS settings shares one Agent, which keeps
 * its connections alive and pools them. Replaces the method on this instance only; the cache key is a
 * digest of the settings, so a rotated client certificate gets a new pool.
 */
function shareConnections(kubeConfig: KubeConfig): () => Promise<void> {
  const target = kubeConfig as unknown as { createDispatcher?: DispatcherFactory };
  const original = target.createDispatcher;
  if (typeof original !== 'function') return () => Promise.resolve();
  const pools = new Map<string, Dispatcher | undefined>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = dispatcherKey(cluster, agentOptions);
    if (pools.has(key)) return pools.get(key);
    const dispatcher = original.call(kubeConfig, cluster, agentOptions);
    pools.set(key, dispatcher);
    if (pools.size > MAX_POOLS) {
      const [oldestKey, oldest] = pools.entries().next().value!;
      pools.delete(oldestKey);
      // Graceful: requests already running on it finish first.
      void oldest?.close().catch(() => undefined);
    }
    return dispatcher;
  };
  return async () => {
    const open = [...pools.values()];
    pools.clear();
    await Promise.all(open.map((d) => (d ? closeWithin(d) : Promise.resolve())));
  };
}

function dispatcherKey(cluster: unknown, agentOptions: Record<string, unknown>): string {
  const hash = createHash('sha256');
  const c = (cluster ?? {}) as { server?: string; proxyUrl?: string; skipTLSVerify?: boolean };
  hash.update(JSON.stringify([c.server, c.proxyUrl, c.skipTLSVerify]));
  for (const name of Object.keys(agentOptions).sort()) {
    const value = agentOptions[name];
    if (value === undefined) continue;
    hash.update(`\0${name}=`);
    hash.update(Buffer.isBuffer(value) ? value : JSON.stringify(value));
  }
  return hash.digest('hex');
}

export function connect(kubeConfig: KubeConfig, options: { userAgent?: string } = {}): KubeConnection {
  const close = shareConnections(kubeConfig);
  if (options.userAgent) setUserAgent(kubeConfig, options.userAgent);
  return {
    close,
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    events: kubeConfig.makeApiClient(EventsV1Api),
    apiextensions: kubeConfig.makeApiClient(ApiextensionsV1Api),
    objects: KubernetesObjectApi.makeApiClient(kubeConfig),
    describe: `${kubeConfig.getCurrentCluster()?.server ?? '?'} (context ${kubeConfig.getCurrentContext()})`,
  };
}

/**
 * Whether a cluster is configured at all: a kubeconfig with a current context,
 * or the in-cluster environment. `regcred start` uses it to decide whether to
 * start a local control plane.
 */
export function hasConfiguredCluster(env: NodeJS.ProcessEnv): boolean {
  if (env.KUBERNETES_SERVICE_HOST && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return true;
  const files = env.KUBECONFIG ? env.KUBECONFIG.split(':').filter(Boolean) : [join(homedir(), '.kube', 'config')];
  if (!files.some((f) => existsSync(f))) return false;
  try {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return Boolean(kc.getCurrentContext()) && Boolean(kc.getCurrentCluster());
  } catch {
    return false;
  }
}
