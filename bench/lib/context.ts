import type { BenchOptions } from './args.js';
import type { Clients, PullCredential } from './kube.js';
import { OperatorProcess } from './operator.js';

/** Names the benchmark uses. */
export const CREDENTIAL_NAME = 'bench';
export const SOURCE_SECRET = 'bench-source';
export const FLOOR_SECRET = 'bench-floor';
export const CRONJOB_SECRET = 'bench-cronjob';
export const REGISTRY = 'registry.bench.example:5000';

/** What every scenario shares: one control plane for the whole run. */
export interface BenchContext {
  root: string;
  /** A copy of dist/ taken right after the build, so a rebuild during the run cannot change the operator under test. */
  operatorDist: string;
  options: BenchOptions;
  /** Control plane state directory (absolute); operator and script logs go here too. */
  dir: string;
  kubeconfig: string;
  auditLog: string;
  admin: Clients;
  /** The operator's own RBAC identity (regcred-operator context): the floor client writes as it. */
  operatorIdentity: Clients;
  /** A kubeconfig for the CronJob script's own ServiceAccount. */
  cronjobKubeconfig: string;
  /** The credential the source Secret holds now (rotation changes the password). */
  credential: PullCredential;
  operators: Set<OperatorProcess>;
  /** NODE_OPTIONS of the shipped Deployment (bench/lib/deployment.ts), given to every operator started. */
  operatorNodeOptions: string;
  /**
   * Environment every operator started at this size gets, below what a scenario passes: the local Google token
   * endpoint of the workload's credential (bench/scenarios/refresh.ts), set before the fan-out and cleared with it.
   */
  sizeEnv: NodeJS.ProcessEnv;
}

export function startOperator(ctx: BenchContext, label: string, logLevel: 'info' | 'debug' = 'info', extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): OperatorProcess {
  const op = new OperatorProcess({
    distDir: ctx.operatorDist,
    kubeconfig: ctx.kubeconfig,
    logDir: ctx.dir,
    label,
    logLevel,
    extraArgs,
    nodeArgs: ctx.options.nodeArgs,
    env: { NODE_OPTIONS: ctx.operatorNodeOptions, ...ctx.options.operatorEnv, ...ctx.sizeEnv, ...env },
  });
  ctx.operators.add(op);
  void op.exited.then(() => ctx.operators.delete(op));
  return op;
}

/** Timeouts grow with the number of namespaces; every wait in the benchmark is bounded by one of these. */
export function timeoutFor(base: number, perNamespaceMs: number, namespaces: number): number {
  return base + perNamespaceMs * namespaces;
}
