/**
 * `regcred uninstall` against the shared control plane, run as the CLI (dist/cli.js).
 *
 * Every test file shares this control plane, the CRD and the harness's operator RBAC (regcred-system,
 * regcred-operator). So the command is pointed at a throwaway install of its own: the objects
 * config/default would create, under another name in another namespace (--namespace, --name). The
 * operator that finalizes the RegistryCredentials runs as a local process (startOperator), under the
 * harness's identity, as in every other test. The one test that deletes the CRD puts it back.
 *
 * The garbage collector runs in the control plane: a Secret owned (ownerReference) by a credential
 * that goes is deleted by it. Each test that checks that Secrets survive it first waits for such a
 * witness Secret to be collected, which shows the collector has dealt with that credential's deletion.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadAllYaml, type KubernetesObject } from '@kubernetes/client-node';
import { CRD_NAME, GROUP, PLURAL, VERSION } from '../../src/api/constants.js';
import type { RegistryCredential, RegistryCredentialSpec } from '../../src/api/types.js';
import { applyObjects, installIntoCluster, rbacManifests } from '../../src/local/install.js';
import { adminConnection, kubeconfigPath, REPO_ROOT, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { getCredential, pullSecretNames, readSecret, readServiceAccount, TestResources } from '../support/fixtures.js';

const CLI = resolve(REPO_ROOT, 'dist', 'cli.js');
const PROBE_LABEL = 'regcred.io/uninstall-probe';
const resources = new TestResources();
let operator: OperatorProcess | undefined;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function uninstall(args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, 'uninstall', '--kubeconfig', kubeconfigPath(), ...args], { env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

/** A throwaway install: what config/default creates (RBAC, Deployment), under `name` in `namespace`. */
interface Install {
  namespace: string;
  name: string;
  objects: KubernetesObject[];
}

function renamed(obj: KubernetesObject, name: string): KubernetesObject {
  const copy = structuredClone(obj) as KubernetesObject & {
    roleRef?: { name: string };
    subjects?: { kind: string; name: string }[];
    spec?: { template?: { spec?: { serviceAccountName?: string } } };
  };
  if (copy.kind !== 'Namespace') copy.metadata = { ...copy.metadata, name };
  if (copy.roleRef) copy.roleRef.name = name;
  for (const subject of copy.subjects ?? []) subject.name = name;
  if (copy.spec?.template?.spec) copy.spec.template.spec.serviceAccountName = name;
  return copy;
}

async function throwawayInstall(): Promise<Install> {
  const namespace = uniqueName('uninst');
  const name = uniqueName('regcred-op');
  // This control plane runs no Deployment controller and no nodes: the Deployment never has a pod.
  const deployment = (loadAllYaml(readFileSync(resolve(REPO_ROOT, 'config', 'manager', 'deployment.yaml'), 'utf8')) as KubernetesObject[])[0]!;
  deployment.metadata = { ...deployment.metadata, namespace };
  const objects = [...rbacManifests(namespace), deployment].map((obj) => renamed(obj, name));
  await applyObjects(adminConnection(), objects);
  resources.namespaces.push(namespace);
  return { namespace, name, objects };
}

