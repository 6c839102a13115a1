/**
 * helm (built by .ci/run, see test/support/tools.ts) on charts/regcred-operator, with its own state
 * directories so that tests never read or write ~/.config/helm or ~/.cache/helm.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadAll } from 'js-yaml';
import { runTool, type ToolResult } from './tools.js';

export const CHART_DIR = resolve(import.meta.dirname, '..', '..', 'charts', 'regcred-operator');

let helmHome: string | undefined;

function helmEnv(): NodeJS.ProcessEnv {
  helmHome ??= mkdtempSync(join(tmpdir(), 'regcred-helm-home-'));
  return {
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
}

/**
 * The Kubernetes version of the local control plane (controlplane/go.mod), for helm template and lint:
 * a helm built with `go install` lacks the release build's ldflags and would assume v1.20.
 */
export const KUBE_VERSION = /^\s*k8s\.io\/kubernetes v(\d+\.\d+\.\d+)/m.exec(
  readFileSync(resolve(import.meta.dirname, '..', '..', 'controlplane', 'go.mod'), 'utf8'),
)![1]!;

/** The chart's crds/ file is a symlink to crds/ (one source); helm says so on every load of the directory. */
const SYMLINK_NOTE = /^walk\.go:\d+: found symbolic link in path: \S+\/charts\/regcred-operator\/crds\/registrycredentials\.regcred\.io\.yaml resolves to \S+\/crds\/registrycredentials\.regcred\.io\.yaml\. Contents of linked file included and used\n/gm;

export async function helm(args: string[], options: { input?: string } = {}): Promise<ToolResult> {
  const result = await runTool('helm', args, { env: helmEnv(), ...options });
  return { ...result, stderr: result.stderr.replace(SYMLINK_NOTE, '') };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** `--set`/`--set-string`/`--set-json` pairs as helm arguments. */
export type Values = string[];

/** helm template RELEASE CHART -n NAMESPACE ARGS; throws with helm's output when it fails. */
export async function renderChart(args: Values = [], { release = 'regcred', namespace = 'regcred-system', includeCrds = false } = {}): Promise<{
  yaml: string;
  objects: K8sObject[];
}> {
  const result = await helm(['template', release, CHART_DIR, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...(includeCrds ? ['--include-crds'] : []), ...args]);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  return { yaml: result.stdout, objects: (loadAll(result.stdout) as (K8sObject | null)[]).filter((o): o is K8sObject => o !== null) };
}

/** helm template that must fail; returns helm's message. */
export async function renderError(args: Values): Promise<string> {
  const result = await helm(['template', 'regcred', CHART_DIR, '--namespace', 'regcred-system', '--kube-version', KUBE_VERSION, ...args]);
  if (result.code === 0) throw new Error(`helm template succeeded with ${args.join(' ')}, expected a failure`);
  return result.stderr;
}

export function find<T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0] as T;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: unknown[];
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  securityContext?: unknown;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Deployment extends K8sObject {
  spec: {
    replicas: number;
    strategy: { type: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName: string;
        securityContext?: unknown;
        containers: Container[];
        volumes?: { name: string; configMap?: { name: string; items?: { key: string; path: string }[] } }[];
        topologySpreadConstraints?: { labelSelector?: unknown }[];
      };
    };
  };
}

export function container(objects: K8sObject[]): Container {
  return find<Deployment>(objects, 'Deployment').spec.template.spec.containers[0]!;
}

export function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** The value sets the tests render, each a values file under test/support/helm-values/ (none: the defaults). */
export const VALUE_SETS: Record<string, string[]> = {
  defaults: [],
  everything: ['--values', resolve(import.meta.dirname, 'helm-values', 'everything.yaml')],
  'IRSA and GKE annotations, a registry CA bundle, 1 replica': ['--values', resolve(import.meta.dirname, 'helm-values', 'irsa-ca-single.yaml')],
};
