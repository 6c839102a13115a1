/**
 * Who owns a pull Secret, and what happens when that changes: a Secret handed over when the credential
 * that won it is deleted, a person's Secret adopted only when asked (and only a dockerconfigjson one),
 * and a Secret labelled for another credential never touched.
 *
 * The operator runs with a 10-minute resync, so a periodic resync never stands in for a missing wake-up:
 * every wait below is far shorter than that.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CoreV1Event, V1Secret } from '@kubernetes/client-node';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { adminConnection, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import {
  condition,
  deleteCredential,
  dockerConfig,
  getCredential,
  patchCredentialSpec,
  pullSecretNames,
  readSecret,
  readServiceAccount,
  waitForCondition,
  waitForCredentialGone,
  waitForPullSecrets,
  TestResources,
} from '../support/fixtures.js';

const MANAGED_BY = 'app.kubernetes.io/managed-by';
const CREDENTIAL = 'regcred.io/credential';
const ADDED = 'regcred.io/added-image-pull-secrets';

let operator: OperatorProcess;
const resources = new TestResources();

beforeAll(async () => {
  operator = startOperator(['--resync-seconds', '600']);
  await operator.waitForLog((l) => l.msg === 'caches synced');
});

afterAll(async () => {
  await resources.deleteCredentials();
  await operator.stop();
  await resources.deleteSourcesAndNamespaces();
  // Nothing secret in the operator's output, ever.
  expect(operator.rawOutput.join('\n')).not.toMatch(/pw-[0-9a-f]{6}/);
}, 120_000);

/** The auths a static username/password source publishes for one registry. */
function auths(registry: string, username: string, password: string): { auths: Record<string, { username: string; password: string; auth: string }> } {
  return { auths: { [registry]: { username, password, auth: Buffer.from(`${username}:${password}`).toString('base64') } } };
}

function staticSpec(registry: string, source: string, secretName: string, namespaces: string[]): RegistryCredentialSpec {
  return { static: { registry, credentialsSecretRef: { name: source } }, secretName, namespaces: { names: namespaces } };
}

async function createSecret(namespace: string, body: V1Secret): Promise<V1Secret> {
  return adminConnection().core.createNamespacedSecret({ namespace, body });
}

