import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
// Type-only imports are erased: they give the dist modules their types without loading src.
import type * as ControlPlaneModule from '../../src/local/control-plane.js';
import type * as InstallModule from '../../src/local/install.js';
import type * as ConnectionModule from '../../src/kube/connection.js';

function dist(path: string): string {
  return resolve(import.meta.dirname, '..', '..', 'dist', path);
}

/**
 * One real local control plane per test run (unless only unit tests run).
 * Its kubeconfig reaches the test workers through the environment.
 *
 * jest loads this file without the moduleNameMapper, so it uses the built
 * code in dist/ (npm test builds first): the same code `regcred local` runs.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REGCRED_NO_CONTROLPLANE === '1') return;
  const { startControlPlane } = (await import(dist('local/control-plane.js'))) as typeof ControlPlaneModule;
  const { installIntoCluster } = (await import(dist('local/install.js'))) as typeof InstallModule;
  const { connect, loadKubeConfig } = (await import(dist('kube/connection.js'))) as typeof ConnectionModule;

  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'regcred-test-'));
  const cp = await startControlPlane({ dir, auditLog: true, progress: (m: string) => process.stderr.write(`[harness] ${m}\n`) });
  const admin = connect(loadKubeConfig({ kubeconfig: cp.kubeconfig }));
  try {
    await installIntoCluster(admin);
  } catch (err) {
    await cp.stop();
    throw err;
  } finally {
    await admin.close();
  }
  process.stderr.write(`\n[harness] local control plane ready at ${cp.server} in ${Date.now() - started} ms (state in ${dir})\n`);
  (globalThis as { __REGCRED_CP__?: unknown }).__REGCRED_CP__ = cp;
  process.env.REGCRED_TEST_KUBECONFIG = cp.kubeconfig;
  process.env.REGCRED_TEST_DIR = cp.dir;
  if (cp.auditLog) process.env.REGCRED_TEST_AUDIT_LOG = cp.auditLog;
}
