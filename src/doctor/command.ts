/**
 * `regcred doctor [-n NS | -A] [POD] [-o json]` (also `kubectl regcred doctor`): why pods cannot pull,
 * from the Kubernetes API alone. Exit 0: no container is failing to pull (rate-limit risks are warnings
 * only); 1: at least one is, the named pod does not exist, or the cluster could not be read; 2: a usage
 * error (src/commands.ts maps commander's errors to 2 too).
 */
import { connect, loadKubeConfig, type KubeConnection } from '../kube/connection.js';
import { diagnose } from './explain.js';
import { renderJson, renderText } from './render.js';
import { scan } from './scan.js';
import type { Scope } from './types.js';

export interface DoctorFlags {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  kubeconfig?: string;
  context?: string;
}

export const OUTPUT_FORMATS = ['text', 'json'] as const;

export class UsageError extends Error {}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The flag checks that need no cluster. Throws UsageError with what to fix. */
export function checkDoctorUsage(pod: string | undefined, flags: DoctorFlags): void {
  if (flags.allNamespaces && pod !== undefined) {
    throw new UsageError(`a POD name (${pod}) and -A/--all-namespaces do not go together: name the pod's namespace with -n NS, or drop the POD to check every namespace`);
  }
  if (flags.allNamespaces && flags.namespace !== undefined) {
    throw new UsageError('-n/--namespace and -A/--all-namespaces do not go together: use one');
  }
  if (flags.namespace !== undefined && !DNS1123_LABEL.test(flags.namespace)) {
    throw new UsageError(`-n "${flags.namespace}" is not a namespace name (lowercase letters, digits and "-", at most 63)`);
  }
  if (pod !== undefined && (pod.length > 253 || !DNS1123_SUBDOMAIN.test(pod))) {
    throw new UsageError(`"${pod}" is not a pod name (lowercase letters, digits, "-" and ".")`);
  }
  const output = flags.output ?? 'text';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(output)) {
    throw new UsageError(`-o "${output}" is not an output format doctor writes: use -o json, or leave -o out for text`);
  }
}

export async function runDoctor(pod: string | undefined, flags: DoctorFlags, prog = 'regcred doctor'): Promise<number> {
  try {
    checkDoctorUsage(pod, flags);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${prog}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  let conn: KubeConnection;
  let scope: Scope;
  try {
    const kubeConfig = loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context });
    conn = connect(kubeConfig);
    const contextNamespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
    scope = flags.allNamespaces
      ? { allNamespaces: true }
      : { allNamespaces: false, namespace: flags.namespace ?? (contextNamespace || 'default'), ...(pod !== undefined ? { pod } : {}) };
  } catch (err) {
    process.stderr.write(`${prog}: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    const report = diagnose(await scan(conn, scope));
    process.stdout.write(flags.output === 'json' ? renderJson(report) : renderText(report));
    return report.exitCode;
  } catch (err) {
    process.stderr.write(`${prog}: cannot read the cluster at ${conn.describe}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await conn.close();
  }
}