async function exists(obj: KubernetesObject): Promise<boolean> {
  try {
    await adminConnection().objects.read({ apiVersion: obj.apiVersion!, kind: obj.kind!, metadata: { name: obj.metadata!.name!, namespace: obj.metadata?.namespace } });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}

/** Which of the install's objects are still there, as "Kind name". */
async function remaining(install: Install): Promise<string[]> {
  const out: string[] = [];
  for (const obj of install.objects) if (await exists(obj)) out.push(`${obj.kind} ${obj.metadata!.name}`);
  return out;
}

async function allCredentials(): Promise<RegistryCredential[]> {
  const list = (await adminConnection().custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: RegistryCredential[] };
  return list.items;
}

function spec(source: string, namespaces: string[], deletionPolicy: 'Delete' | 'Orphan'): RegistryCredentialSpec {
  return {
    static: { registry: 'registry.example.com', credentialsSecretRef: { name: source } },
    namespaces: { names: namespaces },
    serviceAccounts: { names: ['default'] },
    deletionPolicy,
    verify: { enabled: false },
  };
}

interface Published {
  namespaces: string[];
  deleted: string;
  orphaned: string;
}

/** Two namespaces, and two credentials publishing to both: one deletionPolicy Delete, one Orphan. */
async function publishBoth(): Promise<Published> {
  const namespaces = [await resources.namespace('uninst-a'), await resources.namespace('uninst-b')];
  const source = await resources.source({ username: 'robot', password: 'not-a-secret' });
  const deleted = await resources.credential(spec(source, namespaces, 'Delete'), 'del');
  const orphaned = await resources.credential(spec(source, namespaces, 'Orphan'), 'orph');
  for (const ns of namespaces) {
    await waitFor(`${ns} Secrets and ServiceAccount entries`, async () => {
      const sa = await readServiceAccount(ns);
      return (
        (await readSecret(ns, deleted)) !== undefined &&
        (await readSecret(ns, orphaned)) !== undefined &&
        pullSecretNames(sa).includes(deleted) &&
        pullSecretNames(sa).includes(orphaned)
      );
    });
  }
  return { namespaces, deleted, orphaned };
}

/** A Secret the garbage collector must delete once `credential` is gone: owned by it, and by nothing else. */
async function gcWitness(namespace: string, credential: string): Promise<string> {
  const owner = await getCredential(credential);
  const name = uniqueName('gc-witness');
  await adminConnection().core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name, ownerReferences: [{ apiVersion: `${GROUP}/${VERSION}`, kind: 'RegistryCredential', name: credential, uid: owner!.metadata.uid! }] },
      stringData: { note: 'deleted by the garbage collector with its owner' },
    },
  });
  return name;
}

function ownerNames(secret: Awaited<ReturnType<typeof readSecret>>): string[] {
  return (secret?.metadata?.ownerReferences ?? []).map((ref) => `${ref.kind}/${ref.name}`);
}

async function startTheOperator(): Promise<OperatorProcess> {
  // One at a time: an operator left running by a failed test would answer the probe of the next.
  await operator?.stop();
  operator = startOperator(['--resync-seconds', '600']);
  await operator.waitForLog((l) => l.msg === 'caches synced');
  return operator;
}

beforeAll(() => {
  // Nothing of another test file's is left to finalize: the tests below count every RegistryCredential.
  return waitFor('no RegistryCredential from an earlier test file', async () => (await allCredentials()).length === 0 || undefined, 30_000).catch(() => undefined);
});

afterAll(async () => {
  await operator?.stop();
  // Whatever happened above, later test files need the CRD and the harness's RBAC.
  await installIntoCluster(adminConnection());
  await resources.deleteSourcesAndNamespaces();
}, 120_000);

