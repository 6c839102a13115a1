import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gcpMetadata } from 'google-auth-library';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { createGcrProvider, GOOGLE_TOKEN_URL_ENV, type GcrProviderDeps } from '../../src/providers/gcr.js';
import { ProviderError, type ProviderCredential, type SourceReader, type SourceSecret } from '../../src/providers/types.js';
import {
  CLOUD_PLATFORM_SCOPE,
  externalAccountConfig,
  generateServiceAccountKey,
  startGoogleTokenServer,
  type GoogleTokenServer,
  type ServiceAccountKeyPair,
} from '../support/google-token-server.js';

const NS = 'regcred-system';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const AUDIENCE = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci/providers/kube';
const SUBJECT_TOKEN = `eyJhbGciOiJSUzI1NiJ9.subject-${'s'.repeat(40)}.sig`;

let server: GoogleTokenServer;
let account: ServiceAccountKeyPair;
let dir: string;

function reader(...secrets: SourceSecret[]): SourceReader {
  return { namespace: NS, get: (name) => secrets.find((s) => s.name === name) };
}

function secret(name: string, data: Record<string, string>): SourceSecret {
  return { name, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) };
}

function gcrSpec(secretName?: string, registries = ['us-docker.pkg.dev', 'gcr.io'], key?: string): RegistryCredentialSpec {
  return {
    gcr: {
      registries,
      ...(secretName ? { credentialsSecretRef: { name: secretName, ...(key ? { key } : {}) } } : {}),
    },
  };
}

function provider(deps: GcrProviderDeps = {}) {
  return createGcrProvider({ env: { [GOOGLE_TOKEN_URL_ENV]: server.url }, ...deps });
}

function mint(spec: RegistryCredentialSpec, sources: SourceReader, deps?: GcrProviderDeps): Promise<ProviderCredential> {
  return provider(deps).mint(spec, sources, AbortSignal.timeout(20_000));
}

