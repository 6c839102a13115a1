import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { load } from 'js-yaml';

/**
 * The NODE_OPTIONS the shipped Deployment (config/manager/deployment.yaml) gives the operator, so that the
 * benchmark measures the process users run (its heap cap above all), not a differently tuned one.
 */
export function deploymentNodeOptions(root: string): string {
  const path = join(root, 'config', 'manager', 'deployment.yaml');
  const deployment = load(readFileSync(path, 'utf8')) as V1Deployment;
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === 'operator');
  const value = container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
  if (value === undefined) throw new Error(`${path}: the operator container sets no NODE_OPTIONS; the benchmark runs the operator with the Deployment's`);
  return value;
}

/**
 * The other plain environment values the Deployment gives the operator container (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_), which
 * shape its memory as NODE_OPTIONS does; values from fields (POD_NAME, POD_NAMESPACE) are the benchmark's own.
 */
export function deploymentRuntimeEnv(root: string): Record<string, string> {
  const path = join(root, 'config', 'manager', 'deployment.yaml');
  const deployment = load(readFileSync(path, 'utf8')) as V1Deployment;
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === 'operator');
  const env: Record<string, string> = {};
  for (const e of container?.env ?? []) if (e.value !== undefined && e.name !== 'NODE_OPTIONS') env[e.name] = e.value;
  return env;
}
