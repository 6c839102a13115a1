/**
 * Every change of a RegistryCredential's spec, end to end: after each one the cluster holds what the new
 * spec asks for and nothing the operator added under the old one, and whatever the operator did not add
 * (a person's Secrets and imagePullSecrets entries, even ones with the operator's names) is untouched.
 *
 * The operator runs with a 10-minute resync, so a periodic resync never stands in for a missing wake-up.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions, type V1ServiceAccount } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.js';
import type { RegistryCredential } from '../../src/api/types.js';
import { adminConnection, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import {
  condition,
  deleteCredential,
  dockerConfig,
  getCredential,
  labelNamespace,
  patchCredentialSpec,
  pullSecretNames,
  readSecret,
  readServiceAccount,
  waitForCondition,
  waitForCredentialGone,
  TestResources,
} from '../support/fixtures.js';
import { generateServiceAccountKey, startGoogleTokenServer, type GoogleTokenServer } from '../support/google-token-server.js';
import { googleTestEnv } from '../support/provider-env.js';

const MANAGED_BY = 'app.kubernetes.io/managed-by';
const CREDENTIAL = 'regcred.io/credential';
const ADDED = 'regcred.io/added-image-pull-secrets';
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

let operator: OperatorProcess;
let google: GoogleTokenServer;
let dir: string;
const resources = new TestResources();

beforeAll(async () => {
  google = await startGoogleTokenServer({ lifetimeSeconds: 1800 });
  dir = mkdtempSync(join(tmpdir(), 'regcred-spec-changes-'));
  operator = startOperator(['--resync-seconds', '600'], googleTestEnv(google, dir));
  await operator.waitForLog((l) => l.msg === 'caches synced');
});

afterAll(async () => {
  await resources.deleteCredentials();
  await operator.stop();
  await resources.deleteSourcesAndNamespaces();
  await google.close();
  rmSync(dir, { recursive: true, force: true });
  // Nothing secret in the operator's output, ever.
  const output = operator.rawOutput.join('\n');
  expect(output).not.toMatch(/pw-[0-9a-f]{6}/);
  expect(output).not.toMatch(/ya29\.|PRIVATE KEY/);
}, 120_000);

/** A JSON merge patch of the spec that may remove fields (null). */
async function mergePatchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
  await adminConnection().custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name, body: { spec } }, MERGE_PATCH);
}

/** Waits for the namespace's default ServiceAccount (created asynchronously after the namespace). */
async function defaultServiceAccount(namespace: string): Promise<V1ServiceAccount> {
  return waitFor(`${namespace}/default ServiceAccount`, () => readServiceAccount(namespace));
}

/** A person's (or another tool's) entries, set before the operator adds anything. */
async function setPullSecrets(namespace: string, serviceAccount: string, names: string[]): Promise<void> {
  await adminConnection().core.patchNamespacedServiceAccount(
    { namespace, name: serviceAccount, body: { imagePullSecrets: names.map((name) => ({ name })) } },
    MERGE_PATCH,
  );
}

async function createServiceAccount(namespace: string, name: string, pullSecrets: string[] = []): Promise<void> {
  await adminConnection().core.createNamespacedServiceAccount({
    namespace,
    body: { metadata: { name }, imagePullSecrets: pullSecrets.map((n) => ({ name: n })) },
  });
}

/** What the operator's annotation says it added; undefined when the annotation is absent. */
function recordedOn(sa: V1ServiceAccount | undefined): string[] | undefined {
  const raw = sa?.metadata?.annotations?.[ADDED];
  return raw === undefined ? undefined : (JSON.parse(raw) as string[]);
}

/** The entries and the record of one ServiceAccount, for one exact comparison. */
async function accountState(namespace: string, name = 'default'): Promise<{ entries: string[]; recorded: string[] | undefined }> {
  const sa = await readServiceAccount(namespace, name);
  return { entries: pullSecretNames(sa), recorded: recordedOn(sa) };
}

function auths(registry: string, username: string, password: string): { auths: Record<string, { username: string; password: string; auth: string }> } {
  return { auths: { [registry]: { username, password, auth: Buffer.from(`${username}:${password}`).toString('base64') } } };
}

/** Waits until the status describes the current generation, then returns the credential. */
async function observed(name: string, timeoutMs = 30_000): Promise<RegistryCredential> {
  return waitFor(
    `${name} status to describe its current generation`,
    async () => {
      const c = await getCredential(name);
      return c?.status?.observedGeneration === c?.metadata.generation ? c : undefined;
    },
    timeoutMs,
  );
}

