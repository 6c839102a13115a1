import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminConnection, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { dockerConfig, getCredential, sleep, waitForCondition, TestResources } from '../support/fixtures.js';
import { generateServiceAccountKey, startGoogleTokenServer, type GoogleTokenServer } from '../support/google-token-server.js';

/**
 * Expiry and refresh with real short-lived tokens from the local Google token
 * endpoint (seconds, not hours), without faking the operator's clock.
 */
const COUNT = 50;
const LIFETIME_SECONDS = 12;
const label = uniqueName('roll');
const resources = new TestResources();
const namespaces: string[] = [];
let credential: string;
let source: string;
let server: GoogleTokenServer;
let operator: OperatorProcess | undefined;

function startGoogleOperator(): OperatorProcess {
  return startOperator([], { REGCRED_GOOGLE_TOKEN_URL: server.url });
}

async function publishedTokens(): Promise<Map<string, { token: string; expiresAt: string | undefined }>> {
  const list = await adminConnection().core.listSecretForAllNamespaces({ labelSelector: `regcred.io/credential=${credential}` });
  const out = new Map<string, { token: string; expiresAt: string | undefined }>();
  for (const secret of list.items) {
    const auths = dockerConfig(secret)?.auths ?? {};
    out.set(secret.metadata!.namespace!, {
      token: auths['gcr.io']?.password ?? '',
      expiresAt: secret.metadata?.annotations?.['regcred.io/expires-at'],
    });
  }
  return out;
}

beforeAll(async () => {
  server = await startGoogleTokenServer({ lifetimeSeconds: LIFETIME_SECONDS });
  const key = generateServiceAccountKey();
  server.addServiceAccount(key.email, key.publicKeyPem);
  source = await resources.source({ 'key.json': key.keyJson }, uniqueName('gcp-key'));
  for (let i = 0; i < COUNT; i += 25) {
    namespaces.push(...(await Promise.all(Array.from({ length: Math.min(25, COUNT - i) }, () => resources.namespace(label, { roll: label })))));
  }
  operator = startGoogleOperator();
  await operator.waitForLog((l) => l.msg === 'caches synced');
}, 60_000);

afterAll(async () => {
  await resources.deleteCredentials();
  await operator?.stop();
  await server?.close();
  await resources.deleteSourcesAndNamespaces();
}, 120_000);

