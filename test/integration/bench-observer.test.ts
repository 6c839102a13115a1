import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dockerConfigJson, MERGE_PATCH, watchFanOut, type PullCredential } from '../../bench/lib/kube.js';
import { adminConnection, waitFor } from '../support/cluster.js';
import { readServiceAccount, sleep, TestResources } from '../support/fixtures.js';

/**
 * The benchmark follows a fan-out with watches (bench/lib/kube.ts, watchFanOut) instead of list polls: it
 * must count a namespace only once its Secret holds the expected credential and its default ServiceAccount
 * lists it, and report a fan-out that does not complete as not converged.
 */

const admin = adminConnection();
const resources = new TestResources();
const cred: PullCredential = { registry: 'ghcr.io', username: 'robot', password: 'pw-observer' };
const NAME = 'bench-observer-pull';
let namespaces: string[] = [];

function pullSecret(namespace: string, credential: PullCredential): Parameters<typeof admin.core.createNamespacedSecret>[0] {
  return {
    namespace,
    body: { metadata: { name: NAME }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from(dockerConfigJson(credential)).toString('base64') } },
  };
}

async function carry(namespace: string): Promise<void> {
  await admin.core.patchNamespacedServiceAccount({ namespace, name: 'default', body: { imagePullSecrets: [{ name: NAME }] } }, MERGE_PATCH);
}

beforeAll(async () => {
  namespaces = [await resources.namespace('bo'), await resources.namespace('bo'), await resources.namespace('bo')];
  for (const ns of namespaces) await waitFor(`default SA in ${ns}`, () => readServiceAccount(ns));
}, 60_000);

afterAll(async () => {
  await resources.deleteSourcesAndNamespaces();
});

describe('watchFanOut', () => {
  it('completes when the last namespace has both the right Secret and the entry, not before', async () => {
    const [a, b, c] = namespaces as [string, string, string];
    const started = Date.now();
    const outcome = watchFanOut(admin.kubeConfig, new Set([a, b]), NAME, { fieldSelector: `metadata.name=${NAME}` }, cred, started, 30_000);
    await sleep(300);
    // A Secret with another password, and a namespace outside the targets: neither counts.
    await admin.core.createNamespacedSecret(pullSecret(a, { ...cred, password: 'stale' }));
    await admin.core.createNamespacedSecret(pullSecret(c, cred));
    await carry(a);
    await carry(c);
    await admin.core.createNamespacedSecret(pullSecret(b, cred));
    await carry(b);
    await sleep(500);
    await admin.core.replaceNamespacedSecret({ ...pullSecret(a, cred), name: NAME });
    const result = await outcome;
    expect(result.ms).toBeDefined();
    expect(result.last).toMatchObject({ secrets: 2, accounts: 2, complete: 2 });
    // It completed with the replace in a, which came last: after the writes in b.
    expect(result.ms!).toBeGreaterThanOrEqual(800);
    expect(result.events).toBeGreaterThanOrEqual(5);
  }, 60_000);

  it('starts from what is there already, and reports a fan-out that does not complete as not converged', async () => {
    const [a, b, c] = namespaces as [string, string, string];
    const result = await watchFanOut(admin.kubeConfig, new Set([a, b, c]), NAME, { fieldSelector: `metadata.name=${NAME}` }, { ...cred, password: 'never-published' }, Date.now(), 2_000);
    expect(result.ms).toBeUndefined();
    expect(result.last).toMatchObject({ secrets: 0, complete: 0 });
    const current = await watchFanOut(admin.kubeConfig, new Set([a, b, c]), NAME, { fieldSelector: `metadata.name=${NAME}` }, cred, Date.now(), 5_000);
    expect(current.last).toMatchObject({ secrets: 3, accounts: 3, complete: 3 });
    expect(current.ms).toBeDefined();
  }, 60_000);
});
