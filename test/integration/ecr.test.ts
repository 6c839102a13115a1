/**
 * The ECR provider end to end: the operator as a child process, pointed by AWS_ENDPOINT_URL_ECR /
 * AWS_ENDPOINT_URL_STS at moto (a real AWS emulator, test/support/moto.ts), publishing into the
 * shared local control plane.
 *
 * moto maps credentials to accounts, which lets each case prove whose credentials were used: unknown
 * static keys are its default account 123456789012, and credentials of an assumed role (AssumeRole,
 * AssumeRoleWithWebIdentity) are the role's account, which then names the registry ECR returns.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminConnection, kubectl, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import {
  deleteCredential,
  dockerConfig,
  getCredential,
  condition,
  readSecret,
  replaceSourceSecret,
  sleep,
  waitForCondition,
  waitForCredentialGone,
  waitForPullSecrets,
  TestResources,
} from '../support/fixtures.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { awsTestEnv } from '../support/provider-env.js';
import type { RegistryCredentialSpec } from '../../src/api/types.js';

const REGION = 'eu-west-1';
const DEFAULT_ACCOUNT = '123456789012';
const host = (account: string) => `${account}.dkr.ecr.${REGION}.amazonaws.com`;
/** moto's ECR password is "<registry id>-auth-token": fixed, so a refresh re-publishes the same bytes. */
const motoPassword = (account: string) => `${account}-auth-token`;
// What moto is told to answer as expiresAt: whole seconds, 12 h ahead, like ECR.
const EXPIRES_AT = new Date(Math.floor(Date.now() / 1000) * 1000 + 12 * 3600_000);
const EXPIRES_AT_TEXT = EXPIRES_AT.toISOString().replace('.000Z', 'Z');

const ACCESS_KEY = 'AKIAREGCREDTEST00001';
const SECRET_KEY = `regcredTestSecretKey/${uniqueName('never-log')}`;

let moto: MotoServer;
let operator: OperatorProcess | undefined;
let stateDir: string;
/** Temporary credentials of account 777788889999, given to operator A as its own environment credentials. */
let envCredentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
const ENV_ACCOUNT = '777788889999';
const IRSA_ACCOUNT = '333333333333';
const IRSA_ROLE = `arn:aws:iam::${IRSA_ACCOUNT}:role/regcred-irsa`;
const outputs: string[] = [];
const resources = new TestResources();

/** The operator's environment: only moto, and only the credential source a case gives it. */
function awsEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return awsTestEnv(moto.url, stateDir, REGION, extra);
}

async function runOperator(env: NodeJS.ProcessEnv): Promise<void> {
  await stopOperator();
  operator = startOperator(['--resync-seconds', '2'], awsEnv(env));
  await operator.waitForLog((l) => l.msg === 'caches synced');
}

async function stopOperator(): Promise<void> {
  if (!operator) return;
  await operator.stop();
  outputs.push(operator.rawOutput.join('\n'));
  operator = undefined;
}

function namespace(prefix: string): Promise<string> {
  return resources.namespace(prefix);
}

function source(data: Record<string, string> = { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY }, name = uniqueName('aws')): Promise<string> {
  return resources.source(data, name);
}

function credential(ecr: Omit<NonNullable<RegistryCredentialSpec['ecr']>, 'region'>, ns: string, extra: Partial<RegistryCredentialSpec> = {}): Promise<string> {
  return resources.credential({ ecr: { region: REGION, ...ecr }, namespaces: { names: [ns] }, ...extra }, 'ecr');
}

async function removeCredential(name: string): Promise<void> {
  await deleteCredential(name);
  await waitForCredentialGone(name);
}

async function describe_(name: string): Promise<string> {
  return (await kubectl(['describe', 'registrycredential', name])).stdout;
}

/** Events about a RegistryCredential (written to "default", where kubectl describe finds them). */
async function events(name: string): Promise<{ type: string; reason: string; message: string }[]> {
  const list = await adminConnection().core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '' }));
}

