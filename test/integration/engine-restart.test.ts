import { afterAll, describe, expect, it } from '@jest/globals';
import { adminConnection, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import {
  createCredential,
  createNamespace,
  createSourceSecret,
  deleteCredential,
  deleteNamespace,
  deleteSourceSecret,
  getCredential,
  pullSecretNames,
  waitForCondition,
  waitForCredentialGone,
} from '../support/fixtures.js';

const COUNT = 300;
const label = uniqueName('wave');
const namespaces = Array.from({ length: COUNT }, (_, i) => `${label}-${String(i).padStart(3, '0')}`);
const credential = uniqueName('bulk');
const source = uniqueName('src');
let operator: OperatorProcess | undefined;

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

async function managedSecretCount(): Promise<number> {
  const list = await adminConnection().core.listSecretForAllNamespaces({ labelSelector: `regcred.io/credential=${credential}` });
  return list.items.length;
}

afterAll(async () => {
  await deleteCredential(credential);
  if (!operator || operator.child.exitCode !== null) operator = startOperator();
  await waitForCredentialGone(credential, 60_000).catch(() => undefined);
  await operator.stop();
  await deleteSourceSecret(source);
  await inBatches(namespaces, 25, deleteNamespace);
}, 180_000);

describe('an operator killed in the middle of a fan-out', () => {
  it('converges after a restart with no duplicate and no lost entries', async () => {
    await inBatches(namespaces, 25, (ns) => createNamespace(ns, { wave: label }));
    await createSourceSecret(source, { username: 'robot', password: uniqueName('pw') });
    await createCredential(credential, {
      static: { registry: 'ghcr.io', credentialsSecretRef: { name: source } },
      namespaces: { selector: { matchLabels: { wave: label } } },
    });

    operator = startOperator(['--write-concurrency', '4']);
    const partial = await waitFor('a part of the fan-out', async () => {
      const n = await managedSecretCount();
      return n >= 20 ? n : undefined;
    }, 60_000, 20);
    operator.child.kill('SIGKILL');
    await operator.exited;
    const atKill = await managedSecretCount();
    expect(partial).toBeLessThan(COUNT);
    expect(atKill).toBeLessThan(COUNT);

    operator = startOperator();
    await waitForCondition(credential, 'Ready', 'True', undefined, 120_000);
    // Default ServiceAccounts appear asynchronously (the controller manager is busy with 300 namespaces):
    // the count reaches COUNT as they do.
    const done = await waitFor('every default ServiceAccount patched', async () => {
      const c = await getCredential(credential);
      return c?.status?.patchedServiceAccounts === COUNT ? c : undefined;
    }, 120_000, 250);
    expect(done.status).toMatchObject({ targetNamespaces: COUNT, syncedNamespaces: COUNT, patchedServiceAccounts: COUNT });
    expect(await managedSecretCount()).toBe(COUNT);
    const accounts = await adminConnection().core.listServiceAccountForAllNamespaces();
    const ours = accounts.items.filter((sa) => sa.metadata?.namespace?.startsWith(`${label}-`) && sa.metadata.name === 'default');
    expect(ours).toHaveLength(COUNT);
    for (const sa of ours) expect(pullSecretNames(sa)).toEqual([credential]);
  }, 240_000);
});
