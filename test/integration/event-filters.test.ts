import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminConnection, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { annotateNamespace, auditEvents, labelNamespace, OPERATOR_USER, operatorWrites, pullSecretNames, readServiceAccount, sleep, waitForCondition, TestResources } from '../support/fixtures.js';
import { parseExposition, samplesOf } from '../support/prometheus.js';

/**
 * Events wake only the credentials they change something for (src/controller/event-keys.ts): a
 * ServiceAccount event only those whose own entry (or record) changed, a namespace event only when its
 * labels, existence or termination changed. The periodic resync is an hour away here, so anything that
 * happens is the work of an event.
 */

let operator: OperatorProcess;
let metricsPort: number;
const resources = new TestResources();

async function scrape(): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

/** Every reconcile the operator has finished, whatever its result (regcred_reconcile_total has no credential label). */
async function reconciles(): Promise<number> {
  return samplesOf(await scrape(), 'regcred_reconcile_total').reduce((sum, s) => sum + s.value, 0);
}

/** The RegistryCredentials the operator knows (one regcred_credential_ready sample each). */
async function credentialsKnown(): Promise<string[]> {
  return samplesOf(await scrape(), 'regcred_credential_ready').map((s) => s.labels.credential ?? '');
}

/** The reconcile count once it has not moved for 1.5 s (the queue is idle). */
async function settledReconciles(): Promise<number> {
  let last = await reconciles();
  let stableSince = Date.now();
  return waitFor(
    'the operator to be idle',
    async () => {
      const now = await reconciles();
      if (now !== last) {
        last = now;
        stableSince = Date.now();
        return undefined;
      }
      return Date.now() - stableSince >= 1500 ? now : undefined;
    },
    60_000,
    250,
  );
}

/** A namespace with its default ServiceAccount, and a source Secret for the credentials of a test. */
async function namespaceWithSource(prefix: string): Promise<{ ns: string; src: string }> {
  const ns = await resources.namespace(prefix);
  await waitFor('default SA', () => readServiceAccount(ns));
  return { ns, src: await resources.source({ username: 'robot', password: uniqueName('pw') }) };
}

async function setEntries(namespace: string, entries: string[]): Promise<void> {
  const sa = (await readServiceAccount(namespace))!;
  sa.imagePullSecrets = entries.map((name) => ({ name }));
  await adminConnection().core.replaceNamespacedServiceAccount({ namespace, name: 'default', body: sa });
}

beforeAll(async () => {
  // Namespaces that earlier test files deleted are still terminating: each of their events wakes every
  // credential, and this file counts reconciles. Start once they are gone.
  await waitFor(
    'no namespace terminating',
    async () => (await adminConnection().core.listNamespace()).items.every((ns) => ns.status?.phase !== 'Terminating'),
    120_000,
    500,
  );
  operator = startOperator(['--resync-seconds', '3600']);
  metricsPort = (await operator.waitForLog((l) => l.msg === 'metrics server listening')).port as number;
  await operator.waitForLog((l) => l.msg === 'caches synced');
}, 150_000);

afterAll(async () => {
  await resources.deleteCredentials();
  await operator.stop();
  await resources.deleteSourcesAndNamespaces();
}, 120_000);