async function eventsAbout(credential: string): Promise<CoreV1Event[]> {
  const list = await adminConnection().core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${credential}` });
  return list.items;
}

function recorded(raw: string | undefined): string[] {
  return raw === undefined ? [] : (JSON.parse(raw) as string[]);
}

describe('a shared secretName', () => {
  it('hands the Secret to the waiting credential as soon as the one that held it is deleted', async () => {
    const ns = await resources.namespace('handover');
    await waitFor(`${ns}/default ServiceAccount`, () => readServiceAccount(ns));
    const srcX = await resources.source({ username: 'robot-x', password: 'pw-0000aa' });
    const srcY = await resources.source({ username: 'robot-y', password: 'pw-0000bb' });
    const x = await resources.credential(staticSpec('x.example.com', srcX, 'shared', [ns]), 'x');
    await waitForCondition(x, 'Ready', 'True');
    await waitForPullSecrets(ns, ['shared']);
    const y = await resources.credential(staticSpec('y.example.com', srcY, 'shared', [ns]), 'y');

    const lost = await waitForCondition(y, 'SecretsSynced', 'False', 'SecretConflict');
    expect(lost.status?.failedNamespaces?.map(({ namespace, reason }) => ({ namespace, reason }))).toEqual([{ namespace: ns, reason: 'SecretConflict' }]);
    expect((await readSecret(ns, 'shared'))?.metadata?.labels?.[CREDENTIAL]).toBe(x);

    // Nothing but X's deletion happens from here on: Y is not touched.
    await deleteCredential(x);
    await waitFor(
      `Y (${y}) to take over Secret shared in ${ns} after X (${x}) was deleted`,
      async () => {
        expect(await getCredential(x)).toBeUndefined();
        const secret = await readSecret(ns, 'shared');
        expect(secret?.metadata?.labels?.[CREDENTIAL]).toBe(y);
        expect(dockerConfig(secret)).toEqual(auths('y.example.com', 'robot-y', 'pw-0000bb'));
        const sa = await readServiceAccount(ns);
        expect(pullSecretNames(sa)).toEqual(['shared']);
        expect(recorded(sa?.metadata?.annotations?.[ADDED])).toEqual(['shared']);
        const current = await getCredential(y);
        expect(current?.status?.observedGeneration).toBe(current?.metadata.generation);
        expect(condition(current, 'Ready')).toMatchObject({ status: 'True' });
        expect(current?.status?.failedNamespaces ?? []).toEqual([]);
        return true;
      },
      20_000,
    );
  }, 120_000);
});

describe('adopting a Secret that exists', () => {
  it('is opt-in, takes only a dockerconfigjson Secret, keeps its labels and annotations, and deletes it with the credential', async () => {
    const n1 = await resources.namespace('adopt');
    const n2 = await resources.namespace('adopt-opaque');
    await waitFor(`${n1}/default ServiceAccount`, () => readServiceAccount(n1));
    const handMade = Buffer.from(JSON.stringify(auths('old.example.com', 'person', 'hunter2'))).toString('base64');
    const dockerSecret = await createSecret(n1, {
      metadata: { name: 'pull', labels: { team: 'x' }, annotations: { 'example.com/owner': 'platform-team' } },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': handMade },
    });
    const opaqueSecret = await createSecret(n2, { metadata: { name: 'pull' }, type: 'Opaque', stringData: { hello: 'world' } });
    const src = await resources.source({ username: 'robot-c', password: 'pw-0000cc' });
    const c = await resources.credential(staticSpec('c.example.com', src, 'pull', [n1, n2]), 'adopter');

    const refused = await waitForCondition(c, 'SecretsSynced', 'False', 'SecretConflict');
    const failed = refused.status?.failedNamespaces ?? [];
    expect(failed.map(({ namespace, reason }) => ({ namespace, reason }))).toEqual(
      [
        { namespace: n1, reason: 'SecretConflict' },
        { namespace: n2, reason: 'SecretConflict' },
      ].sort((a, b) => (a.namespace < b.namespace ? -1 : 1)),
    );
    // Each message says how to fix it.
    for (const f of failed) expect(f.message).toContain('spec.adoptExisting');
    expect((await readSecret(n1, 'pull'))?.metadata?.resourceVersion).toBe(dockerSecret.metadata?.resourceVersion);
    expect((await readSecret(n2, 'pull'))?.metadata?.resourceVersion).toBe(opaqueSecret.metadata?.resourceVersion);
    expect(pullSecretNames(await readServiceAccount(n1))).toEqual([]);

    await patchCredentialSpec(c, { adoptExisting: true });
    await waitFor(
      `${c} to adopt ${n1}/pull and still refuse ${n2}/pull`,
      async () => {
        const adopted = await readSecret(n1, 'pull');
        expect(adopted?.type).toBe('kubernetes.io/dockerconfigjson');
        expect(adopted?.metadata?.labels).toEqual({ team: 'x', [MANAGED_BY]: 'regcred-operator', [CREDENTIAL]: c });
        expect(adopted?.metadata?.annotations?.['example.com/owner']).toBe('platform-team');
        expect(dockerConfig(adopted)).toEqual(auths('c.example.com', 'robot-c', 'pw-0000cc'));
        const current = await getCredential(c);
        expect(adopted?.metadata?.ownerReferences?.filter((ref) => ref.kind === 'RegistryCredential')).toEqual([
          expect.objectContaining({ name: c, uid: current?.metadata.uid }),
        ]);
        expect(current?.status?.observedGeneration).toBe(current?.metadata.generation);
        expect(current?.status?.failedNamespaces).toEqual([
          { namespace: n2, reason: 'SecretConflict', message: expect.stringContaining('Opaque') },
        ]);
        expect(current?.status).toMatchObject({ targetNamespaces: 2, syncedNamespaces: 1 });
        const events = await eventsAbout(c);
        expect(events.filter((e) => e.reason === 'Adopted' && e.message?.includes(n1))).toHaveLength(1);
        return true;
      },
      20_000,
    );
    await waitForPullSecrets(n1, ['pull']);
    const untouched = await readSecret(n2, 'pull');
    expect(untouched?.metadata?.resourceVersion).toBe(opaqueSecret.metadata?.resourceVersion);
    expect(untouched?.type).toBe('Opaque');
    expect(untouched?.data).toEqual(opaqueSecret.data);
    expect(untouched?.metadata?.labels).toEqual(opaqueSecret.metadata?.labels);

    // Adopted is C's: it goes with C. The Opaque Secret was never C's.
    await deleteCredential(c);
    await waitForCredentialGone(c);
    await waitFor(`${n1}/pull deleted with ${c}`, async () => (await readSecret(n1, 'pull')) === undefined, 20_000);
    expect((await readSecret(n2, 'pull'))?.metadata?.resourceVersion).toBe(opaqueSecret.metadata?.resourceVersion);
    await waitForPullSecrets(n1, []);
  }, 120_000);
});

describe("another credential's Secret", () => {
  it('is never touched, even with adoptExisting, and the conflict names its owner and the fix', async () => {
    const ns = await resources.namespace('theirs');
    await waitFor(`${ns}/default ServiceAccount`, () => readServiceAccount(ns));
    const secretName = 'theirs';
    const before = await createSecret(ns, {
      metadata: { name: secretName, labels: { [MANAGED_BY]: 'regcred-operator', [CREDENTIAL]: 'someone-else' } },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify(auths('other.example.com', 'other', 'secret'))).toString('base64') },
    });
    const src = await resources.source({ username: 'robot-d', password: uniqueName('pw') });
    const c = await resources.credential(staticSpec('d.example.com', src, secretName, [ns]), 'intruder');

    const expectConflict = async (adoptExisting: boolean): Promise<void> => {
      const current = await waitForCondition(c, 'SecretsSynced', 'False', 'SecretConflict');
      expect(current.spec.adoptExisting ?? false).toBe(adoptExisting);
      const failed = current.status?.failedNamespaces ?? [];
      expect(failed.map(({ namespace, reason }) => ({ namespace, reason }))).toEqual([{ namespace: ns, reason: 'SecretConflict' }]);
      expect(failed[0]?.message).toContain('someone-else');
      expect(failed[0]?.message).toContain('spec.secretName');
      const after = await readSecret(ns, secretName);
      expect(after?.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
      expect(after?.metadata?.labels).toEqual(before.metadata?.labels);
      expect(after?.data).toEqual(before.data);
      expect(pullSecretNames(await readServiceAccount(ns))).toEqual([]);
    };
    await expectConflict(false);
    await patchCredentialSpec(c, { adoptExisting: true });
    await expectConflict(true);
  }, 120_000);
});
