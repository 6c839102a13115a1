import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { kubectl, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import {
  condition,
  createCredential,
  deleteCredential,
  deleteNamespace,
  deleteSourceSecret,
  dockerConfig,
  getCredential,
  inArrivalOrder,
  labelNamespace,
  OPERATOR_USER,
  operatorRequests,
  operatorWrites,
  patchCredentialSpec,
  pullSecretNames,
  readSecret,
  readServiceAccount,
  replaceSourceSecret,
  sleep,
  waitForCondition,
  waitForCredentialGone,
  waitForPullSecrets,
  TestResources,
} from '../support/fixtures.js';
import { adminConnection } from '../support/cluster.js';
import { startAdmissionWebhook } from '../support/webhook.js';

let operator: OperatorProcess;
const resources = new TestResources();

function namespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  return resources.namespace(prefix, labels);
}

function source(username = 'robot', password = uniqueName('pw')): Promise<string> {
  return resources.source({ username, password });
}

function credential(spec: Parameters<typeof createCredential>[1], prefix = 'rc'): Promise<string> {
  return resources.credential(spec, prefix);
}

async function secretsIn(name: string, nsList: string[]): Promise<(string | undefined)[]> {
  return Promise.all(nsList.map(async (ns) => (await readSecret(ns, name))?.metadata?.name));
}

/**
 * What the operator wrote to Secrets named `secretName`, from the control plane's audit log:
 * "verb namespace response-code", sorted (writes to different namespaces run concurrently).
 */
function secretWrites(secretName: string): string[] {
  return operatorWrites()
    .filter((e) => e.objectRef?.resource === 'secrets' && e.objectRef.name === secretName)
    .map((e) => `${e.verb} ${e.objectRef?.namespace} ${e.responseStatus?.code}`)
    .sort();
}

beforeAll(async () => {
  operator = startOperator(['--resync-seconds', '2']);
  await operator.waitForLog((l) => l.msg === 'caches synced');
});

afterAll(async () => {
  await resources.deleteCredentials();
  await operator.stop();
  await resources.deleteSourcesAndNamespaces();
  // Nothing secret in the operator's output, ever.
  const output = operator.rawOutput.join('\n');
  expect(output).not.toMatch(/pw-[0-9a-f]{6}/);
}, 120_000);

describe('fan-out of a static credential', () => {
  it('publishes to named namespaces, to a label selector, minus exclude, with a correct dockerconfigjson', async () => {
    const named = await namespace('named');
    const selected = await namespace('sel', { team: 'blue' });
    const excluded = await namespace('excl', { team: 'blue' });
    const other = await namespace('other', { team: 'red' });
    const src = await source('robot', 'pw-aaaaaa');
    const name = await credential({
      static: { registry: 'registry.example.com:5000', credentialsSecretRef: { name: src } },
      namespaces: { names: [named], selector: { matchLabels: { team: 'blue' } }, exclude: [excluded] },
    });
    const ready = await waitForCondition(name, 'Ready', 'True');
    expect(ready.status).toMatchObject({ provider: 'static', targetNamespaces: 2, syncedNamespaces: 2, registries: ['registry.example.com:5000'] });
    expect(await secretsIn(name, [named, selected, excluded, other])).toEqual([name, name, undefined, undefined]);

    const secret = await readSecret(named, name);
    expect(secret?.type).toBe('kubernetes.io/dockerconfigjson');
    expect(secret?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'regcred-operator', 'regcred.io/credential': name });
    expect(secret?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'RegistryCredential', name, uid: ready.metadata.uid });
    expect(dockerConfig(secret)).toEqual({
      auths: { 'registry.example.com:5000': { username: 'robot', password: 'pw-aaaaaa', auth: Buffer.from('robot:pw-aaaaaa').toString('base64') } },
    });
    await waitForPullSecrets(named, [name]);
    await waitForPullSecrets(selected, [name]);
    expect(pullSecretNames(await readServiceAccount(excluded))).toEqual([]);
    // One Secret written per targeted namespace, once: two creates, nothing in the others, no rewrite.
    expect(secretWrites(name)).toEqual([`create ${named} 201`, `create ${selected} 201`].sort());
  });

  it('targets every namespace when none are named, but system namespaces only when named', async () => {
    const plain = await namespace('all');
    const src = await source();
    const everywhere = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } } });
    await waitForCondition(everywhere, 'Ready', 'True');
    expect(await secretsIn(everywhere, [plain, 'default'])).toEqual([everywhere, everywhere]);
    expect(await secretsIn(everywhere, ['kube-system', 'kube-public', 'kube-node-lease'])).toEqual([undefined, undefined, undefined]);

    const system = await credential({
      static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } },
      namespaces: { names: ['kube-system'] },
      serviceAccounts: { names: [] },
    });
    await waitForCondition(system, 'Ready', 'True');
    expect(await secretsIn(system, ['kube-system', 'kube-public'])).toEqual([system, undefined]);

    await deleteCredential(everywhere);
    await waitForCredentialGone(everywhere);
    expect(await secretsIn(everywhere, [plain, 'default'])).toEqual([undefined, undefined]);
  });
});