async function mintError(spec: RegistryCredentialSpec, sources: SourceReader, deps?: GcrProviderDeps): Promise<ProviderError> {
  try {
    await mint(spec, sources, deps);
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('mint did not throw');
}

/** The login per registry, to look one up by host. */
function auths(minted: ProviderCredential): Record<string, { username: string; password: string }> {
  return Object.fromEntries(minted.logins.map(({ registry, username, password }) => [registry, { username, password }]));
}

/** Nothing secret in what a user sees: no key material, no subject token, no access token. */
function expectNoSecrets(err: ProviderError): void {
  const text = `${err.reason} ${err.message}`;
  expect(text).not.toMatch(/BEGIN|PRIVATE KEY|MII[A-Za-z0-9+/]{20}/);
  expect(text).not.toContain(SUBJECT_TOKEN);
  expect(text).not.toMatch(/ya29\./);
  for (const token of server.issued) expect(text).not.toContain(token.accessToken);
  const key = JSON.parse(account.keyJson) as { private_key: string };
  for (const line of key.private_key.split('\n').filter((l) => l.length > 20)) expect(text).not.toContain(line);
}

beforeAll(async () => {
  server = await startGoogleTokenServer({ lifetimeSeconds: 120 });
  account = generateServiceAccountKey();
  server.addServiceAccount(account.email, account.publicKeyPem);
  dir = mkdtempSync(join(tmpdir(), 'gcr-provider-'));
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  server.lifetimeSeconds = 120;
});

describe('service account key', () => {
  it('mints one token per call and publishes it as oauth2accesstoken for every registry, with the expiry Google gave', async () => {
    const before = server.tokenRequests();
    const started = Date.now();
    const minted = await mint(gcrSpec('gcp-puller', ['us-docker.pkg.dev', 'gcr.io', 'gcr.io']), reader(secret('gcp-puller', { 'key.json': account.keyJson })));
    expect(server.tokenRequests() - before).toBe(1);
    const token = server.issued.at(-1)!;
    expect(token).toMatchObject({ grant: 'jwt-bearer', principal: account.email });
    expect(token.scope.split(' ')).toContain(CLOUD_PLATFORM_SCOPE);

    expect(minted.logins).toEqual([
      { registry: 'gcr.io', username: 'oauth2accesstoken', password: token.accessToken },
      { registry: 'us-docker.pkg.dev', username: 'oauth2accesstoken', password: token.accessToken },
    ]);
    // 120 s as the server said, not an assumed hour.
    expect(Math.abs(minted.expiresAt!.getTime() - token.expiresAt.getTime())).toBeLessThan(2000);
    expect(minted.expiresAt!.getTime()).toBeGreaterThanOrEqual(started + 119_000);
    expect(minted.expiresAt!.getTime()).toBeLessThan(Date.now() + 121_000);
  });

  it('asks for a fresh token on every mint and reads each expiry', async () => {
    const sources = reader(secret('gcp-puller', { 'key.json': account.keyJson }));
    const p = provider();
    const first = await p.mint(gcrSpec('gcp-puller'), sources, AbortSignal.timeout(20_000));
    server.lifetimeSeconds = 3599;
    const second = await p.mint(gcrSpec('gcp-puller'), sources, AbortSignal.timeout(20_000));
    expect(auths(second)['gcr.io']!.password).not.toBe(auths(first)['gcr.io']!.password);
    expect(auths(second)['gcr.io']!.password).toBe(server.issued.at(-1)!.accessToken);
    expect(second.expiresAt!.getTime() - first.expiresAt!.getTime()).toBeGreaterThan(3400_000);
  });

  it('reads the key named in credentialsSecretRef.key', async () => {
    const minted = await mint(gcrSpec('custom', ['europe-docker.pkg.dev'], 'sa.json'), reader(secret('custom', { 'sa.json': account.keyJson })));
    expect(auths(minted)['europe-docker.pkg.dev']!.password).toBe(server.issued.at(-1)!.accessToken);
  });

  it('gives AccessDenied (retryable) when Google rejects the signature, without key material in the message', async () => {
    const other = generateServiceAccountKey(account.email); // same account, a key Google does not know
    const err = await mintError(gcrSpec('stale'), reader(secret('stale', { 'key.json': other.keyJson })));
    expect(err.reason).toBe('AccessDenied');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(account.email);
    expect(err.message).toContain('invalid_grant');
    expect(err.message).toContain('Invalid JWT Signature');
    expect(err.message).toMatch(/key still exists and is enabled/);
    expect(server.rejected.at(-1)).toMatchObject({ path: '/token', status: 400, error: 'invalid_grant' });
    expectNoSecrets(err);
    const errKey = JSON.parse(other.keyJson) as { private_key: string };
    expect(err.message).not.toContain(errKey.private_key.split('\n')[1]);
  });

  it('gives AccessDenied for an account Google does not know (key deleted)', async () => {
    const gone = generateServiceAccountKey();
    const err = await mintError(gcrSpec('gone'), reader(secret('gone', { 'key.json': gone.keyJson })));
    expect(err.reason).toBe('AccessDenied');
    expect(err.message).toContain('account not found');
    expectNoSecrets(err);
  });

  it('sends exactly one request when Google fails with 503, and says it will retry', async () => {
    server.failNext(503, 'backend_error');
    const before = server.tokenRequests();
    const err = await mintError(gcrSpec('gcp-puller'), reader(secret('gcp-puller', { 'key.json': account.keyJson })));
    expect(server.tokenRequests() - before).toBe(1);
    expect(err).toMatchObject({ reason: 'ProviderError', retryable: true });
    expect(err.message).toMatch(/^requesting an access token for service account .+ failed: 127\.0\.0\.1:\d+ answered 503, a server error \(backend_error.*\); will retry$/);
    expectNoSecrets(err);
  });
});

describe('malformed source Secrets', () => {
  const key = JSON.parse(generateServiceAccountKey().keyJson) as Record<string, unknown>;
  const without = (field: string) => JSON.stringify(Object.fromEntries(Object.entries(key).filter(([k]) => k !== field)));

  it.each([
    { name: 'not JSON', text: `{"type":"service_account","private_key":"${String(key.private_key).slice(0, 60)}`, message: /is not valid JSON/ },
    { name: 'a JSON array', text: '[]', message: /must be a JSON object/ },
    { name: 'no type', text: without('type'), message: /has no "type"/ },
    { name: 'user credentials', text: JSON.stringify({ type: 'authorized_user', client_id: 'x', client_secret: 'y', refresh_token: 'z' }), message: /"authorized_user"; only "service_account" and "external_account"/ },
    { name: 'no private_key', text: without('private_key'), message: /without "private_key"/ },
    { name: 'no client_email', text: without('client_email'), message: /without "client_email"/ },
    { name: 'a private_key that is not PEM', text: JSON.stringify({ ...key, private_key: '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n' }), message: /not a PEM-encoded RSA private key/ },
    { name: 'another universe', text: JSON.stringify({ ...key, universe_domain: 'example.com' }), message: /universe domain "example.com"/ },
    {
      name: 'external_account without credential_source',
      text: JSON.stringify({ type: 'external_account', audience: AUDIENCE, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }),
      message: /without "credential_source"/,
    },
    {
      name: 'external_account sending tokens off Google',
      text: JSON.stringify({ ...JSON.parse(externalAccountConfig(AUDIENCE, '/tmp/t')), token_url: 'https://sts.evil.example/v1/token' }),
      message: /"token_url" must be an https URL on googleapis.com/,
    },
    {
      name: 'external_account running an executable',
      text: JSON.stringify({ ...JSON.parse(externalAccountConfig(AUDIENCE, '/tmp/t')), credential_source: { executable: { command: '/bin/sh -c id' } } }),
      message: /executable-sourced credentials/,
    },
  ])('$name → InvalidSourceSecret, not retried, nothing secret in the message', async ({ text, message }) => {
    const before = server.tokenRequests();
    const err = await mintError(gcrSpec('bad'), reader(secret('bad', { 'key.json': text })));
    expect(err.reason).toBe('InvalidSourceSecret');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`Secret ${NS}/bad`);
    expect(err.message).not.toMatch(/BEGIN|PRIVATE KEY|bm90IGEga2V5/);
    expect(err.message).not.toContain(String(key.private_key).slice(30, 60));
    expect(server.tokenRequests()).toBe(before);
  });

  it('names the missing key and the keys present', async () => {
    const err = await mintError(gcrSpec('wrong-key'), reader(secret('wrong-key', { 'credentials.json': account.keyJson })));
    expect(err).toMatchObject({ reason: 'InvalidSourceSecret', retryable: false });
    expect(err.message).toContain('has no key "key.json" (it has: credentials.json)');
    expectNoSecrets(err);
  });

  it('gives SourceSecretNotFound for a missing Secret', async () => {
    const err = await mintError(gcrSpec('absent'), reader());
    expect(err).toMatchObject({ reason: 'SourceSecretNotFound', retryable: false });
    expect(err.message).toContain(`Secret ${NS}/absent (spec.gcr.credentialsSecretRef) not found`);
  });
});