/** Waits until `check` (exact expectations) holds; a timeout reports the last expectation that failed. */
async function settles(what: string, check: () => Promise<void>, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    what,
    async () => {
      await check();
      return true;
    },
    timeoutMs,
  );
}

describe('renaming spec.secretName', () => {
  it('moves Secrets and entries to the new name, keeps a person\'s entries, and cleans up both names on delete', async () => {
    const n1 = await resources.namespace('rename');
    const n2 = await resources.namespace('rename');
    await defaultServiceAccount(n1);
    await defaultServiceAccount(n2);
    // A person's entries, there before the credential: keep-me, and pull2 (the name the credential moves to).
    await createServiceAccount(n1, 'builder', ['keep-me', 'pull2']);
    await createServiceAccount(n2, 'builder');
    const src = await resources.source({ username: 'robot', password: uniqueName('pw') });
    const name = await resources.credential({
      static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } },
      secretName: 'pull',
      namespaces: { names: [n1, n2] },
      serviceAccounts: { names: ['default', 'builder'] },
    });
    await waitForCondition(name, 'Ready', 'True');
    await settles('pull everywhere before the rename', async () => {
      for (const ns of [n1, n2]) {
        expect((await readSecret(ns, 'pull'))?.metadata?.labels?.[CREDENTIAL]).toBe(name);
        expect(await accountState(ns)).toEqual({ entries: ['pull'], recorded: ['pull'] });
      }
      expect(await accountState(n1, 'builder')).toEqual({ entries: ['keep-me', 'pull2', 'pull'], recorded: ['pull'] });
      expect(await accountState(n2, 'builder')).toEqual({ entries: ['pull'], recorded: ['pull'] });
    });

    await patchCredentialSpec(name, { secretName: 'pull2' });
    await waitForCondition(name, 'Ready', 'True');
    await settles('everything moved from pull to pull2', async () => {
      for (const ns of [n1, n2]) {
        expect(await readSecret(ns, 'pull')).toBeUndefined();
        const renamed = await readSecret(ns, 'pull2');
        expect(renamed?.metadata?.labels).toMatchObject({ [MANAGED_BY]: 'regcred-operator', [CREDENTIAL]: name });
        expect(await accountState(ns)).toEqual({ entries: ['pull2'], recorded: ['pull2'] });
      }
      // Its pull2 was the person's: kept, not duplicated, and not recorded as the operator's.
      expect((await accountState(n1, 'builder')).entries).toEqual(['keep-me', 'pull2']);
      expect((await accountState(n1, 'builder')).recorded ?? []).toEqual([]);
      expect(await accountState(n2, 'builder')).toEqual({ entries: ['pull2'], recorded: ['pull2'] });
    });

    await deleteCredential(name);
    await waitForCredentialGone(name);
    await settles('nothing of the operator left', async () => {
      for (const ns of [n1, n2]) {
        expect(await readSecret(ns, 'pull')).toBeUndefined();
        expect(await readSecret(ns, 'pull2')).toBeUndefined();
        expect(await accountState(ns)).toEqual({ entries: [], recorded: undefined });
      }
      expect(await accountState(n1, 'builder')).toEqual({ entries: ['keep-me', 'pull2'], recorded: undefined });
      expect(await accountState(n2, 'builder')).toEqual({ entries: [], recorded: undefined });
    });
  }, 180_000);
});