describe('two credentials on the same default ServiceAccount', () => {
  it('an entry of someone else wakes neither; an entry removed by hand wakes only its credential, which puts it back', async () => {
    const { ns, src } = await namespaceWithSource('sa-events');
    const a = await resources.credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    const b = await resources.credential({ static: { registry: 'quay.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    await waitForCondition(a, 'Ready', 'True');
    await waitForCondition(b, 'Ready', 'True');
    const both = await waitFor('both entries', async () => {
      const names = pullSecretNames(await readServiceAccount(ns));
      return names.includes(a) && names.includes(b) ? names : undefined;
    });

    // Someone else's entry: nothing either credential reads has changed, so neither runs, and nothing is written.
    let before = await settledReconciles();
    const writesBefore = operatorWrites().length;
    await setEntries(ns, [...both, 'someone-elses']);
    await sleep(2000);
    expect(await settledReconciles()).toBe(before);
    expect(operatorWrites().slice(writesBefore)).toEqual([]);
    expect(pullSecretNames(await readServiceAccount(ns))).toEqual([...both, 'someone-elses']);

    // a's entry removed by hand: a puts it back (with an hour to the next resync, only the event can have
    // done it), and no one else runs. a runs at most twice: its reconcile of that namespace and the whole
    // reconcile that follows to count it in status. The echo of its own patch wakes no one, even when the
    // watch shows it before the patch's response comes back (it waits for the response, which says it was
    // ours). Woken, b would add 2 more (its reconcile of the namespace and the whole one after it).
    before = await settledReconciles();
    await setEntries(ns, [...both.filter((n) => n !== a), 'someone-elses']);
    await waitFor(`${a} back in ${ns}/default`, async () => pullSecretNames(await readServiceAccount(ns)).includes(a));
    const ran = (await settledReconciles()) - before;
    expect(ran).toBeGreaterThanOrEqual(1);
    expect(ran).toBeLessThanOrEqual(2);
    const names = pullSecretNames(await readServiceAccount(ns));
    expect(names).toEqual([...both.filter((n) => n !== a), 'someone-elses', a]);
  }, 150_000);
});

describe('namespace events', () => {
  it('an annotation wakes no credential; a label that selects the namespace wakes them, and it is served', async () => {
    const { ns, src } = await namespaceWithSource('ns-events');
    const label = uniqueName('selected');
    const c = await resources.credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { selector: { matchLabels: { [label]: 'yes' } } } });
    await waitForCondition(c, 'SecretsSynced', 'True', 'NoTargets');

    let before = await settledReconciles();
    await annotateNamespace(ns, { 'example.com/note': 'hello' });
    await sleep(2000);
    expect(await settledReconciles()).toBe(before);

    before = await settledReconciles();
    const writesBefore = operatorWrites().length;
    const known = await credentialsKnown();
    expect(known).toEqual(expect.arrayContaining(resources.credentials));
    await labelNamespace(ns, { [label]: 'yes' });
    await waitFor(`${c} in ${ns}/default`, async () => pullSecretNames(await readServiceAccount(ns)).includes(c));
    // A label change wakes every credential (c, and those of the test before), then c's own writes come
    // back as events: at least one reconcile per credential.
    expect((await settledReconciles()) - before).toBeGreaterThanOrEqual(known.length);
    // Served with one Secret and one ServiceAccount patch; the others, woken, found nothing to write.
    const writes = operatorWrites().slice(writesBefore);
    expect(
      writes
        .filter((w) => w.objectRef?.namespace === ns)
        .map((w) => `${w.verb} ${w.objectRef?.resource} ${w.objectRef?.name} ${w.responseStatus?.code}`)
        .sort(),
    ).toEqual([`create secrets ${c} 201`, 'patch serviceaccounts default 200']);
    expect(writes.filter((w) => w.objectRef?.resource === 'registrycredentials' && w.objectRef.name !== c)).toEqual([]);
  }, 150_000);
});

describe('many credentials on the same ServiceAccounts', () => {
  it('their edits take turns: every ServiceAccount gets every entry with one patch each and no 409', async () => {
    const src = await resources.source({ username: 'robot', password: uniqueName('pw') });
    const namespaces: string[] = [];
    for (let i = 0; i < 3; i++) namespaces.push(await resources.namespace('many'));
    for (const ns of namespaces) await waitFor('default SA', () => readServiceAccount(ns));
    const since = auditEvents().length;
    const names = await Promise.all(
      Array.from({ length: 6 }, (_, i) => resources.credential({ static: { registry: `r${i}.example.com`, credentialsSecretRef: { name: src } }, namespaces: { names: namespaces } }, 'many')),
    );
    for (const name of names) await waitForCondition(name, 'Ready', 'True');
    for (const ns of namespaces) {
      await waitFor('all six entries', async () => {
        const listed = pullSecretNames(await readServiceAccount(ns));
        return names.every((n) => listed.includes(n)) ? true : undefined;
      });
    }
    await settledReconciles();
    const patches = auditEvents()
      .slice(since)
      .filter((e) => e.user.username === OPERATOR_USER && e.verb === 'patch' && e.objectRef?.resource === 'serviceaccounts' && namespaces.includes(e.objectRef.namespace ?? ''));
    expect(patches.filter((e) => e.responseStatus?.code === 409)).toEqual([]);
    for (const ns of namespaces) expect(patches.filter((e) => e.objectRef?.namespace === ns)).toHaveLength(6);
  }, 120_000);
});