describe('external_account (workload identity federation)', () => {
  let tokenFile: string;

  beforeAll(() => {
    tokenFile = join(dir, 'oidc-token');
    writeFileSync(tokenFile, SUBJECT_TOKEN);
    server.addWorkloadIdentityPool({ audience: AUDIENCE, subjectToken: SUBJECT_TOKEN });
  });

  it('exchanges the file-sourced subject token at STS for a token', async () => {
    const before = server.tokenRequests();
    const minted = await mint(gcrSpec('wif', ['us-docker.pkg.dev']), reader(secret('wif', { 'key.json': externalAccountConfig(AUDIENCE, tokenFile) })));
    expect(server.tokenRequests() - before).toBe(1);
    const token = server.issued.at(-1)!;
    expect(token).toMatchObject({ grant: 'token-exchange', principal: AUDIENCE });
    expect(auths(minted)['us-docker.pkg.dev']).toMatchObject({ username: 'oauth2accesstoken', password: token.accessToken });
    expect(Math.abs(minted.expiresAt!.getTime() - token.expiresAt.getTime())).toBeLessThan(2000);
  });

  it('exchanges a url-sourced subject token', async () => {
    const oidc: Server = createHttpServer((req, res) => {
      res.writeHead(req.headers['x-test'] === 'yes' ? 200 : 401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id_token: SUBJECT_TOKEN }));
    });
    await new Promise<void>((resolve) => oidc.listen(0, '127.0.0.1', resolve));
    try {
      const config = {
        ...JSON.parse(externalAccountConfig(AUDIENCE, '')),
        credential_source: {
          url: `http://127.0.0.1:${(oidc.address() as AddressInfo).port}/token`,
          headers: { 'X-Test': 'yes' },
          format: { type: 'json', subject_token_field_name: 'id_token' },
        },
      };
      const minted = await mint(gcrSpec('wif-url'), reader(secret('wif-url', { 'key.json': JSON.stringify(config) })));
      expect(auths(minted)['gcr.io']!.password).toBe(server.issued.at(-1)!.accessToken);
    } finally {
      await new Promise((resolve) => oidc.close(resolve));
    }
  });

  it('gives AccessDenied when STS rejects the subject token, without the token in the message', async () => {
    const wrongFile = join(dir, 'wrong-token');
    writeFileSync(wrongFile, `${SUBJECT_TOKEN}-forged`);
    const err = await mintError(gcrSpec('wif-bad'), reader(secret('wif-bad', { 'key.json': externalAccountConfig(AUDIENCE, wrongFile) })));
    expect(err).toMatchObject({ reason: 'AccessDenied', retryable: true });
    expect(err.message).toContain(`${server.metadataHost} answered 400 (invalid_grant`);
    expectNoSecrets(err);
    expect(err.message).not.toContain('forged');
    // The library's error holds the request, subject_token included: it is not kept as the cause.
    expect(err.cause).toBeUndefined();
  });

  it('sends one STS request when STS fails with 503 (the library would retry three times on its own)', async () => {
    // One injected failure: a retry would succeed, and the mint with it.
    server.failNext(503, 'backend_error');
    const before = server.tokenRequests();
    const err = await mintError(gcrSpec('wif'), reader(secret('wif', { 'key.json': externalAccountConfig(AUDIENCE, tokenFile) })));
    expect(server.tokenRequests() - before).toBe(1);
    expect(err).toMatchObject({ reason: 'ProviderError', retryable: true });
    expect(err.message).toMatch(/answered 503/);
  });

  it('gives AccessDenied for an audience STS does not know', async () => {
    const err = await mintError(gcrSpec('wif-aud'), reader(secret('wif-aud', { 'key.json': externalAccountConfig(`${AUDIENCE}-other`, tokenFile) })));
    expect(err).toMatchObject({ reason: 'AccessDenied' });
    expect(err.message).toContain('invalid_target');
  });

  it('reports a subject token file that is not there', async () => {
    const err = await mintError(gcrSpec('wif-nofile'), reader(secret('wif-nofile', { 'key.json': externalAccountConfig(AUDIENCE, join(dir, 'missing')) })));
    expect(err).toMatchObject({ reason: 'ProviderError', retryable: true });
    expect(err.message).toMatch(/credential_source/);
    expectNoSecrets(err);
  });
});