describe('narrowing spec.serviceAccounts.names', () => {
  it('["*"] → ["default"] removes the entries it added elsewhere and keeps everyone else\'s', async () => {
    const ns = await resources.namespace('sa-narrow');
    await defaultServiceAccount(ns);
    const secretName = 'pull-sa';
    await createServiceAccount(ns, 'builder', ['keep-me']);
    await createServiceAccount(ns, 'deployer');
    // A person listed the operator's Secret name here before the credential existed: theirs, never removed.
    await createServiceAccount(ns, 'ci', [secretName]);
    const src = await resources.source({ username: 'robot', password: uniqueName('pw') });
    const name = await resources.credential({
      static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } },
      secretName,
      namespaces: { names: [ns] },
      serviceAccounts: { names: ['*'] },
    });
    await waitForCondition(name, 'Ready', 'True');
    await settles('every ServiceAccount lists the Secret', async () => {
      expect(await accountState(ns)).toEqual({ entries: [secretName], recorded: [secretName] });
      expect(await accountState(ns, 'builder')).toEqual({ entries: ['keep-me', secretName], recorded: [secretName] });
      expect(await accountState(ns, 'deployer')).toEqual({ entries: [secretName], recorded: [secretName] });
      expect(await accountState(ns, 'ci')).toEqual({ entries: [secretName], recorded: undefined });
    });

    await patchCredentialSpec(name, { serviceAccounts: { names: ['default'] } });
    await waitForCondition(name, 'Ready', 'True');
    await settles('only default lists the Secret', async () => {
      expect(await accountState(ns)).toEqual({ entries: [secretName], recorded: [secretName] });
      expect(await accountState(ns, 'builder')).toEqual({ entries: ['keep-me'], recorded: undefined });
      expect(await accountState(ns, 'deployer')).toEqual({ entries: [], recorded: undefined });
      expect(await accountState(ns, 'ci')).toEqual({ entries: [secretName], recorded: undefined });
      expect((await readSecret(ns, secretName))?.metadata?.labels?.[CREDENTIAL]).toBe(name);
    });
    expect((await getCredential(name))?.status?.patchedServiceAccounts).toBe(1);
  }, 120_000);
});

describe('narrowing spec.namespaces', () => {
  it('drops a namespace relabelled out of the selector, then one excluded by name', async () => {
    const team = uniqueName('t');
    const n1 = await resources.namespace('ns-narrow', { team });
    const n2 = await resources.namespace('ns-narrow', { team });
    await defaultServiceAccount(n1);
    await defaultServiceAccount(n2);
    await setPullSecrets(n2, 'default', ['keep-me']);
    const src = await resources.source({ username: 'robot', password: uniqueName('pw') });
    const name = await resources.credential({
      static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } },
      namespaces: { selector: { matchLabels: { team } } },
    });
    await waitForCondition(name, 'Ready', 'True');
    await settles('both namespaces served', async () => {
      for (const ns of [n1, n2]) expect((await readSecret(ns, name))?.metadata?.labels?.[CREDENTIAL]).toBe(name);
      expect(await accountState(n1)).toEqual({ entries: [name], recorded: [name] });
      expect(await accountState(n2)).toEqual({ entries: ['keep-me', name], recorded: [name] });
    });

    await labelNamespace(n2, { team: null });
    await settles(`${n2} no longer served, ${n1} still served`, async () => {
      expect(await readSecret(n2, name)).toBeUndefined();
      expect(await accountState(n2)).toEqual({ entries: ['keep-me'], recorded: undefined });
      expect((await readSecret(n1, name))?.metadata?.labels?.[CREDENTIAL]).toBe(name);
      expect(await accountState(n1)).toEqual({ entries: [name], recorded: [name] });
      expect((await getCredential(name))?.status).toMatchObject({ targetNamespaces: 1, syncedNamespaces: 1 });
    });

    await patchCredentialSpec(name, { namespaces: { selector: { matchLabels: { team } }, exclude: [n1] } });
    await observed(name);
    await settles(`${n1} excluded`, async () => {
      expect(await readSecret(n1, name)).toBeUndefined();
      expect(await accountState(n1)).toEqual({ entries: [], recorded: undefined });
      expect(await readSecret(n2, name)).toBeUndefined();
      expect(await accountState(n2)).toEqual({ entries: ['keep-me'], recorded: undefined });
      const current = await getCredential(name);
      expect(current?.status?.observedGeneration).toBe(current?.metadata.generation);
      expect(current?.status).toMatchObject({ targetNamespaces: 0, syncedNamespaces: 0 });
    });
  }, 120_000);
});

