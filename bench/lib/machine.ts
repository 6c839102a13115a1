import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
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

export async function describeMachine(kc: KubeConfig): Promise<Machine> {
  let kubernetes = 'unknown';
  try {
    kubernetes = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
  } catch {
    // reported as unknown
  }
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