describe('Application Default Credentials (metadata server)', () => {
  const saved: Record<string, string | undefined> = {};
  const vars = ['GCE_METADATA_HOST', 'GCE_METADATA_IP', 'GOOGLE_APPLICATION_CREDENTIALS', 'CLOUDSDK_CONFIG', 'METADATA_SERVER_DETECTION', 'GOOGLE_CLOUD_PROJECT'];

  beforeEach(() => {
    for (const v of vars) saved[v] = process.env[v];
    for (const v of vars) delete process.env[v];
    // No gcloud user credentials from this machine: only the metadata server.
    process.env.CLOUDSDK_CONFIG = mkdtempSync(join(dir, 'gcloud-'));
    process.env.GOOGLE_CLOUD_PROJECT = 'regcred-test';
    gcpMetadata.resetIsAvailableCache();
  });

  afterEach(() => {
    for (const v of vars) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    gcpMetadata.resetIsAvailableCache();
    server.metadataAccount = undefined;
  });

  it('gets the token from the metadata server when no Secret is named', async () => {
    process.env.GCE_METADATA_HOST = server.metadataHost;
    server.metadataAccount = 'operator@regcred-test.iam.gserviceaccount.com';
    const before = server.tokenRequests();
    const minted = await mint(gcrSpec(undefined, ['us-docker.pkg.dev']), reader());
    expect(server.tokenRequests() - before).toBe(1);
    const token = server.issued.at(-1)!;
    expect(token).toMatchObject({ grant: 'metadata', principal: 'operator@regcred-test.iam.gserviceaccount.com' });
    expect(token.scope.split(',')).toContain(CLOUD_PLATFORM_SCOPE);
    expect(auths(minted)['us-docker.pkg.dev']!.password).toBe(token.accessToken);
    expect(Math.abs(minted.expiresAt!.getTime() - token.expiresAt.getTime())).toBeLessThan(2000);
    // Every metadata request carried Metadata-Flavor: Google.
    expect(server.rejected.filter((r) => r.status === 403)).toEqual([]);
  });

  it('honours GOOGLE_APPLICATION_CREDENTIALS (a key file), through the same transport', async () => {
    const keyFile = join(dir, 'adc-key.json');
    writeFileSync(keyFile, account.keyJson);
    process.env.GOOGLE_APPLICATION_CREDENTIALS = keyFile;
    const before = server.tokenRequests();
    const minted = await mint(gcrSpec(undefined, ['gcr.io']), reader());
    expect(server.tokenRequests() - before).toBe(1);
    expect(server.issued.at(-1)).toMatchObject({ grant: 'jwt-bearer', principal: account.email });
    expect(auths(minted)['gcr.io']!.password).toBe(server.issued.at(-1)!.accessToken);
  });

  it('gives CredentialsNotFound when there is no metadata server', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    process.env.GCE_METADATA_HOST = `127.0.0.1:${port}`;
    const err = await mintError(gcrSpec(undefined), reader());
    expect(err).toMatchObject({ reason: 'CredentialsNotFound', retryable: true });
    expect(err.message).toMatch(/Workload Identity/);
  });

  it('gives an error naming the metadata server when it has no token for the pod', async () => {
    process.env.GCE_METADATA_HOST = server.metadataHost;
    const err = await mintError(gcrSpec(undefined), reader());
    expect(err).toMatchObject({ reason: 'ProviderError', retryable: true });
    expect(err.message).toContain(`${server.metadataHost} answered 404`);
  });
});

