import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminConnection, kubectl, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { condition, getCredential, patchCredentialSpec, replaceSourceSecret, waitForCondition, TestResources } from '../support/fixtures.js';
import { parseExposition, valueOf } from '../support/prometheus.js';
import { startDockerHubStandIn, type DockerHubStandIn } from '../support/dockerhub-standin.js';
import { buildOciLayout, pushImage, startRegistry, type TestRegistry } from '../support/registry.js';
import { startTokenService, type TokenService } from '../support/token-service.js';

/**
 * The Verified condition end to end: the real operator checks what it published at real registries
 * (Debian's docker-registry with htpasswd, in token-auth mode behind a local token service, and over
 * HTTPS with a private CA given by --registry-ca-file) and at a Docker Hub stand-in, and a user sees the
 * answer in `kubectl get`, status, Events and metrics, while Ready keeps meaning "published everywhere".
 */

const PULLER = 'puller';
const PASSWORD = `pw-${uniqueName('v')}`;
const WRONG = `wrong-${uniqueName('v')}`;
const READER_PASSWORD = `reader-${uniqueName('v')}`;
const OUTSIDER_PASSWORD = `outsider-${uniqueName('v')}`;
const HUB_PASSWORD = `hub-${uniqueName('v')}`;
let registry: TestRegistry;
let tokens: TokenService;
let tokenRegistry: TestRegistry;
let tlsRegistry: TestRegistry;
let hub: DockerHubStandIn;
let operator: OperatorProcess;
let metricsPort: number;
const resources = new TestResources();
let ns: string;

async function events(name: string): Promise<{ type?: string; reason?: string; message?: string }[]> {
  const list = await adminConnection().core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((e) => ({ type: e.type, reason: e.reason, message: e.message }));
}

async function verified(name: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  return condition(await getCredential(name), 'Verified');
}

async function metrics(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return res.text();
}

beforeAll(async () => {
  registry = await startRegistry({ [PULLER]: PASSWORD, pusher: 'push-secret' });
  await pushImage(buildOciLayout(), registry.host, 'team/app', 'pusher', 'push-secret');
  tokens = await startTokenService({
    users: {
      pusher: { password: 'push-secret', pull: ['*'], push: ['*'] },
      reader: { password: READER_PASSWORD, pull: ['team/app'] },
      outsider: { password: OUTSIDER_PASSWORD, pull: ['other/thing'] },
    },
  });
  tokenRegistry = await startRegistry({}, { tokenAuth: tokens });
  await pushImage(buildOciLayout(), tokenRegistry.host, 'team/app', 'pusher', 'push-secret');
  tlsRegistry = await startRegistry({ [PULLER]: PASSWORD }, { tls: true });
  hub = await startDockerHubStandIn({ users: { alice: { password: HUB_PASSWORD, repositories: ['alice/private'] } }, remaining: 187 });
  ns = await resources.namespace('verify');
  operator = startOperator(['--registry-ca-file', tlsRegistry.caFile!], { REGCRED_DOCKERHUB_REGISTRY_URL: hub.url });
  const metricsLine = await operator.waitForLog((l) => l.msg === 'metrics server listening');
  metricsPort = metricsLine.port as number;
  await operator.waitForLog((l) => l.msg === 'caches synced');
}, 60_000);

afterAll(async () => {
  await resources.deleteCredentials();
  await operator?.stop();
  await Promise.all([registry?.stop(), tokenRegistry?.stop(), tokens?.stop(), tlsRegistry?.stop(), hub?.stop()]);
  await resources.deleteSourcesAndNamespaces();
}, 120_000);

