/**
 * The Google provider end to end: the operator (a child process) mints OAuth access tokens from a local
 * stand-in for Google's token endpoints (test/support/google-token-server.ts), reached through
 * REGCRED_GOOGLE_TOKEN_URL (OAuth and STS) and GCE_METADATA_HOST (the metadata server), and publishes
 * them to a real API server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryCredential, RegistryCredentialSpec } from '../../src/api/types.js';
import { adminConnection, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import {
  condition,
  dockerConfig,
  readSecret,
  replaceSourceSecret,
  sleep,
  waitForCondition,
  waitForPullSecrets,
  TestResources,
} from '../support/fixtures.js';
import {
  externalAccountConfig,
  generateServiceAccountKey,
  startGoogleTokenServer,
  type GoogleTokenServer,
  type IssuedToken,
  type ServiceAccountKeyPair,
} from '../support/google-token-server.js';
import { googleTestEnv } from '../support/provider-env.js';

const EXPIRES_AT = 'regcred.io/expires-at';
const METADATA_ACCOUNT = 'regcred-operator@regcred-test.iam.gserviceaccount.com';
const AUDIENCE = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/kube/providers/regcred';
const SUBJECT_TOKEN = `eyJhbGciOiJSUzI1NiJ9.${'c3ViamVjdA'.repeat(6)}.c2lnbmF0dXJl`;
// Long enough that nothing refreshes during the test (the refresh lands near half of it).
const LIFETIME_SECONDS = 1800;

let server: GoogleTokenServer;
let operator: OperatorProcess;
let dir: string;
const keys: ServiceAccountKeyPair[] = [];
const resources = new TestResources();

function namespace(): Promise<string> {
  return resources.namespace('gcr');
}

function source(data: Record<string, string>): Promise<string> {
  return resources.source(data, uniqueName('gcp'));
}

function credential(spec: RegistryCredentialSpec): Promise<string> {
  return resources.credential(spec, 'gcr');
}

function serviceAccount(known = true): ServiceAccountKeyPair {
  const key = generateServiceAccountKey();
  if (known) server.addServiceAccount(key.email, key.publicKeyPem);
  keys.push(key);
  return key;
}

/** Checks the published Secret and the status against the token the server issued; returns that token. */
async function expectPublished(name: string, ns: string, registries: string[], ready: RegistryCredential): Promise<IssuedToken> {
  const secret = await readSecret(ns, name);
  expect(secret?.type).toBe('kubernetes.io/dockerconfigjson');
  const config = dockerConfig(secret)!;
  expect(Object.keys(config.auths).sort()).toEqual([...registries].sort());
  const password = config.auths[registries[0]!]!.password;
  const token = server.issued.find((t) => t.accessToken === password);
  expect(token).toBeDefined();
  for (const registry of registries) {
    expect(config.auths[registry]).toEqual({
      username: 'oauth2accesstoken',
      password: token!.accessToken,
      auth: Buffer.from(`oauth2accesstoken:${token!.accessToken}`).toString('base64'),
    });
  }
  // The expiry Google gave (read from expires_in, not assumed), in the annotation and in status alike.
  const annotated = secret?.metadata?.annotations?.[EXPIRES_AT];
  expect(annotated).toBeDefined();
  expect(ready.status?.expiresAt).toBe(annotated);
  expect(Math.abs(Date.parse(annotated!) - token!.expiresAt.getTime())).toBeLessThanOrEqual(2000);
  expect(ready.status).toMatchObject({ provider: 'gcr', registries: [...registries].sort(), syncedNamespaces: 1, targetNamespaces: 1 });
  return token!;
}

beforeAll(async () => {
  server = await startGoogleTokenServer({ lifetimeSeconds: LIFETIME_SECONDS, metadataAccount: METADATA_ACCOUNT });
  server.addWorkloadIdentityPool({ audience: AUDIENCE, subjectToken: SUBJECT_TOKEN });
  dir = mkdtempSync(join(tmpdir(), 'regcred-gcr-'));
  operator = startOperator(['--resync-seconds', '2'], googleTestEnv(server, dir));
  await operator.waitForLog((l) => l.msg === 'caches synced');
});

afterAll(async () => {
  await resources.deleteCredentials();
  await operator.stop();
  await resources.deleteSourcesAndNamespaces();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  // Nothing secret in the operator's output: no access token, no key, no subject token.
  const output = operator.rawOutput.join('\n');
  expect(output).not.toMatch(/ya29\.|PRIVATE KEY|BEGIN/);
  expect(output).not.toContain(SUBJECT_TOKEN);
  for (const key of keys) {
    const pem = (JSON.parse(key.keyJson) as { private_key: string }).private_key;
    for (const line of pem.split('\n').filter((l) => l.length > 20)) expect(output).not.toContain(line);
  }
}, 120_000);