/** The whole published document, as the kubelet would read it. */
function expectPublished(secret: Awaited<ReturnType<typeof readSecret>>, registries: string[], password: string): void {
  expect(secret?.type).toBe('kubernetes.io/dockerconfigjson');
  expect(dockerConfig(secret)).toEqual({
    auths: Object.fromEntries(
      registries.map((r) => [r, { username: 'AWS', password, auth: Buffer.from(`AWS:${password}`).toString('base64') }]),
    ),
  });
  expect(secret?.metadata?.annotations?.['regcred.io/expires-at']).toBe(EXPIRES_AT_TEXT);
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'regcred-ecr-'));
  // Creating the virtualenv the first time downloads moto from PyPI.
  moto = await startMoto({ ecrTokenExpiresAt: EXPIRES_AT });
  const sts = new STSClient({
    region: REGION,
    endpoint: moto.url,
    credentials: { accessKeyId: 'AKIAREGCREDTESTSETUP', secretAccessKey: 'test-setup-only' },
  });
  const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ENV_ACCOUNT}:role/operator-env`, RoleSessionName: 'test-setup' }));
  sts.destroy();
  envCredentials = assumed.Credentials as typeof envCredentials;
  // Operator A: its own credentials come from environment variables.
  await runOperator({
    AWS_ACCESS_KEY_ID: envCredentials.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: envCredentials.SecretAccessKey,
    AWS_SESSION_TOKEN: envCredentials.SessionToken,
  });
}, 15 * 60_000);

afterAll(async () => {
  if (moto && !moto.isRunning()) await moto.restart().catch(() => undefined);
  if (resources.credentials.length > 0 && !operator && moto) await runOperator({}).catch(() => undefined);
  await resources.deleteCredentials();
  await stopOperator();
  await moto?.stop();
  await resources.deleteSourcesAndNamespaces();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  // Nothing secret in the operator's output, ever: not the source keys, not its own, not the ECR password.
  const output = outputs.join('\n');
  expect(output).not.toContain(SECRET_KEY);
  if (envCredentials) {
    expect(output).not.toContain(envCredentials.SecretAccessKey);
    expect(output).not.toContain(envCredentials.SessionToken);
  }
  expect(output).not.toContain('-auth-token');
}, 180_000);

describe('ECR with keys from a Secret', () => {
  it('publishes AWS:<token> for the proxyEndpoint registry with moto expiresAt, in one GetAuthorizationToken call', async () => {
    const ns = await namespace('ecr-keys');
    const src = await source();
    const before = moto.tokenCalls().length;
    const name = await credential({ credentialsSecretRef: { name: src } }, ns);
    const ready = await waitForCondition(name, 'Ready', 'True');
    expect(ready.status).toMatchObject({ provider: 'ecr', registries: [host(DEFAULT_ACCOUNT)], expiresAt: EXPIRES_AT_TEXT, failedRefreshAttempts: 0 });
    expect(condition(ready, 'TokenAvailable')).toMatchObject({ status: 'True', reason: 'CredentialAvailable' });
    expectPublished(await readSecret(ns, name), [host(DEFAULT_ACCOUNT)], motoPassword(DEFAULT_ACCOUNT));
    await waitForPullSecrets(ns, [name]);

    // Resyncs every 2 s reuse the fresh credential: still the one call.
    await sleep(4_500);
    expect(moto.tokenCalls().slice(before)).toEqual([{ account: DEFAULT_ACCOUNT, registryIds: null }]);

    // registryIds: one auths entry per id, from one call that names them.
    await kubectl(['patch', 'registrycredential', name, '--type=merge', '-p', JSON.stringify({ spec: { ecr: { registryIds: ['111122223333', '444455556666'] } } })]);
    const both = [host('111122223333'), host('444455556666')];
    await waitFor('two registries published', async () => {
      const auths = dockerConfig(await readSecret(ns, name))?.auths ?? {};
      return Object.keys(auths).length === 2;
    });
    // One token serves every registry the principal may read: the first one's is published for all.
    expectPublished(await readSecret(ns, name), both, motoPassword('111122223333'));
    // Status is written right after the Secrets, by the same reconcile: it says so within a moment.
    await waitFor('status naming both registries', async () => {
      const status = (await waitForCondition(name, 'Ready', 'True')).status;
      return JSON.stringify(status?.registries) === JSON.stringify(both) ? true : undefined;
    });
    // The spec change is a refresh that names the ids. (Today a spec change can call twice: a second
    // reconcile may read the cached status before the first one's write arrives.)
    const afterPatch = moto.tokenCalls().slice(before + 1);
    expect(afterPatch.length).toBeGreaterThanOrEqual(1);
    expect(afterPatch).toEqual(afterPatch.map(() => ({ account: DEFAULT_ACCOUNT, registryIds: ['111122223333', '444455556666'] })));
    await removeCredential(name);
    expect(await readSecret(ns, name)).toBeUndefined();
  });

  it('assumes spec.ecr.roleArn with the Secret keys first, and calls ECR as the role', async () => {
    const ns = await namespace('ecr-role');
    const src = await source();
    const roleAccount = '210987654321';
    const before = moto.tokenCalls().length;
    const name = await credential({ credentialsSecretRef: { name: src }, roleArn: `arn:aws:iam::${roleAccount}:role/ecr-puller` }, ns);
    const ready = await waitForCondition(name, 'Ready', 'True');
    expect(ready.status?.registries).toEqual([host(roleAccount)]);
    expectPublished(await readSecret(ns, name), [host(roleAccount)], motoPassword(roleAccount));
    expect(moto.tokenCalls().slice(before)).toEqual([{ account: roleAccount, registryIds: null }]);
    await removeCredential(name);
  });

  it('reports a missing, then a malformed Secret on the resource, and recovers when it is fixed', async () => {
    const ns = await namespace('ecr-src');
    const src = uniqueName('aws-later');
    const name = await credential({ credentialsSecretRef: { name: src } }, ns);
    const missing = await waitForCondition(name, 'Ready', 'False', 'SourceSecretNotFound');
    expect(condition(missing, 'Ready')?.message).toContain(`Secret regcred-system/${src} (spec.ecr.credentialsSecretRef) not found`);
    expect(condition(missing, 'TokenAvailable')).toMatchObject({ status: 'False', reason: 'SourceSecretNotFound' });
    expect(await readSecret(ns, name)).toBeUndefined();

    await source({ AWS_ACCESS_KEY_ID: ACCESS_KEY }, src);
    const malformed = await waitForCondition(name, 'Ready', 'False', 'InvalidSourceSecret');
    expect(condition(malformed, 'Ready')?.message).toContain('(it has: AWS_ACCESS_KEY_ID)');
    expect(await describe_(name)).toMatch(/Warning\s+InvalidSourceSecret/);

    await replaceSourceSecret(src, { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY });
    await waitForCondition(name, 'Ready', 'True');
    expectPublished(await readSecret(ns, name), [host(DEFAULT_ACCOUNT)], motoPassword(DEFAULT_ACCOUNT));
    await removeCredential(name);
  });
});

describe("ECR with the operator's own credentials", () => {
  it('uses the default chain (environment variables here) without credentialsSecretRef', async () => {
    const ns = await namespace('ecr-env');
    const before = moto.tokenCalls().length;
    const name = await credential({}, ns);
    await waitForCondition(name, 'Ready', 'True');
    expectPublished(await readSecret(ns, name), [host(ENV_ACCOUNT)], motoPassword(ENV_ACCOUNT));
    expect(moto.tokenCalls().slice(before)).toEqual([{ account: ENV_ACCOUNT, registryIds: null }]);
    await removeCredential(name);
  });
});

describe('ECR unreachable in the middle of its life', () => {
  it('keeps the published Secret while refreshes fail, retries with backoff, and recovers when ECR is back', async () => {
    const ns = await namespace('ecr-outage');
    const src = await source();
    // A refresh every minute, so that one falls inside the outage.
    const name = await credential({ credentialsSecretRef: { name: src } }, ns, { refresh: { schedule: '* * * * *' } });
    const ready = await waitForCondition(name, 'Ready', 'True');
    const published = await readSecret(ns, name);
    expectPublished(published, [host(DEFAULT_ACCOUNT)], motoPassword(DEFAULT_ACCOUNT));
    expect(Date.parse(ready.status!.nextRefreshTime!)).toBeLessThanOrEqual(Date.now() + 61_000);

    await moto.stop();
    // failedRefreshAttempts is the persisted record of failed refreshes; TokenAvailable's reason is
    // RefreshFailing right after each failed attempt.
    const failing = await waitFor(
      'a failed refresh',
      async () => {
        const c = await getCredential(name);
        return (c?.status?.failedRefreshAttempts ?? 0) >= 1 ? c : undefined;
      },
      90_000,
      250,
    );
    expect(condition(failing, 'TokenAvailable')?.status).toBe('True');
    expect(condition(failing, 'Ready')?.status).toBe('True');
    const warning = await waitFor('a RefreshFailed event', async () => (await events(name)).find((e) => e.reason === 'RefreshFailed'));
    expect(warning.type).toBe('Warning');
    expect(warning.message).toContain('ProviderUnreachable');
    expect(warning.message).toContain(`cannot reach ECR at ${moto.url}`);
    expect(warning.message).toContain(`the published credential stays valid until ${EXPIRES_AT_TEXT}`);
    // Several attempts while it is down, with backoff, each one leaving the Secret exactly as it was.
    const retried = await waitFor('a second failed attempt', async () => {
      const c = await getCredential(name);
      return (c?.status?.failedRefreshAttempts ?? 0) >= 2 ? c : undefined;
    }, 60_000, 250);
    expect(Date.parse(retried.status!.nextRefreshTime!)).toBeGreaterThan(Date.now() - 1_000);
    expect(condition(retried, 'TokenAvailable')?.status).toBe('True');
    const during = await readSecret(ns, name);
    expect(during?.metadata?.resourceVersion).toBe(published?.metadata?.resourceVersion);
    expect(during?.data).toEqual(published?.data);
    expect(during?.metadata?.annotations).toEqual(published?.metadata?.annotations);

    await moto.restart();
    const recovered = await waitFor(
      'a successful refresh after ECR returns',
      async () => {
        const c = await getCredential(name);
        return condition(c, 'TokenAvailable')?.reason === 'CredentialAvailable' && c?.status?.failedRefreshAttempts === 0 ? c : undefined;
      },
      120_000,
      250,
    );
    expect(condition(recovered, 'Ready')?.status).toBe('True');
    expect(moto.tokenCalls().at(-1)).toEqual({ account: DEFAULT_ACCOUNT, registryIds: null });
    expectPublished(await readSecret(ns, name), [host(DEFAULT_ACCOUNT)], motoPassword(DEFAULT_ACCOUNT));
    await removeCredential(name);
  }, 300_000);
});

describe('ECR through IRSA', () => {
  it('assumes AWS_ROLE_ARN with the web identity token file, alone or as the source for spec.ecr.roleArn', async () => {
    const tokenFile = join(stateDir, 'token');
    // moto does not verify the token; a projected service account token looks like this.
    writeFileSync(tokenFile, 'eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cmVnY3JlZC1zeXN0ZW06cmVnY3JlZC1vcGVyYXRvciJ9.c2lnbmF0dXJl');
    await runOperator({ AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: IRSA_ROLE });
    const ns = await namespace('ecr-irsa');
    const before = moto.tokenCalls().length;
    const irsa = await credential({}, ns);
    await waitForCondition(irsa, 'Ready', 'True');
    expectPublished(await readSecret(ns, irsa), [host(IRSA_ACCOUNT)], motoPassword(IRSA_ACCOUNT));

    const chainedAccount = '555566667777';
    const chained = await credential({ roleArn: `arn:aws:iam::${chainedAccount}:role/ecr-puller` }, ns, { secretName: uniqueName('chained') });
    const ready = await waitForCondition(chained, 'Ready', 'True');
    expect(ready.status?.registries).toEqual([host(chainedAccount)]);
    expect(moto.tokenCalls().slice(before)).toEqual([
      { account: IRSA_ACCOUNT, registryIds: null },
      { account: chainedAccount, registryIds: null },
    ]);
    await removeCredential(irsa);
    await removeCredential(chained);
  });
});