describe('namespaces over time', () => {
  it('serves a namespace created later, drops one relabelled out, and skips one being deleted', async () => {
    const src = await source();
    const name = await credential({
      static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } },
      namespaces: { selector: { matchLabels: { wave: 'late' } } },
    });
    await waitForCondition(name, 'SecretsSynced', 'True', 'NoTargets');

    const late = await namespace('late', { wave: 'late' });
    // The default ServiceAccount appears asynchronously after the namespace; either order must end the same.
    await waitFor(`secret in ${late}`, async () => (await readSecret(late, name)) !== undefined);
    await waitForPullSecrets(late, [name]);

    // A burst: counts that arrive within a second of the last status write are held back, and the key comes
    // back for them alone (a recount); status must end up counting every namespace without any other event.
    const burst = await Promise.all([1, 2, 3].map(() => namespace('burst', { wave: 'late' })));
    await Promise.all(burst.map((ns) => waitForPullSecrets(ns, [name])));
    await waitFor('status counts the burst', async () => {
      const status = (await getCredential(name))?.status;
      return status?.targetNamespaces === 4 && status.syncedNamespaces === 4 && status.patchedServiceAccounts === 4;
    });
    expect(condition(await getCredential(name), 'Ready')?.message).toBe(`Secret ${name} is current in 4 namespaces`);
    await Promise.all(burst.map((ns) => deleteNamespace(ns)));

    await labelNamespace(late, { wave: null });
    await waitFor(`secret gone from ${late}`, async () => (await readSecret(late, name)) === undefined);
    await waitForPullSecrets(late, []);

    const doomed = await namespace('doomed', { wave: 'late' });
    await waitForPullSecrets(doomed, [name]);
    await deleteNamespace(doomed);
    await waitFor(`${doomed} gone`, async () => {
      const list = await adminConnection().core.listNamespace();
      return !list.items.some((n) => n.metadata?.name === doomed);
    }, 60_000);
    const after = await waitForCondition(name, 'Ready', 'True');
    expect(after.status?.failedNamespaces ?? []).toEqual([]);
    expect(after.status?.targetNamespaces).toBe(0);
  });
});