describe('Verified against a real registry', () => {
  it('a wrong password is Unauthorized within seconds while Ready stays True; the right one flips it back, with Events', async () => {
    const source = await resources.source({ username: PULLER, password: WRONG });
    const name = await resources.credential({ static: { registry: registry.host, credentialsSecretRef: { name: source } }, namespaces: { names: [ns] } }, 'vwrong');
    await waitForCondition(name, 'Verified', 'False');
    const refused = await verified(name);
    expect(refused?.reason).toBe('Unauthorized');
    expect(refused?.message).toContain(registry.host);
    expect(condition(await getCredential(name), 'Ready')?.status).toBe('True');
    expect(condition(await getCredential(name), 'TokenAvailable')?.status).toBe('True');
    await waitFor('a VerificationFailed Warning', async () => (await events(name)).some((e) => e.type === 'Warning' && e.reason === 'VerificationFailed'));

    const table = await kubectl(['get', 'regcred', name]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'PROVIDER', 'READY', 'VERIFIED', 'SYNCED', 'TARGETS', 'EXPIRES', 'AGE']);
    expect(row!.split(/\s+/).slice(0, 4)).toEqual([name, 'static', 'True', 'Unauthorized']);

    await waitFor('regcred_credential_verified 0', async () => valueOf(parseExposition(await metrics()), 'regcred_credential_verified', { credential: name }) === 0);

    await replaceSourceSecret(source, { username: PULLER, password: PASSWORD });
    await waitForCondition(name, 'Verified', 'True');
    expect((await verified(name))?.reason).toBe('Verified');
    await waitFor('a VerificationRecovered event', async () => (await events(name)).some((e) => e.type === 'Normal' && e.reason === 'VerificationRecovered'));
    await waitFor('regcred_credential_verified 1', async () => valueOf(parseExposition(await metrics()), 'regcred_credential_verified', { credential: name }) === 1);
    expect((await getCredential(name))?.status?.lastVerifiedTime).toMatch(/^\d{4}-\d\d-\d\dT/);
  }, 90_000);

  it('names images: one that exists is Verified, a missing tag is ImageNotFound, one the credential does not cover is InvalidImage', async () => {
    const source = await resources.source({ username: PULLER, password: PASSWORD });
    const name = await resources.credential(
      {
        static: { registry: registry.host, credentialsSecretRef: { name: source } },
        namespaces: { names: [ns] },
        verify: { images: [`${registry.host}/team/app:latest`] },
      },
      'vimg',
    );
    await waitForCondition(name, 'Verified', 'True');
    expect((await verified(name))?.message).toContain(`${registry.host}/team/app:latest`);

    await patchCredentialSpec(name, { verify: { images: [`${registry.host}/team/app:does-not-exist`] } });
    await waitFor('ImageNotFound', async () => (await verified(name))?.reason === 'ImageNotFound');
    const missing = await verified(name);
    expect(missing?.status).toBe('False');
    expect(missing?.message).toContain('team/app:does-not-exist');

    await patchCredentialSpec(name, { verify: { images: ['ghcr.io/acme/api:1.0'] } });
    await waitFor('InvalidImage', async () => (await verified(name))?.reason === 'InvalidImage');
    expect((await verified(name))?.message).toContain('ghcr.io/acme/api:1.0');
    // A refused check never unpublishes anything.
    expect(condition(await getCredential(name), 'Ready')?.status).toBe('True');
  }, 90_000);

  it('an unreachable registry is Unreachable (Unknown), naming the host, and leaves TokenAvailable alone; Disabled checks nothing', async () => {
    const source = await resources.source({ username: PULLER, password: PASSWORD });
    const name = await resources.credential({ static: { registry: 'registry.invalid', credentialsSecretRef: { name: source } }, namespaces: { names: [ns] } }, 'vunreach');
    await waitFor('Unreachable', async () => (await verified(name))?.reason === 'Unreachable');
    const unreachable = await getCredential(name);
    expect(condition(unreachable, 'Verified')).toMatchObject({ status: 'Unknown', message: expect.stringContaining('registry.invalid') });
    expect(condition(unreachable, 'TokenAvailable')).toMatchObject({ status: 'True', reason: 'CredentialAvailable' });
    // Unknown is no sample: an alert on == 0 does not fire for a registry the operator cannot reach.
    expect(valueOf(parseExposition(await metrics()), 'regcred_credential_verified', { credential: name })).toBeUndefined();

    await patchCredentialSpec(name, { verify: { enabled: false } });
    await waitFor('Disabled', async () => (await verified(name))?.reason === 'Disabled');
    expect((await getCredential(name))?.status?.lastVerifiedTime).toBeUndefined();
  }, 90_000);

  it('a token-auth registry: the Bearer flow verifies a reader, and an account without access to the image is Denied', async () => {
    const readerSource = await resources.source({ username: 'reader', password: READER_PASSWORD });
    const image = `${tokenRegistry.host}/team/app:latest`;
    const reader = await resources.credential(
      { static: { registry: tokenRegistry.host, credentialsSecretRef: { name: readerSource } }, namespaces: { names: [ns] }, verify: { images: [image] } },
      'vtoken',
    );
    await waitForCondition(reader, 'Verified', 'True');
    // The token service saw the credential ask for exactly that repository.
    expect(tokens.requests.some((r) => r.user === 'reader' && r.status === 200 && r.scopes.includes('repository:team/app:pull'))).toBe(true);

    const outsiderSource = await resources.source({ username: 'outsider', password: OUTSIDER_PASSWORD });
    const outsider = await resources.credential(
      { static: { registry: tokenRegistry.host, credentialsSecretRef: { name: outsiderSource } }, namespaces: { names: [ns] }, verify: { images: [image] } },
      'vdenied',
    );
    await waitFor('Denied', async () => (await verified(outsider))?.reason === 'Denied');
    expect(await verified(outsider)).toMatchObject({ status: 'False', message: expect.stringContaining(image) });
  }, 90_000);

  it('a registry with a private CA is verified over HTTPS when --registry-ca-file names the CA', async () => {
    const source = await resources.source({ username: PULLER, password: PASSWORD });
    const name = await resources.credential({ static: { registry: tlsRegistry.host, credentialsSecretRef: { name: source } }, namespaces: { names: [ns] } }, 'vtls');
    await waitForCondition(name, 'Verified', 'True');
    expect(tlsRegistry.scheme).toBe('https');
  }, 60_000);

  it('Docker Hub: headroom in status.rateLimit and gauges, read with a HEAD only; low headroom warns; 429 is RateLimited', async () => {
    const source = await resources.source({ username: 'alice', password: HUB_PASSWORD });
    const name = await resources.credential(
      { static: { registry: 'https://index.docker.io/v1/', credentialsSecretRef: { name: source } }, namespaces: { names: [ns] }, verify: { intervalMinutes: 60 } },
      'vhub',
    );
    await waitForCondition(name, 'Verified', 'True');
    const status = (await getCredential(name))?.status;
    expect(status?.rateLimit).toMatchObject({ limit: 200, remaining: 187, windowSeconds: 21600, checkedAt: expect.stringMatching(/^\d{4}-/) });
    const manifestRequests = hub.requests.filter((r) => r.path.includes('/manifests/'));
    expect(manifestRequests.length).toBeGreaterThan(0);
    expect(manifestRequests.every((r) => r.method === 'HEAD' && r.path === '/v2/ratelimitpreview/test/manifests/latest')).toBe(true);
    await waitFor('the headroom gauges', async () => {
      const samples = parseExposition(await metrics());
      return valueOf(samples, 'regcred_dockerhub_ratelimit_remaining', { credential: name }) === 187 && valueOf(samples, 'regcred_dockerhub_ratelimit_limit', { credential: name }) === 200;
    });

    // Under 10 % of the limit: a note in Verified and one Warning. A spec change brings a new check.
    hub.setRemaining(12);
    await patchCredentialSpec(name, { verify: { intervalMinutes: 61 } });
    await waitFor('remaining 12', async () => (await getCredential(name))?.status?.rateLimit?.remaining === 12);
    expect((await verified(name))?.message).toMatch(/headroom is low: 12 of 200 pulls left in the 6 h window/);
    await waitFor('a RateLimitLow Warning', async () => (await events(name)).some((e) => e.type === 'Warning' && e.reason === 'RateLimitLow'));

    hub.setRateLimited(true);
    await patchCredentialSpec(name, { verify: { intervalMinutes: 62 } });
    await waitFor('RateLimited', async () => (await verified(name))?.reason === 'RateLimited');
    expect((await verified(name))?.status).toBe('Unknown');
    expect(condition(await getCredential(name), 'Ready')?.status).toBe('True');
  }, 90_000);

  it('never puts the password in a log line, an Event, the status or a metric', async () => {
    const logs = operator.rawOutput.join('\n');
    const statuses = JSON.stringify((await Promise.all(resources.credentials.map((n) => getCredential(n)))).map((c) => c?.status));
    const allEvents = JSON.stringify(await Promise.all(resources.credentials.map((n) => events(n))));
    const scrape = await metrics();
    const secrets = [
      PASSWORD,
      WRONG,
      READER_PASSWORD,
      OUTSIDER_PASSWORD,
      HUB_PASSWORD,
      Buffer.from(`${PULLER}:${PASSWORD}`).toString('base64'),
      Buffer.from(`${PULLER}:${WRONG}`).toString('base64'),
      ...tokens.issuedTokens,
      ...hub.issuedTokens,
    ];
    expect(tokens.issuedTokens.length + hub.issuedTokens.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      expect(statuses).not.toContain(secret);
      expect(allEvents).not.toContain(secret);
      expect(scrape).not.toContain(secret);
    }
    // The checks did happen and were logged: the test above is about something that ran.
    expect(operator.logs.some((l) => l.msg === 'registry verification settled')).toBe(true);
  });
});