describe('--dry-run and a missing --yes', () => {
  it('print the plan and change nothing', async () => {
    const install = await throwawayInstall();
    const source = await resources.source({ username: 'robot', password: 'not-a-secret' });
    const ns = await resources.namespace('uninst-dry');
    const credential = await resources.credential(spec(source, [ns], 'Delete'), 'dry');
    const before = await getCredential(credential);
    const flags = ['--namespace', install.namespace, '--name', install.name];

    const dry = await uninstall([...flags, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`deletionPolicy Delete`);
    expect(dry.stdout).toContain(credential);
    expect(dry.stdout).toContain(`delete Deployment ${install.namespace}/${install.name}`);
    expect(dry.stdout).toContain(`delete ClusterRole ${install.name}`);
    expect(dry.stdout).toContain(`keep CustomResourceDefinition ${CRD_NAME}`);
    expect(dry.stdout).toContain('Dry run: nothing was changed.');

    const noYes = await uninstall(flags);
    expect(noYes.code).toBe(2);
    expect(noYes.stdout).toContain(credential);
    expect(noYes.stderr).toContain('Add --yes');

    const noYesOrphan = await uninstall([...flags, '--force-orphan', '--delete-crd', '--delete-namespace']);
    expect(noYesOrphan.code).toBe(2);
    expect(noYesOrphan.stdout).toContain(`delete CustomResourceDefinition ${CRD_NAME}`);
    expect(noYesOrphan.stdout).toContain(`delete Namespace ${install.namespace}`);

    // Nothing changed: the credential as it was (no deletion, same resourceVersion), no probe made, the install whole.
    const after = await getCredential(credential);
    expect(after?.metadata.deletionTimestamp).toBeUndefined();
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    expect((await allCredentials()).filter((c) => c.metadata.labels?.[PROBE_LABEL])).toEqual([]);
    expect(await remaining(install)).toHaveLength(install.objects.length);

    // Usage errors: exit 2, before the cluster is touched.
    expect((await uninstall([...flags, '--dry-run', '--yes'])).code).toBe(2);
    expect((await uninstall([...flags, '--timeout-seconds', 'soon'])).code).toBe(2);
    expect((await uninstall([...flags, '--no-such-flag'])).code).toBe(2);

    // Not under test here: let it go (no operator ever put a finalizer on it) and remove the install, which
    // with no RegistryCredential left needs no operator.
    await adminConnection().custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: credential });
    await waitFor(`${credential} gone`, async () => (await getCredential(credential)) === undefined);
    const done = await uninstall([...flags, '--yes']);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('no RegistryCredentials to delete, so the operator need not be running');
    expect(await remaining(install)).toEqual([`Namespace ${install.namespace}`]);
  });
});

describe('the safe order: the operator still running', () => {
  it('deletes every RegistryCredential, each cleaned up as its deletionPolicy says, then the operator', async () => {
    await startTheOperator();
    const install = await throwawayInstall();
    const { namespaces, deleted, orphaned } = await publishBoth();
    const witness = await gcWitness(namespaces[0]!, orphaned);

    const result = await uninstall(['--namespace', install.namespace, '--name', install.name, '--yes', '--timeout-seconds', '60']);
    process.stderr.write(`[uninstall, safe order] exit ${result.code}\n${result.stdout}${result.stderr}\n`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('The operator is running');
    expect(result.stdout).toContain(`gone: ${deleted}`);
    expect(result.stdout).toContain(`gone: ${orphaned}`);

    // No RegistryCredential left, none stuck, the probe included.
    expect(await allCredentials()).toEqual([]);
    // The install is gone but for its namespace (no --delete-namespace); the CRD and the harness's own RBAC are kept.
    expect(await remaining(install)).toEqual([`Namespace ${install.namespace}`]);
    expect(await exists({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: CRD_NAME } })).toBe(true);
    expect(await exists({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'regcred-operator' } })).toBe(true);

    await waitFor(`the garbage collector to delete ${witness}`, async () => (await readSecret(namespaces[0]!, witness)) === undefined, 60_000);
    for (const ns of namespaces) {
      // Delete: Secret and ServiceAccount entry removed by the operator.
      expect(await readSecret(ns, deleted)).toBeUndefined();
      expect(pullSecretNames(await readServiceAccount(ns))).not.toContain(deleted);
      // Orphan: both kept, and the Secret no longer owned by the credential, so the collector left it.
      const kept = await readSecret(ns, orphaned);
      expect(kept).toBeDefined();
      expect(ownerNames(kept)).toEqual([]);
      expect(pullSecretNames(await readServiceAccount(ns))).toContain(orphaned);
    }
    await operator!.stop();
  }, 150_000);
});