describe('transport', () => {
  it('gives ProviderUnreachable when nothing listens at the token endpoint', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await provider({ env: { [GOOGLE_TOKEN_URL_ENV]: `http://127.0.0.1:${port}` } })
      .mint(gcrSpec('gcp-puller'), reader(secret('gcp-puller', { 'key.json': account.keyJson })), AbortSignal.timeout(20_000))
      .then(
        () => undefined,
        (e: unknown) => e as ProviderError,
      );
    expect(err).toMatchObject({ reason: 'ProviderUnreachable', retryable: true });
    expect(err!.message).toBe(
      `requesting an access token for service account ${account.email} (key in Secret ${NS}/gcp-puller) failed: cannot reach 127.0.0.1:${port} (ECONNREFUSED); check the operator's network access to Google; will retry`,
    );
    expect(err!.cause).toBeUndefined();
    expectNoSecrets(err!);
  });

  it('gives ProviderUnreachable after timeoutMs when the endpoint never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const err = await provider({ env: { [GOOGLE_TOKEN_URL_ENV]: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` }, timeoutMs: 300 })
        .mint(gcrSpec('gcp-puller'), reader(secret('gcp-puller', { 'key.json': account.keyJson })), AbortSignal.timeout(20_000))
        .then(
          () => undefined,
          (e: unknown) => e as ProviderError,
        );
      expect(err).toMatchObject({ reason: 'ProviderUnreachable', retryable: true });
      // The host is the one the request went to if gaxios gave up first, else the identity's token endpoint.
      expect(err!.message).toMatch(/failed: cannot reach \S+ \(no answer within 300 ms\); check the operator's network access to Google; will retry$/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('rejects a REGCRED_GOOGLE_TOKEN_URL that is not a URL at construction', () => {
    expect(() => createGcrProvider({ env: { [GOOGLE_TOKEN_URL_ENV]: 'not a url' } })).toThrow(/REGCRED_GOOGLE_TOKEN_URL must be an http\(s\) URL/);
  });

  /** A gaxios-like failure of the token request, as google-auth-library rejects with. */
  function gaxiosError(status: number, data: unknown, url = 'https://oauth2.googleapis.com/token'): Error {
    return Object.assign(new Error(`Request failed with status code ${status}`), { name: 'GaxiosError', status, response: { status, data, config: { url } }, config: { url } });
  }

  const keySources = () => reader(secret('gcp-puller', { 'key.json': account.keyJson }));
  const failing = (err: Error): GcrProviderDeps => ({ authFactory: () => ({ getAccessToken: () => Promise.reject(err), credentials: {} }) });

  it('gives Throttled for a 429, naming the host and Google\'s error', async () => {
    const err = await mintError(gcrSpec('gcp-puller'), keySources(), failing(gaxiosError(429, { error: { status: 'RESOURCE_EXHAUSTED', message: 'Quota exceeded' } })));
    expect(err).toMatchObject({ reason: 'Throttled', retryable: true });
    expect(err.message).toBe(
      `requesting an access token for service account ${account.email} (key in Secret ${NS}/gcp-puller) was throttled by oauth2.googleapis.com (RESOURCE_EXHAUSTED: Quota exceeded); will retry with backoff`,
    );
  });

  it('finds a network code and the host down the cause chain', async () => {
    const wrapped = Object.assign(new Error('request to token endpoint failed'), {
      config: { url: 'https://sts.googleapis.com/v1/token' },
      cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    });
    const err = await mintError(gcrSpec('gcp-puller'), keySources(), failing(wrapped));
    expect(err).toMatchObject({ reason: 'ProviderUnreachable', retryable: true });
    expect(err.message).toContain('cannot reach sts.googleapis.com (ECONNRESET)');
  });

  it("says 'the time allowed' when the caller's signal ends the mint, not the provider's own timeout", async () => {
    const controller = new AbortController();
    const pending = createGcrProvider({ env: {}, timeoutMs: 10_000, authFactory: () => ({ getAccessToken: () => new Promise(() => undefined), credentials: {} }) }).mint(
      gcrSpec('gcp-puller'),
      keySources(),
      controller.signal,
    );
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toMatchObject({
      reason: 'ProviderUnreachable',
      retryable: true,
      message: `requesting an access token for service account ${account.email} (key in Secret ${NS}/gcp-puller) failed: cannot reach oauth2.googleapis.com (no answer within the time allowed); check the operator's network access to Google; will retry`,
    });
  });

  it('keeps a 404 from the token endpoint a retryable ProviderError naming the host', async () => {
    const err = await mintError(gcrSpec('gcp-puller'), keySources(), failing(gaxiosError(404, 'Not Found')));
    expect(err).toMatchObject({ reason: 'ProviderError', retryable: true });
    expect(err.message).toBe(`requesting an access token for service account ${account.email} (key in Secret ${NS}/gcp-puller) failed: oauth2.googleapis.com answered 404; will retry`);
  });

  it('refuses spec.gcr.registries that cannot be published as InvalidSpec', async () => {
    const err = await mintError(gcrSpec('gcp-puller', ['gcr.io', '']), keySources(), {
      authFactory: () => ({ getAccessToken: () => Promise.resolve({ token: 'fake-token' }), credentials: { expiry_date: Date.now() + 60_000 } }),
    });
    expect(err).toMatchObject({ reason: 'InvalidSpec', retryable: false, message: 'spec.gcr.registries: cannot build a dockerconfigjson with an empty registry name' });
  });

  it('uses an injected auth factory and refuses a token without an expiry', async () => {
    const ok = await mint(gcrSpec('gcp-puller', ['gcr.io']), reader(secret('gcp-puller', { 'key.json': account.keyJson })), {
      authFactory: (identity) => {
        expect(identity.kind).toBe('service_account');
        return { getAccessToken: () => Promise.resolve({ token: 'fake-token' }), credentials: { expiry_date: Date.now() + 60_000 } };
      },
    });
    expect(auths(ok)['gcr.io']!.password).toBe('fake-token');
    const err = await mintError(gcrSpec('gcp-puller'), reader(secret('gcp-puller', { 'key.json': account.keyJson })), {
      authFactory: () => ({ getAccessToken: () => Promise.resolve({ token: 'fake-token' }), credentials: {} }),
    });
    expect(err).toMatchObject({ reason: 'ProviderError', retryable: true });
    expect(err.message).toMatch(/without a usable expiry/);
    expect(err.message).not.toContain('fake-token');
  });
});
