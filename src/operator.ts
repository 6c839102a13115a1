import type { KubernetesObject } from '@kubernetes/client-node';
import type { OperatorConfig } from './config.js';
import type { KubeConnection } from './kube/connection.js';
import { buildInformer, watchSpecs, type WatchSpec } from './kube/informers.js';
import { SupervisedInformer, type SupervisorTimers } from './controller/supervisor.js';
import type { Logger } from './observability/logger.js';

export interface OperatorDeps {
  conn: KubeConnection;
  config: OperatorConfig;
  log: Logger;
  clock: SupervisorTimers;
}

export class Operator {
  private readonly informers: SupervisedInformer<KubernetesObject>[] = [];
  private running = false;

  constructor(private readonly deps: OperatorDeps) {}

  private supervise<T extends KubernetesObject>(spec: WatchSpec<T>): SupervisedInformer<T> {
    const { conn, log, clock } = this.deps;
    const informer = new SupervisedInformer<T>(
      spec.name,
      (onListed) => buildInformer(conn.kubeConfig, spec, onListed),
      {
        onUpsert: (obj) => log.debug({ informer: spec.name, object: nameOf(obj) }, 'changed'),
        onDelete: (obj) => log.debug({ informer: spec.name, object: nameOf(obj) }, 'deleted'),
      },
      clock,
      log,
    );
    this.informers.push(informer as unknown as SupervisedInformer<KubernetesObject>);
    return informer;
  }

  /** Starts every informer and resolves when all caches have listed once. */
  async start(): Promise<void> {
    const { conn, config, log } = this.deps;
    const specs = watchSpecs(conn.core, conn.custom, config.namespace);
    for (const spec of Object.values(specs) as WatchSpec<KubernetesObject>[]) this.supervise(spec);
    await Promise.all(this.informers.map((i) => i.start()));
    this.running = true;
    const counts = Object.fromEntries(this.informers.map((i) => [i.name, i.cache.list().length]));
    log.info({ cached: counts }, 'caches synced');
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  isLive(): boolean {
    return true;
  }

  isReady(): boolean {
    return this.running && this.informers.every((i) => i.isSynced && i.isHealthy);
  }
}

function nameOf(obj: KubernetesObject): string {
  return obj.metadata?.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : (obj.metadata?.name ?? '?');
}