describe('short-lived Google tokens', () => {
  it('roll over several times with every namespace always holding an unexpired token, one token request per refresh', async () => {
    credential = await resources.credential(
      {
        gcr: { registries: ['gcr.io', 'us-docker.pkg.dev'], credentialsSecretRef: { name: source } },
        namespaces: { selector: { matchLabels: { roll: label } } },
      },
      'gar',
    );
    const ready = await waitForCondition(credential, 'Ready', 'True', undefined, 30_000);
    expect(ready.status?.syncedNamespaces).toBe(COUNT);
    const requestsAtStart = server.tokenRequests();

    // Watch the Secrets of all 50 namespaces for a few lifetimes.
    const seen = new Set<string>();
    let longestExpiredMs = 0;
    const expiredSince = new Map<string, number>();
    const deadline = Date.now() + 3.5 * LIFETIME_SECONDS * 1000;
    let samples = 0;
    while (Date.now() < deadline) {
      const published = await publishedTokens();
      const now = Date.now();
      samples += 1;
      expect(published.size).toBe(COUNT);
      for (const [ns, { token, expiresAt }] of published) {
        seen.add(token);
        const issued = server.issued.find((t) => t.accessToken === token);
        expect(issued).toBeDefined();
        // The annotation tells the truth about the token it sits beside. The operator learns the expiry as
        // expires_in from when the answer reached it, a few ms after the endpoint issued it, and the
        // annotation is in whole seconds: it is the issued expiry's second, or the next one when the
        // answer crossed a second boundary in flight.
        const annotated = Date.parse(expiresAt ?? '');
        const issuedSecond = Math.floor(issued!.expiresAt.getTime() / 1000) * 1000;
        expect([ns, expiresAt, [0, 1000].includes(annotated - issuedSecond)]).toEqual([ns, expiresAt, true]);
        if (issued!.expiresAt.getTime() <= now) {
          const since = expiredSince.get(ns) ?? now;
          expiredSince.set(ns, since);
          longestExpiredMs = Math.max(longestExpiredMs, now - issued!.expiresAt.getTime());
        } else {
          expiredSince.delete(ns);
        }
      }
      await sleep(200);
    }
    // A refresh requested just before the deadline may not have reached the Secrets by the last sample: let
    // it land, so that every token requested has had its chance to be seen. A second request for one
    // refresh (a double mint) still leaves a token that no Secret ever holds, and fails below.
    const requests = await waitFor(
      'every namespace to hold the newest token issued',
      async () => {
        const newest = server.issued[server.issued.length - 1]!.accessToken;
        const published = await publishedTokens();
        for (const { token } of published.values()) seen.add(token);
        const settled = published.size === COUNT && [...published.values()].every((p) => p.token === newest);
        return settled && server.issued[server.issued.length - 1]!.accessToken === newest ? server.tokenRequests() - requestsAtStart : undefined;
      },
      30_000,
      200,
    );
    const refreshes = seen.size - 1;
    process.stderr.write(
      `[rollover] ${samples} samples over ${COUNT} namespaces; ${refreshes} refreshes; ${requests} token requests; longest time a Secret held an expired token: ${longestExpiredMs} ms\n`,
    );
    expect(longestExpiredMs).toBe(0);
    expect(refreshes).toBeGreaterThanOrEqual(3);
    // One provider call per refresh, whatever the number of namespaces.
    expect(requests).toBe(refreshes);

    // The status is written after the Secrets, and another refresh may start meanwhile: it must come to
    // describe the newest token (a status stuck on an older one times out here).
    const { status, newest } = await waitFor(
      'the status to describe the newest token',
      async () => {
        const status = (await getCredential(credential))?.status;
        const newest = server.issued[server.issued.length - 1]!;
        return status?.expiresAt === newest.expiresAt.toISOString().replace(/\.\d+Z$/, 'Z') ? { status, newest } : undefined;
      },
      30_000,
      200,
    );
    expect(Date.parse(status.nextRefreshTime!)).toBeLessThan(newest.expiresAt.getTime());
  }, 120_000);

  it('reuses a still-fresh credential after a restart instead of minting again', async () => {
    server.lifetimeSeconds = 600;
    // Let one refresh pick up the long lifetime.
    await waitFor('a long-lived token to be published', async () => {
      const status = (await getCredential(credential))?.status;
      return status?.expiresAt && Date.parse(status.expiresAt) - Date.now() > 300_000;
    }, 30_000);
    await operator!.stop();
    const before = server.tokenRequests();
    operator = startGoogleOperator();
    await operator.waitForLog((l) => l.msg === 'caches synced');
    await sleep(3000);
    expect(server.tokenRequests()).toBe(before);
    expect((await publishedTokens()).size).toBe(COUNT);
  }, 60_000);

  it('keeps the last good token when refresh fails, and recovers', async () => {
    server.lifetimeSeconds = LIFETIME_SECONDS;
    // Force a refresh now: a spec change mints.
    await adminConnection().custom.patchClusterCustomObject(
      { group: 'regcred.io', version: 'v1alpha1', plural: 'registrycredentials', name: credential, body: [{ op: 'add', path: '/spec/refresh', value: { schedule: '0 0 1 1 *' } }] },
    );
    await waitFor('a short-lived token', async () => {
      const status = (await getCredential(credential))?.status;
      return status?.expiresAt && Date.parse(status.expiresAt) - Date.now() < LIFETIME_SECONDS * 1000;
    }, 30_000);
    const good = (await publishedTokens()).get(namespaces[0]!)!.token;
    server.failNext(503, 'backend_error', 2);
    const failing = await waitForCondition(credential, 'TokenAvailable', 'True', 'RefreshFailing', 30_000);
    // The server fails the next two token requests: one or both have been made by now.
    expect(failing.status?.failedRefreshAttempts).toBeGreaterThanOrEqual(1);
    expect(failing.status?.failedRefreshAttempts).toBeLessThanOrEqual(2);
    const during = await publishedTokens();
    expect([...during.values()].every((p) => p.token === good)).toBe(true);
    const recovered = await waitForCondition(credential, 'TokenAvailable', 'True', 'CredentialAvailable', 60_000);
    expect(recovered.status?.failedRefreshAttempts).toBe(0);
    expect((await publishedTokens()).get(namespaces[0]!)!.token).not.toBe(good);
  }, 120_000);
});