describe('service account key in a Secret', () => {
  it('publishes oauth2accesstoken and the issued token, one entry per registry, expiring when the token does', async () => {
    const account = serviceAccount();
    const ns = await namespace();
    const src = await source({ 'key.json': account.keyJson });
    const registries = ['us-docker.pkg.dev', 'europe-west1-docker.pkg.dev', 'gcr.io'];
    const name = await credential({ gcr: { registries, credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    const ready = await waitForCondition(name, 'Ready', 'True');
    const token = await expectPublished(name, ns, registries, ready);
    expect(token).toMatchObject({ grant: 'jwt-bearer', principal: account.email, expiresIn: LIFETIME_SECONDS });
    expect(condition(ready, 'TokenAvailable')).toMatchObject({ status: 'True' });
    await waitForPullSecrets(ns, [name]);

    // Resyncs every 2 s reuse the fresh token: one token request for this credential, not one per resync.
    await sleep(5000);
    expect(server.issued.filter((t) => t.principal === account.email)).toHaveLength(1);
  });

  it('reads the key named in credentialsSecretRef.key', async () => {
    const account = serviceAccount();
    const ns = await namespace();
    const src = await source({ 'sa.json': account.keyJson, 'README': 'the key is in sa.json' });
    const name = await credential({ gcr: { registries: ['asia-docker.pkg.dev'], credentialsSecretRef: { name: src, key: 'sa.json' } }, namespaces: { names: [ns] } });
    const ready = await waitForCondition(name, 'Ready', 'True');
    const token = await expectPublished(name, ns, ['asia-docker.pkg.dev'], ready);
    expect(token.principal).toBe(account.email);
  });

  it('reports a key Google rejects: a Warning AccessDenied event, Ready=False, nothing published', async () => {
    const account = serviceAccount(false); // a key the token server does not know: its signature fails
    server.addServiceAccount(account.email, generateServiceAccountKey().publicKeyPem);
    const ns = await namespace();
    const src = await source({ 'key.json': account.keyJson });
    const name = await credential({ gcr: { registries: ['gcr.io'], credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    // The reason is on the Warning Event (durable) and on Ready=False. (The engine currently replaces the
    // condition reason with RefreshPending on the reconcile right after a failed attempt; see the report.)
    const event = await waitFor(`a Warning AccessDenied event for ${name}`, async () => {
      const events = await adminConnection().core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` });
      return events.items.find((e) => e.type === 'Warning' && e.reason === 'AccessDenied');
    });
    expect(event.message).toContain(account.email);
    expect(event.message).toContain('invalid_grant');
    expect(event.message).toMatch(/key still exists and is enabled/);
    const failed = await waitForCondition(name, 'Ready', 'False');
    expect(condition(failed, 'TokenAvailable')?.status).toBe('False');
    expect(failed.status?.failedRefreshAttempts).toBeGreaterThanOrEqual(1);
    expect(await readSecret(ns, name)).toBeUndefined();
    expect(server.rejected.some((r) => r.path === '/token' && r.error === 'invalid_grant')).toBe(true);
  });

  it('reports a malformed key as Ready=False InvalidSourceSecret without calling Google, and recovers when it is fixed', async () => {
    const ns = await namespace();
    const src = await source({ 'key.json': '{"type": "service_account", "client_email": "x@y.iam.gserviceaccount.com"}' });
    const before = server.tokenRequests();
    const name = await credential({ gcr: { registries: ['gcr.io'], credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    const failed = await waitForCondition(name, 'Ready', 'False', 'InvalidSourceSecret');
    expect(condition(failed, 'TokenAvailable')?.message).toContain('without "private_key"');
    expect(server.tokenRequests()).toBe(before);
    expect(await readSecret(ns, name)).toBeUndefined();

    // Fixing the Secret is enough: the operator picks it up and publishes.
    const account = serviceAccount();
    await replaceSourceSecret(src, { 'key.json': account.keyJson });
    const ready = await waitForCondition(name, 'Ready', 'True');
    const token = await expectPublished(name, ns, ['gcr.io'], ready);
    expect(token.principal).toBe(account.email);
  });

  it('reports a missing Secret as SourceSecretNotFound', async () => {
    const ns = await namespace();
    const name = await credential({ gcr: { registries: ['gcr.io'], credentialsSecretRef: { name: uniqueName('absent') } }, namespaces: { names: [ns] } });
    await waitForCondition(name, 'Ready', 'False', 'SourceSecretNotFound');
  });
});

describe('workload identity federation (external_account)', () => {
  it('exchanges the subject token from the config\'s credential_source file at STS', async () => {
    const tokenFile = join(dir, 'oidc-token');
    writeFileSync(tokenFile, SUBJECT_TOKEN);
    const ns = await namespace();
    const src = await source({ 'key.json': externalAccountConfig(AUDIENCE, tokenFile) });
    const name = await credential({ gcr: { registries: ['us-docker.pkg.dev'], credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } });
    const ready = await waitForCondition(name, 'Ready', 'True');
    const token = await expectPublished(name, ns, ['us-docker.pkg.dev'], ready);
    expect(token).toMatchObject({ grant: 'token-exchange', principal: AUDIENCE });
  });
});

describe('Application Default Credentials (metadata server)', () => {
  it('uses the operator\'s own identity when no Secret is named', async () => {
    const ns = await namespace();
    const name = await credential({ gcr: { registries: ['gcr.io', 'us.gcr.io'] }, namespaces: { names: [ns] } });
    const ready = await waitForCondition(name, 'Ready', 'True');
    const token = await expectPublished(name, ns, ['gcr.io', 'us.gcr.io'], ready);
    expect(token).toMatchObject({ grant: 'metadata', principal: METADATA_ACCOUNT });
    // Every metadata request carried Metadata-Flavor: Google.
    expect(server.rejected.filter((r) => r.status === 403)).toEqual([]);
  });
});
