import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { emptyStats, listWatch, pagedList, type CachedInformer, type ListWatchSpec } from '../../src/kube/list-watch.js';
import { DataInterner, managedSecretTransform } from '../../src/kube/transforms.js';
import { adminConnection, uniqueName, waitFor } from '../support/cluster.js';
import { sleep, TestResources } from '../support/fixtures.js';

/**
 * The operator's informers (src/kube/list-watch.ts) against the real API server: lists come in pages and are
 * transformed before they are cached; a watch the server ends is resumed from its resourceVersion (kept
 * fresh by bookmarks) without a relist; only a resourceVersion the server no longer has (410) relists.
 */

const admin = adminConnection();
const resources = new TestResources();
let namespace: string;
const label = uniqueName('lw');
const informers: CachedInformer<V1Secret>[] = [];

function secret(name: string, data: Record<string, string>): V1Secret {
  return { metadata: { name, namespace, labels: { 'regcred-test/list-watch': label } }, type: 'Opaque', data };
}

async function createSecrets(count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    await admin.core.createNamespacedSecret({ namespace, body: secret(`${prefix}-${i}`, { k: Buffer.from(i % 2 ? 'odd' : 'even').toString('base64') }) });
  }
}

function spec(interner = new DataInterner()): ListWatchSpec<V1Secret> {
  return { name: 'test', path: `/api/v1/namespaces/${namespace}/secrets`, labelSelector: `regcred-test/list-watch=${label}`, transform: managedSecretTransform(interner) };
}

beforeAll(async () => {
  namespace = await resources.namespace('lw');
  await createSecrets(23, 'page');
}, 60_000);

afterAll(async () => {
  for (const informer of informers) await informer.stop();
  await resources.deleteSourcesAndNamespaces();
});

describe('paginated list', () => {
  it('lists every object in pages of the requested size, transformed, at one resourceVersion', async () => {
    const stats = emptyStats();
    const interner = new DataInterner();
    const list = await pagedList(admin.kubeConfig, spec(interner), stats, 5);
    expect(list.items).toHaveLength(23);
    expect(stats.pages).toBe(5);
    expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(new Set(list.items.map((s) => s.metadata?.name)).size).toBe(23);
    // The server sends managedFields (a create records its field manager); the cache never holds them.
    const raw = await admin.core.readNamespacedSecret({ namespace, name: 'page-0' });
    expect(raw.metadata?.managedFields?.length).toBeGreaterThan(0);
    for (const item of list.items) expect(item.metadata?.managedFields).toBeUndefined();
    // Two distinct contents among 23 Secrets: two shared, frozen data objects.
    expect(new Set(list.items.map((s) => s.data)).size).toBe(2);
    expect(interner.size).toBe(2);
    expect(Object.isFrozen(list.items[0]?.data)).toBe(true);
    expect(Buffer.from(list.items.find((s) => s.metadata?.name === 'page-3')?.data?.k ?? '', 'base64').toString()).toBe('odd');
  });

  it('a selector that matches nothing is one page and an empty list', async () => {
    const stats = emptyStats();
    const list = await pagedList(admin.kubeConfig, { ...spec(), labelSelector: `regcred-test/list-watch=${uniqueName('none')}` }, stats, 5);
    expect(list.items).toHaveLength(0);
    expect(stats.pages).toBe(1);
  });
});

describe('watch', () => {
  it('resumes from its resourceVersion each time the server ends it, with bookmarks and without relisting', async () => {
    const stats = emptyStats();
    let listed = 0;
    const informer = listWatch(admin.kubeConfig, spec(), () => (listed += 1), stats, { timeoutSeconds: 4 });
    informers.push(informer);
    const added: string[] = [];
    const deleted: string[] = [];
    informer.on('add', (obj: KubernetesObject) => added.push(obj.metadata?.name ?? ''));
    informer.on('delete', (obj: KubernetesObject) => deleted.push(obj.metadata?.name ?? ''));
    await informer.start();
    await waitFor('the first list', () => (listed === 1 ? true : undefined), 10_000);
    expect(informer.list()).toHaveLength(23);

    // The server ends each watch after 4 s, and 2 s before that sends a bookmark when the store has moved on:
    // Secrets the selector does not match move it. ~10 s is two resumes at least.
    for (let i = 0; i < 10; i++) {
      await admin.core.createNamespacedSecret({ namespace, body: { metadata: { name: `other-${i}`, namespace }, type: 'Opaque' } });
      await sleep(1_000);
    }
    await admin.core.createNamespacedSecret({ namespace, body: secret('late', { k: Buffer.from('late').toString('base64') }) });
    await admin.core.deleteNamespacedSecret({ namespace, name: 'page-22' });
    await waitFor('the add and the delete', () => (added.includes('late') && deleted.includes('page-22') ? true : undefined), 15_000);

    expect(stats.watches).toBeGreaterThanOrEqual(3);
    expect(stats.bookmarks).toBeGreaterThanOrEqual(1);
    expect(stats.lists).toBe(1);
    expect(stats.relists).toBe(0);
    expect(listed).toBe(1);
    expect(informer.get('late', namespace)?.metadata?.managedFields).toBeUndefined();
    expect(informer.get('page-22', namespace)).toBeUndefined();
    expect(informer.list()).toHaveLength(23);
  }, 60_000);
});

describe('delete events', () => {
  it('carry the resourceVersion of the delete, newer than the object ever had, and older than a create after it', async () => {
    // The mutation cache (src/controller/mutation-cache.ts) tells the late delete of a Secret another
    // credential held from the delete of the one ours replaced it with by this ordering.
    const informer = listWatch(admin.kubeConfig, spec(), () => undefined, emptyStats());
    informers.push(informer);
    const deletes: string[] = [];
    informer.on('delete', (obj: KubernetesObject) => {
      if (obj.metadata?.name === 'handed-over') deletes.push(obj.metadata.resourceVersion ?? '');
    });
    await informer.start();
    const first = await admin.core.createNamespacedSecret({ namespace, body: secret('handed-over', { k: Buffer.from('theirs').toString('base64') }) });
    await waitFor('the first object in the cache', () => informer.get('handed-over', namespace), 10_000);
    await admin.core.deleteNamespacedSecret({ namespace, name: 'handed-over' });
    const second = await admin.core.createNamespacedSecret({ namespace, body: secret('handed-over', { k: Buffer.from('ours').toString('base64') }) });
    await waitFor('the delete event', () => (deletes.length === 1 ? true : undefined), 10_000);
    const deleteVersion = BigInt(deletes[0]!);
    expect(deleteVersion).toBeGreaterThan(BigInt(first.metadata!.resourceVersion!));
    expect(deleteVersion).toBeLessThan(BigInt(second.metadata!.resourceVersion!));
    await waitFor('the second object in the cache', () => (informer.get('handed-over', namespace)?.metadata?.resourceVersion === second.metadata?.resourceVersion ? true : undefined), 10_000);
  }, 30_000);
});