describe('ownership', () => {
  it('restores a managed Secret that was deleted or edited by hand', async () => {
    const ns = await namespace('restore');
    const src = await source('robot', 'pw-bbbbbb');
    const name = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    await waitForCondition(name, 'Ready', 'True');
    const original = (await readSecret(ns, name))!.data!['.dockerconfigjson'];

    await adminConnection().core.deleteNamespacedSecret({ namespace: ns, name });
    await waitFor('secret restored', async () => (await readSecret(ns, name))?.data?.['.dockerconfigjson'] === original);

    const edited = (await readSecret(ns, name))!;
    edited.data = { '.dockerconfigjson': Buffer.from('{"auths":{"evil.example.com":{"auth":"eDp5"}}}').toString('base64') };
    edited.metadata!.labels = { ...edited.metadata!.labels, 'someone-else': 'keeps-this' };
    await adminConnection().core.replaceNamespacedSecret({ namespace: ns, name, body: edited });
    await waitFor('secret data restored', async () => (await readSecret(ns, name))?.data?.['.dockerconfigjson'] === original);
    expect((await readSecret(ns, name))?.metadata?.labels?.['someone-else']).toBe('keeps-this');
  });

  it('leaves a pre-existing unmanaged Secret byte-for-byte unchanged and reports the conflict', async () => {
    const ns = await namespace('conflict');
    const ok = await namespace('ok');
    const secretName = uniqueName('taken');
    await adminConnection().core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: secretName, labels: { mine: 'yes' } }, type: 'Opaque', stringData: { hello: 'world' } },
    });
    const before = await readSecret(ns, secretName);
    const src = await source();
    const name = await credential({
      static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } },
      secretName,
      namespaces: { names: [ns, ok] },
    });
    const status = await waitForCondition(name, 'SecretsSynced', 'False', 'SecretConflict');
    expect(status.status?.failedNamespaces).toEqual([
      {
        namespace: ns,
        reason: 'SecretConflict',
        message: `Secret ${secretName} already exists in ${ns} and is not managed by regcred-operator, so it is left alone: delete it, choose another spec.secretName, or set spec.adoptExisting: true to take over existing kubernetes.io/dockerconfigjson Secrets`,
      },
    ]);
    expect(status.status).toMatchObject({ targetNamespaces: 2, syncedNamespaces: 1 });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretConflict' });
    const after = await readSecret(ns, secretName);
    expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
    expect(after?.data).toEqual(before?.data);
    // Its ServiceAccount does not get an entry pointing at someone else's Secret.
    expect(pullSecretNames(await readServiceAccount(ns))).toEqual([]);
    await waitForPullSecrets(ok, [secretName]);

    const described = await kubectl(['describe', 'registrycredential', name]);
    expect(described.stdout).toMatch(/Warning\s+SecretConflict/);
    expect(described.stdout).toContain(ns);
  });

  it('settles two credentials claiming one Secret name: the older wins, the newer reports the conflict', async () => {
    const ns = await namespace('claim');
    const src = await source();
    const secretName = uniqueName('shared');
    const older = await credential({ static: { registry: 'a.example.com', credentialsSecretRef: { name: src } }, secretName, namespaces: { names: [ns] } });
    await waitForCondition(older, 'Ready', 'True');
    const newer = await credential({ static: { registry: 'b.example.com', credentialsSecretRef: { name: src } }, secretName, namespaces: { names: [ns] } });
    const lost = await waitForCondition(newer, 'SecretsSynced', 'False', 'SecretConflict');
    expect(lost.status?.failedNamespaces?.[0]?.message).toContain(`RegistryCredential ${older}`);
    expect(Object.keys(dockerConfig(await readSecret(ns, secretName))!.auths)).toEqual(['a.example.com']);
    await sleep(2500);
    expect(Object.keys(dockerConfig(await readSecret(ns, secretName))!.auths)).toEqual(['a.example.com']);
    expect(pullSecretNames(await readServiceAccount(ns))).toEqual([secretName]);
  });
});

