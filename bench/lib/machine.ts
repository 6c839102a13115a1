import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { join } from 'node:path';
import type { Machine } from './results.js';

function nproc(): number {
  const out = spawnSync('nproc', { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

function memTotalGiB(): number {
  const kib = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? NaN);
  return Math.round((kib / 1024 / 1024) * 10) / 10;
}

function cpuModel(): string {
  return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
}

function kubectlVersion(): string {
  const out = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  try {
    return (JSON.parse(out.stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The local control plane is built from Kubernetes' Go modules, so its /version
 * says "v0.0.0-master…"; the module version in controlplane/go.mod is the real one.
 */
export function controlPlaneModuleVersion(root: string): string | undefined {
  try {
    return /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(readFileSync(join(root, 'controlplane', 'go.mod'), 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export async function describeMachine(kc: KubeConfig, root: string): Promise<Machine> {
  let kubernetes = 'unknown';
  try {
    kubernetes = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
  } catch {
    // reported as unknown
  }
  const module = controlPlaneModuleVersion(root);
  if (module && !kubernetes.startsWith(module)) kubernetes = `Kubernetes ${module} (controlplane/go.mod; /version says ${kubernetes})`;
  return {
    nproc: nproc(),
    memTotalGiB: memTotalGiB(),
    cpuModel: cpuModel(),
    kernel: release(),
    node: process.version,
    kubectl: kubectlVersion(),
    kubernetes,
  };
}