describe('the unsafe order: the operator stopped first', () => {
  it('refuses and names the way out; --force-orphan lets the credentials go and their Secrets survive the garbage collector', async () => {
    await startTheOperator();
    const install = await throwawayInstall();
    const { namespaces, deleted, orphaned } = await publishBoth();
    const witnesses = [await gcWitness(namespaces[0]!, deleted), await gcWitness(namespaces[1]!, orphaned)];
    await operator!.stop();
    const flags = ['--namespace', install.namespace, '--name', install.name, '--timeout-seconds', '60'];

    const refused = await uninstall([...flags, '--yes']);
    process.stderr.write(`[uninstall, operator stopped] exit ${refused.code}\n${refused.stdout}${refused.stderr}\n`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the operator is not running');
    expect(refused.stderr).toContain('regcred uninstall --force-orphan --yes');
    expect(refused.stderr).toContain('Nothing was changed.');
    // Nothing changed: both credentials as they were, no probe left, the install whole.
    const names = (await allCredentials()).map((c) => c.metadata.name).sort();
    expect(names).toEqual([deleted, orphaned].sort());
    for (const name of names) expect((await getCredential(name))?.metadata.deletionTimestamp).toBeUndefined();
    expect(await remaining(install)).toHaveLength(install.objects.length);

    const forced = await uninstall([...flags, '--force-orphan', '--yes']);
    process.stderr.write(`[uninstall --force-orphan] exit ${forced.code}\n${forced.stdout}${forced.stderr}\n`);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`let go RegistryCredential ${deleted}: regcred.io/cleanup finalizer removed; ownerReference removed from 2 Secrets`);
    expect(forced.stdout).toContain(`let go RegistryCredential ${orphaned}: regcred.io/cleanup finalizer removed; ownerReference removed from 2 Secrets`);
    expect(await allCredentials()).toEqual([]);
    expect(await remaining(install)).toEqual([`Namespace ${install.namespace}`]);

    // The collector has acted on both deletions: the Secrets each credential still owned are gone ...
    for (const [i, witness] of witnesses.entries()) {
      await waitFor(`the garbage collector to delete ${witness}`, async () => (await readSecret(namespaces[i]!, witness)) === undefined, 60_000);
    }
    // ... and every Secret and ServiceAccount entry the operator wrote is still there, Delete policy or not.
    for (const ns of namespaces) {
      for (const credential of [deleted, orphaned]) {
        const secret = await readSecret(ns, credential);
        expect([ns, credential, secret !== undefined]).toEqual([ns, credential, true]);
        expect(ownerNames(secret)).toEqual([]);
        expect(secret?.metadata?.labels?.['regcred.io/credential']).toBe(credential);
      }
      expect(pullSecretNames(await readServiceAccount(ns))).toEqual(expect.arrayContaining([deleted, orphaned]));
    }
  }, 180_000);
});

describe('--delete-crd', () => {
  it('deletes the CRD last, once no RegistryCredential is left (the CRD is installed again afterwards)', async () => {
    const install = await throwawayInstall();
    expect(await allCredentials()).toEqual([]);
    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: CRD_NAME } };
    try {
      const result = await uninstall(['--namespace', install.namespace, '--name', install.name, '--delete-crd', '--delete-namespace', '--yes']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('no RegistryCredentials to delete');
      expect(result.stdout).toContain(`deleted CustomResourceDefinition ${CRD_NAME}`);
      expect(result.stdout).toContain(`deleted Namespace ${install.namespace}`);
      expect(await exists(crd)).toBe(false);
      // The namespace is Terminating until the namespace controller has emptied it; everything else is gone.
      expect(await remaining({ ...install, objects: install.objects.filter((o) => o.kind !== 'Namespace') })).toEqual([]);

      // Run again: nothing left to do, and it says so.
      const again = await uninstall(['--namespace', install.namespace, '--name', install.name, '--delete-crd', '--yes']);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`the CRD ${CRD_NAME} is not installed`);
      expect(again.stdout).toContain(`ClusterRole ${install.name}: not found`);
    } finally {
      await installIntoCluster(adminConnection());
    }
    expect(await exists(crd)).toBe(true);
  }, 120_000);
});