describe('ServiceAccount imagePullSecrets', () => {
  it('keeps other entries in order, and never removes an entry it did not add', async () => {
    const ns = await namespace('sa');
    await waitFor('default SA', () => readServiceAccount(ns));
    const core = adminConnection().core;
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'first' }, { name: 'second' }] } });
    const preexisting = uniqueName('pre');
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'deployer' }, imagePullSecrets: [{ name: preexisting }] } });
    const src = await source();
    const a = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] }, serviceAccounts: { names: ['*'] } });
    const b = await credential({
      static: { registry: 'quay.io', credentialsSecretRef: { name: src } },
      secretName: preexisting,
      namespaces: { names: [ns] },
      serviceAccounts: { names: ['deployer'] },
    });
    await waitForCondition(a, 'Ready', 'True');
    await waitForCondition(b, 'Ready', 'True');
    await waitForPullSecrets(ns, ['first', 'second', a], 'builder');
    await waitForPullSecrets(ns, [preexisting, a], 'deployer');
    await waitForPullSecrets(ns, [a], 'default');

    await deleteCredential(a);
    await deleteCredential(b);
    await waitForCredentialGone(a);
    await waitForCredentialGone(b);
    expect(pullSecretNames(await readServiceAccount(ns, 'builder'))).toEqual(['first', 'second']);
    // It was there before b existed: someone else's, kept.
    expect(pullSecretNames(await readServiceAccount(ns, 'deployer'))).toEqual([preexisting]);
    expect(pullSecretNames(await readServiceAccount(ns, 'default'))).toEqual([]);
  });

  it('loses nothing to a concurrent writer editing the same ServiceAccount in a loop', async () => {
    const ns = await namespace('race');
    await waitFor('default SA', () => readServiceAccount(ns));
    const src = await source();
    const core = adminConnection().core;
    let stop = false;
    let writes = 0;
    let conflicts = 0;
    // Another controller that adds its own entry and removes it, over and over, with optimistic concurrency.
    const other = (async () => {
      for (let i = 0; !stop; i++) {
        const sa = (await readServiceAccount(ns))!;
        const mine = `other-${i % 3}`;
        const list = (sa.imagePullSecrets ?? []).filter((r) => !r.name?.startsWith('other-'));
        sa.imagePullSecrets = [...list, { name: mine }, { name: 'other-keep' }];
        try {
          await core.replaceNamespacedServiceAccount({ namespace: ns, name: 'default', body: sa });
          writes += 1;
        } catch (err) {
          if ((err as { code?: number }).code !== 409) throw err;
          conflicts += 1;
        }
      }
    })();
    const name = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    await waitForCondition(name, 'Ready', 'True');
    await sleep(3000);
    stop = true;
    await other;
    expect(writes).toBeGreaterThan(5);
    const names = pullSecretNames(await readServiceAccount(ns));
    expect(names).toContain(name);
    expect(names).toContain('other-keep');
    expect(names.filter((n) => n === name)).toHaveLength(1);

    // What the operator sent about this ServiceAccount (audit log), in order: however many of its patches
    // lost to the loop (409: the loop wrote after the version its cache held; timing decides how many, often
    // none; the next test makes one happen), each was followed by a GET and another patch, and exactly one
    // patch succeeded, the last: the loop keeps the entry, so nothing needed writing after it.
    const sent = inArrivalOrder(operatorRequests())
      .filter((e) => e.objectRef?.resource === 'serviceaccounts' && e.objectRef.namespace === ns && e.objectRef.name === 'default')
      .map((e) => `${e.verb} ${e.responseStatus?.code}`);
    const rejected = sent.filter((r) => r === 'patch 409').length;
    expect(sent).toEqual([...Array.from({ length: rejected }, () => ['patch 409', 'get 200']).flat(), 'patch 200']);
    // The loop's read-modify-writes could lose a race only to that one successful patch.
    expect(conflicts).toBeLessThanOrEqual(1);
    // One namespace targeted: one Secret created, once.
    expect(secretWrites(name)).toEqual([`create ${ns} 201`]);
  });

  it('on a 409 Conflict re-reads the ServiceAccount and retries, keeping the entry another writer added meanwhile', async () => {
    const ns = await namespace('conflict-sa');
    await waitFor('default SA', () => readServiceAccount(ns));
    const core = adminConnection().core;
    // A second ServiceAccount, which no credential selects, to see when the webhook is in place.
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'webhook-probe' } } });
    // Another controller's write lands while the operator's first patch of ns/default is inside the API
    // server, after its resourceVersion matched and before it is stored: the API server must answer 409.
    let interleaved = 0;
    const webhook = await startAdmissionWebhook(uniqueName('sa-race'), async (request) => {
      if (request.userInfo.username !== OPERATOR_USER || request.name !== 'default' || interleaved > 0) return;
      interleaved += 1;
      const sa = (await readServiceAccount(ns))!;
      sa.imagePullSecrets = [...(sa.imagePullSecrets ?? []), { name: 'other-keep' }];
      await core.replaceNamespacedServiceAccount({ namespace: ns, name: 'default', body: sa });
    });
    try {
      await webhook.register({
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['serviceaccounts'], scope: 'Namespaced' }],
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      });
      // The API server picks up a new webhook configuration asynchronously.
      await waitFor('the webhook to be called', async () => {
        await core.patchNamespacedServiceAccount(
          { namespace: ns, name: 'webhook-probe', body: { metadata: { labels: { probe: uniqueName('p') } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return webhook.requests.some((r) => r.name === 'webhook-probe');
      });

      const src = await source();
      const name = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
      await waitForCondition(name, 'Ready', 'True');
      // The other writer's entry first (its write landed first), then ours, once.
      await waitForPullSecrets(ns, ['other-keep', name]);
      expect(interleaved).toBe(1);

      // The audit log: the first patch was answered 409, the operator read the ServiceAccount again and
      // sent one more patch, computed from what it read, which succeeded. Nothing else.
      const sent = inArrivalOrder(operatorRequests())
        .filter((e) => e.objectRef?.resource === 'serviceaccounts' && e.objectRef.namespace === ns && e.objectRef.name === 'default')
        .map((e) => `${e.verb} ${e.responseStatus?.code}`);
      expect(sent).toEqual(['patch 409', 'get 200', 'patch 200']);
      // Both patches reached admission (the 409 came after it, when the write was stored).
      expect(webhook.requests.filter((r) => r.userInfo.username === OPERATOR_USER).map((r) => `${r.operation} ${r.name}`)).toEqual(['UPDATE default', 'UPDATE default']);
      // And the retry was not a failure: one reconcile did it all, with no backoff.
      expect(operator.logs.filter((l) => l.msg === 'reconcile failed; will retry' && l.credential === name)).toEqual([]);
      expect(secretWrites(name)).toEqual([`create ${ns} 201`]);
    } finally {
      await webhook.stop();
    }
  });
});

