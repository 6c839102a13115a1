/**
 * `regcred uninstall`: the flags, the names of the operator's objects, and the plan printed before
 * anything is changed. Pure: nothing here talks to a cluster (src/uninstall/cluster.ts does).
 */
import { CRD_NAME, DEFAULT_OPERATOR_NAMESPACE, FINALIZER } from '../api/constants.js';
import type { DeletionPolicy } from '../api/types.js';
import { plural } from '../status/plural.js';

export interface UninstallFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  name?: string;
  deleteCrd?: boolean;
  deleteNamespace?: boolean;
  timeoutSeconds?: string;
  dryRun?: boolean;
  yes?: boolean;
  forceOrphan?: boolean;
}

/** The name config/rbac and config/manager give the Deployment, ServiceAccount, Role, RoleBinding, ClusterRole and ClusterRoleBinding. */
export const DEFAULT_OPERATOR_NAME = 'regcred-operator';
export const DEFAULT_TIMEOUT_SECONDS = 120;
/** How long an operator has to put its finalizer on the probe RegistryCredential, and to let it go. */
export const PROBE_TIMEOUT_SECONDS = 15;

export interface UninstallOptions {
  namespace: string;
  name: string;
  deleteCrd: boolean;
  deleteNamespace: boolean;
  timeoutMs: number;
  dryRun: boolean;
  yes: boolean;
  forceOrphan: boolean;
}

export class UsageError extends Error {}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The flag checks that need no cluster. Throws UsageError with what to fix. */
export function uninstallOptions(flags: UninstallFlags): UninstallOptions {
  const namespace = flags.namespace ?? DEFAULT_OPERATOR_NAMESPACE;
  if (!DNS1123_LABEL.test(namespace)) {
    throw new UsageError(`--namespace "${namespace}" is not a namespace name (lowercase letters, digits and "-", at most 63)`);
  }
  const name = flags.name ?? DEFAULT_OPERATOR_NAME;
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    throw new UsageError(`--name "${name}" is not an object name (lowercase letters, digits, "-" and ".")`);
  }
  const rawTimeout = flags.timeoutSeconds ?? String(DEFAULT_TIMEOUT_SECONDS);
  const timeout = /^\d+$/.test(rawTimeout) ? Number(rawTimeout) : NaN;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 3600) {
    throw new UsageError(`--timeout-seconds "${rawTimeout}" must be a whole number from 1 to 3600`);
  }
  if (flags.dryRun && flags.yes) {
    throw new UsageError('--dry-run and --yes do not go together: --dry-run only prints the plan, --yes carries it out');
  }
  return {
    namespace,
    name,
    deleteCrd: Boolean(flags.deleteCrd),
    deleteNamespace: Boolean(flags.deleteNamespace),
    timeoutMs: timeout * 1000,
    dryRun: Boolean(flags.dryRun),
    yes: Boolean(flags.yes),
    forceOrphan: Boolean(flags.forceOrphan),
  };
}

/** One of the operator's own objects, as config/default installs it. */
export interface OperatorObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** In the order they are deleted: the Deployment first, so the operator stops before its permissions go. */
export function operatorObjects(options: Pick<UninstallOptions, 'namespace' | 'name' | 'deleteCrd' | 'deleteNamespace'>): OperatorObject[] {
  const { namespace, name } = options;
  return [
    { apiVersion: 'apps/v1', kind: 'Deployment', name, namespace },
    { apiVersion: 'v1', kind: 'ServiceAccount', name, namespace },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name, namespace },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', name, namespace },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name },
    ...(options.deleteCrd ? [{ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: CRD_NAME }] : []),
    ...(options.deleteNamespace ? [{ apiVersion: 'v1', kind: 'Namespace', name: namespace }] : []),
  ];
}

export function describeObject(obj: OperatorObject): string {
  return `${obj.kind} ${obj.namespace ? `${obj.namespace}/` : ''}${obj.name}`;
}