describe('changing the provider', () => {
  it('static (reg-a) → static from another source (reg-b) → gcr: the Secret holds exactly the new registries', async () => {
    const ns = await resources.namespace('provider');
    await defaultServiceAccount(ns);
    const srcA = await resources.source({ username: 'robot-a', password: 'pw-00000a' });
    const srcB = await resources.source({ username: 'robot-b', password: 'pw-00000b' });
    const name = await resources.credential({
      static: { registry: 'reg-a.example.com', credentialsSecretRef: { name: srcA } },
      namespaces: { names: [ns] },
    });
    const a = await waitForCondition(name, 'Ready', 'True');
    expect(a.status).toMatchObject({ provider: 'static', registries: ['reg-a.example.com'] });
    expect(dockerConfig(await readSecret(ns, name))).toEqual(auths('reg-a.example.com', 'robot-a', 'pw-00000a'));
    await settles('the entry on default', async () => expect(await accountState(ns)).toEqual({ entries: [name], recorded: [name] }));

    await patchCredentialSpec(name, { static: { registry: 'reg-b.example.com', credentialsSecretRef: { name: srcB } } });
    await settles('reg-b published', async () => {
      const current = await getCredential(name);
      expect(current?.status?.observedGeneration).toBe(current?.metadata.generation);
      expect(condition(current, 'Ready')).toMatchObject({ status: 'True' });
      expect(current?.status).toMatchObject({ provider: 'static', registries: ['reg-b.example.com'], syncedNamespaces: 1 });
      expect(dockerConfig(await readSecret(ns, name))).toEqual(auths('reg-b.example.com', 'robot-b', 'pw-00000b'));
      expect(await accountState(ns)).toEqual({ entries: [name], recorded: [name] });
    });

    const account = generateServiceAccountKey();
    google.addServiceAccount(account.email, account.publicKeyPem);
    const key = await resources.source({ 'key.json': account.keyJson }, uniqueName('gcp'));
    const registries = ['gcr.io', 'us-docker.pkg.dev'];
    await mergePatchSpec(name, { static: null, gcr: { registries, credentialsSecretRef: { name: key } } });
    await settles('gcr published', async () => {
      const current = await getCredential(name);
      expect(current?.status?.observedGeneration).toBe(current?.metadata.generation);
      expect(condition(current, 'Ready')).toMatchObject({ status: 'True' });
      expect(current?.status).toMatchObject({ provider: 'gcr', registries, syncedNamespaces: 1 });
      const config = dockerConfig(await readSecret(ns, name));
      expect(Object.keys(config?.auths ?? {}).sort()).toEqual(registries);
      const token = google.issued.find((t) => t.principal === account.email);
      expect(token).toBeDefined();
      for (const registry of registries) {
        expect(config?.auths[registry]).toEqual({
          username: 'oauth2accesstoken',
          password: token!.accessToken,
          auth: Buffer.from(`oauth2accesstoken:${token!.accessToken}`).toString('base64'),
        });
      }
      expect(await accountState(ns)).toEqual({ entries: [name], recorded: [name] });
    });
  }, 120_000);
});

describe('deletionPolicy: Orphan', () => {
  it('leaves the Secrets (without the ownerReference) and the entries when the credential is deleted', async () => {
    const n1 = await resources.namespace('orphan');
    const n2 = await resources.namespace('orphan');
    await defaultServiceAccount(n1);
    await defaultServiceAccount(n2);
    await setPullSecrets(n1, 'default', ['keep-me']);
    const src = await resources.source({ username: 'robot-o', password: 'pw-00000e' });
    const name = await resources.credential({
      static: { registry: 'ghcr.io', credentialsSecretRef: { name: src } },
      namespaces: { names: [n1, n2] },
      deletionPolicy: 'Orphan',
    });
    const ready = await waitForCondition(name, 'Ready', 'True');
    await settles('published with an ownerReference, entries added', async () => {
      for (const ns of [n1, n2]) {
        const secret = await readSecret(ns, name);
        expect(secret?.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'RegistryCredential', name, uid: ready.metadata.uid })]);
      }
      expect(pullSecretNames(await readServiceAccount(n1))).toEqual(['keep-me', name]);
      expect(pullSecretNames(await readServiceAccount(n2))).toEqual([name]);
    });

    await deleteCredential(name);
    await waitForCredentialGone(name);
    for (const ns of [n1, n2]) {
      const secret = await readSecret(ns, name);
      expect(secret?.type).toBe('kubernetes.io/dockerconfigjson');
      expect(dockerConfig(secret)).toEqual(auths('ghcr.io', 'robot-o', 'pw-00000e'));
      expect((secret?.metadata?.ownerReferences ?? []).filter((ref) => ref.kind === 'RegistryCredential')).toEqual([]);
    }
    expect(pullSecretNames(await readServiceAccount(n1))).toEqual(['keep-me', name]);
    expect(pullSecretNames(await readServiceAccount(n2))).toEqual([name]);
  }, 120_000);
});