describe('the source Secret', () => {
  it('reaches every namespace when it changes; when deleted, Ready=False names it and published Secrets stay', async () => {
    const nsList = [await namespace('rot'), await namespace('rot'), await namespace('rot')];
    const src = await source('robot', 'pw-cccccc');
    const name = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: nsList } });
    await waitForCondition(name, 'Ready', 'True');

    await replaceSourceSecret(src, { username: 'robot', password: 'pw-dddddd' });
    await waitFor('new password everywhere', async () => {
      const passwords = await Promise.all(nsList.map(async (ns) => dockerConfig(await readSecret(ns, name))?.auths['ghcr.io']?.password));
      return passwords.every((p) => p === 'pw-dddddd');
    }, 15_000);

    await deleteSourceSecret(src);
    const broken = await waitForCondition(name, 'Ready', 'False', 'SourceSecretNotFound');
    expect(condition(broken, 'Ready')?.message).toContain(`regcred-system/${src}`);
    expect(condition(broken, 'TokenAvailable')).toMatchObject({ status: 'False', reason: 'SourceSecretNotFound' });
    for (const ns of nsList) expect(dockerConfig(await readSecret(ns, name))?.auths['ghcr.io']?.password).toBe('pw-dddddd');
    const described = await kubectl(['describe', 'registrycredential', name]);
    expect(described.stdout).toMatch(/Warning\s+SourceSecretNotFound/);
    expect(described.stdout).not.toContain('pw-dddddd');
    // Three namespaces: three Secrets created, each updated once for the new password, and none touched
    // when the source went away.
    expect(secretWrites(name)).toEqual(nsList.flatMap((ns) => [`create ${ns} 201`, `update ${ns} 200`]).sort());
  });
});