/** What the plan needs to know of one RegistryCredential. */
export interface CredentialSummary {
  name: string;
  deletionPolicy: DeletionPolicy;
  /** Managed Secrets labelled with its name, across namespaces. */
  secrets: number;
  hasFinalizer: boolean;
  deleting: boolean;
}

/** What the cluster looked like when the plan was made. */
export interface ClusterFacts {
  server: string;
  crdInstalled: boolean;
  credentials: CredentialSummary[];
  /** The operator's Deployment: undefined when there is none. */
  deployment?: { availableReplicas: number; replicas: number };
}

export function describeDeployment(options: Pick<UninstallOptions, 'namespace' | 'name'>, deployment: ClusterFacts['deployment']): string {
  const where = `Deployment ${options.namespace}/${options.name}`;
  if (!deployment) return `${where}: not found`;
  return `${where}: ${deployment.availableReplicas} of ${deployment.replicas} ${deployment.replicas === 1 ? 'replica' : 'replicas'} available`;
}

function describeCredential(c: CredentialSummary, forceOrphan: boolean): string {
  const secrets = plural(c.secrets, 'Secret');
  const state = c.deleting ? ', already being deleted' : '';
  if (forceOrphan) {
    const policy = c.deletionPolicy === 'Delete' ? ' (its deletionPolicy Delete cannot be carried out without the operator)' : '';
    return `${c.name}: ${secrets} and its ServiceAccount entries are kept${policy}${state}`;
  }
  const fate = c.deletionPolicy === 'Delete' ? 'removed by the operator' : 'kept (Orphan)';
  return `${c.name}: deletionPolicy ${c.deletionPolicy}, ${secrets} and its ServiceAccount entries ${fate}${state}`;
}

/** The numbered plan, one line per step (credentials indented under theirs). */
export function planLines(options: UninstallOptions, facts: ClusterFacts): string[] {
  const lines: string[] = [];
  let step = 0;
  const add = (text: string): void => {
    lines.push(`  ${++step}. ${text}`);
  };
  const credentials = facts.credentials;
  const count = plural(credentials.length, 'RegistryCredential');
  if (!facts.crdInstalled) {
    add(`no RegistryCredentials: the CRD ${CRD_NAME} is not installed`);
  } else if (credentials.length === 0) {
    add('no RegistryCredentials to delete, so the operator need not be running');
  } else if (options.forceOrphan) {
    add(`check that the operator is not running (${describeDeployment(options, facts.deployment)}): it would write back what this removes`);
    add(
      `for each of ${count}: remove its RegistryCredential ownerReference from its Secrets (so the garbage collector keeps them), ` +
        `remove the ${FINALIZER} finalizer (a JSON patch with a test of the list), and delete it. ` +
        'Secrets and ServiceAccount entries stay in place, as with deletionPolicy: Orphan:',
    );
    for (const c of credentials) lines.push(`       ${describeCredential(c, true)}`);
  } else {
    add(
      `check that the operator is running: it must put its finalizer on a probe RegistryCredential and let it go within ${PROBE_TIMEOUT_SECONDS}s ` +
        `(${describeDeployment(options, facts.deployment)})`,
    );
    add(`delete ${count} and wait up to ${options.timeoutMs / 1000}s for the operator to release them, each as its deletionPolicy says:`);
    for (const c of credentials) lines.push(`       ${describeCredential(c, false)}`);
  }
  for (const obj of operatorObjects(options)) {
    add(`delete ${describeObject(obj)}${obj.kind === 'Namespace' ? ' with everything in it (source Secrets live there)' : ''}`);
  }
  if (!options.deleteCrd) add(`keep CustomResourceDefinition ${CRD_NAME} (--delete-crd removes it)`);
  if (!options.deleteNamespace) add(`keep Namespace ${options.namespace} and the source Secrets in it (--delete-namespace removes it)`);
  return lines;
}
