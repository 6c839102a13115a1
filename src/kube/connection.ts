import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
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
}

export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
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

export function connect(kubeConfig: KubeConfig): KubeConnection {
  return {
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