describe('invalid specs that pass the schema', () => {
  it('reports a specific reason, is not retried hot, and does not disturb other credentials', async () => {
    const ns = await namespace('inv');
    const src = await source();
    const healthy = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    await waitForCondition(healthy, 'Ready', 'True');

    const badCron = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] }, refresh: { schedule: '61 * * * *' } });
    const cron = await waitForCondition(badCron, 'Ready', 'False', 'InvalidSchedule');
    expect(condition(cron, 'Ready')?.message).toMatch(/spec\.refresh\.schedule/);

    const neither = await resources.source({ token: 'x' });
    const badSource = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: neither } }, namespaces: { names: [ns] } });
    const bad = await waitForCondition(badSource, 'Ready', 'False', 'InvalidSourceSecret');
    expect(condition(bad, 'Ready')?.message).toMatch(/"username" and "password"/);
    expect(condition(bad, 'Ready')?.message).toContain('token');

    const failures = operator.logs.filter((l) => l.msg === 'reconcile failed; will retry' && (l.credential === badCron || l.credential === badSource));
    expect(failures).toEqual([]);
    expect(condition(await getCredential(healthy), 'Ready')?.status).toBe('True');
    expect(await readSecret(ns, badCron)).toBeUndefined();

    await patchCredentialSpec(badCron, { refresh: { schedule: '0 */6 * * *' } });
    await waitForCondition(badCron, 'Ready', 'True');
  });
});

describe('deletion', () => {
  it.each([{ policy: 'Delete' as const }, { policy: 'Orphan' as const }])('with deletionPolicy $policy releases the finalizer', async ({ policy }) => {
    const ns = await namespace('del');
    const src = await source();
    const name = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: [ns] }, deletionPolicy: policy });
    const ready = await waitForCondition(name, 'Ready', 'True');
    expect(ready.metadata.finalizers).toContain('regcred.io/cleanup');
    await waitForPullSecrets(ns, [name]);
    await deleteCredential(name);
    await waitForCredentialGone(name);
    if (policy === 'Delete') {
      expect(await readSecret(ns, name)).toBeUndefined();
      expect(pullSecretNames(await readServiceAccount(ns))).toEqual([]);
    } else {
      // Give the garbage collector time to act, had an ownerReference been left behind.
      await sleep(3000);
      const kept = await readSecret(ns, name);
      expect(kept?.type).toBe('kubernetes.io/dockerconfigjson');
      expect(kept?.metadata?.ownerReferences ?? []).toEqual([]);
      expect(pullSecretNames(await readServiceAccount(ns))).toEqual([name]);
    }
  });
});

describe('steady state', () => {
  it('makes no API writes over several resyncs once converged', async () => {
    const nsList = [await namespace('calm'), await namespace('calm')];
    const src = await source();
    const name = await credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } }, namespaces: { names: nsList } });
    await waitForCondition(name, 'Ready', 'True');
    for (const ns of nsList) await waitForPullSecrets(ns, [name]);
    await sleep(2000);
    const before = operatorWrites().length;
    const resyncsBefore = operator.logs.filter((l) => l.msg === 'periodic resync').length;
    await sleep(7000);
    const resyncs = operator.logs.filter((l) => l.msg === 'periodic resync').length - resyncsBefore;
    expect(resyncs).toBeGreaterThanOrEqual(2);
    const writes = operatorWrites().slice(before);
    expect(writes.map((w) => `${w.verb} ${w.objectRef?.resource} ${w.objectRef?.namespace ?? ''}/${w.objectRef?.name ?? ''}`)).toEqual([]);
  }, 60_000);
});
