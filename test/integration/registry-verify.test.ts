import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createVerifier, type VerifierOptions } from '../../src/registry/probe.js';
import type { RegistryLogin } from '../../src/providers/types.js';
import type { VerificationResult } from '../../src/registry/types.js';
import { startDockerHubStandIn, type DockerHubStandIn } from '../support/dockerhub-standin.js';
import { captureLog } from '../support/log-capture.js';
import { startBlackHole, startConnectProxy } from '../support/net-stubs.js';
import { buildOciLayout, inspectWithCreds, pushImage, startRegistry, type TestRegistry } from '../support/registry.js';
import { startTokenService, type TokenService } from '../support/token-service.js';

const PULLER_PASSWORD = 'puller-Secret-9f3a';
const PUSHER_PASSWORD = 'pusher-Secret-71c2';
const READER_PASSWORD = 'reader-Secret-0b8e';
const OUTSIDER_PASSWORD = 'outsider-Secret-55d1';
const HUB_PASSWORD = 'hub-Secret-c4e7';
const WRONG_PASSWORD = 'wrong-Secret-e19d';
const SECRETS = [PULLER_PASSWORD, PUSHER_PASSWORD, READER_PASSWORD, OUTSIDER_PASSWORD, HUB_PASSWORD, WRONG_PASSWORD];
const PROXIED_NAME = 'tls-registry.regcred.test';

const capture = captureLog('debug');
const results: VerificationResult[] = [];
const verifiers: { close(): Promise<void> }[] = [];

let basic: TestRegistry;
let tokenAuth: TestRegistry;
let tokens: TokenService;
let tlsRegistry: TestRegistry;
let hub: DockerHubStandIn;
let digest: string;

async function verify(logins: RegistryLogin[], images: string[] = [], options: VerifierOptions = {}): Promise<VerificationResult> {
  const verifier = createVerifier({ proxyEnv: {}, log: capture.log, ...options });
  verifiers.push(verifier);
  const result = await verifier.verify({ logins, images, signal: new AbortController().signal });
  results.push(result);
  return result;
}

const login = (registry: string, username: string, password: string): RegistryLogin => ({ registry, username, password });

beforeAll(async () => {
  basic = await startRegistry({ puller: PULLER_PASSWORD, pusher: PUSHER_PASSWORD });
  await pushImage(buildOciLayout(), basic.host, 'team/app', 'pusher', PUSHER_PASSWORD);
  const inspected = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--creds', `puller:${PULLER_PASSWORD}`, `docker://${basic.host}/team/app:latest`], { encoding: 'utf8' });
  digest = (JSON.parse(inspected) as { Digest: string }).Digest;

  tokens = await startTokenService({
    users: {
      pusher: { password: PUSHER_PASSWORD, pull: ['*'], push: ['*'] },
      reader: { password: READER_PASSWORD, pull: ['team/app'] },
      outsider: { password: OUTSIDER_PASSWORD, pull: ['other/thing'] },
    },
  });
  tokenAuth = await startRegistry({}, { tokenAuth: tokens });
  await pushImage(buildOciLayout(), tokenAuth.host, 'team/app', 'pusher', PUSHER_PASSWORD);

  tlsRegistry = await startRegistry({ puller: PULLER_PASSWORD }, { tls: true, tlsDnsNames: [PROXIED_NAME] });

  hub = await startDockerHubStandIn({
    users: { alice: { password: HUB_PASSWORD, repositories: ['alice/private'] } },
    publicRepositories: { 'library/busybox': ['latest', '1.36'] },
    remaining: 187,
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(verifiers.map((v) => v.close()));
  await Promise.all([basic?.stop(), tokenAuth?.stop(), tokens?.stop(), tlsRegistry?.stop(), hub?.stop()]);
});

describe('the token-auth test registry itself', () => {
  it('pushes through the token flow and lets a reader inspect, but not an outsider', async () => {
    const pushes = tokens.requests.filter((r) => r.user === 'pusher' && r.scopes.some((s) => s.includes('push')));
    expect(pushes.length).toBeGreaterThan(0);
    expect(pushes.every((r) => r.status === 200)).toBe(true);
    const ok = await inspectWithCreds(tokenAuth.host, 'team/app', 'reader', READER_PASSWORD);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).Digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const refused = await inspectWithCreds(tokenAuth.host, 'team/app', 'outsider', OUTSIDER_PASSWORD);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/denied|unauthorized|401|403/i);
  });
});

describe('htpasswd registry (plain HTTP on loopback)', () => {
  it('verifies the right password, reaching the registry over HTTP after HTTPS failed', async () => {
    const before = capture.lines().length;
    const result = await verify([login(basic.host, 'puller', PULLER_PASSWORD)]);
    expect(result.outcomes).toEqual([{ host: basic.host, reason: 'Verified', message: expect.stringContaining('accepted the credential') }]);
    expect(result.rateLimit).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const fallback = capture.lines().slice(before).find((l) => l.msg === 'registry reached over plain HTTP after HTTPS failed');
    expect(fallback).toMatchObject({ host: basic.host, https: 'tls' });
  });

  it('says Unauthorized for a wrong password', async () => {
    const result = await verify([login(basic.host, 'puller', WRONG_PASSWORD)]);
    expect(result.outcomes).toHaveLength(1);
    expect(result.outcomes[0]).toMatchObject({ host: basic.host, reason: 'Unauthorized' });
    expect(result.outcomes[0]!.message).toContain('401');
    expect(result.outcomes[0]!.message).toContain(basic.host);
  });

  it('checks named images by tag and digest, a missing tag, and images the credential does not cover', async () => {
    const images = [`${basic.host}/team/app:latest`, `${basic.host}/team/app@${digest}`, `${basic.host}/team/app:missing`, 'ghcr.io/acme/tool:1', 'Not An Image!'];
    const result = await verify([login(`https://${basic.host}`, 'puller', PULLER_PASSWORD)], images);
    expect(result.outcomes.map((o) => [o.image, o.reason])).toEqual([
      [undefined, 'Verified'],
      [images[0], 'Verified'],
      [images[1], 'Verified'],
      [images[2], 'ImageNotFound'],
      [images[3], 'InvalidImage'],
      [images[4], 'InvalidImage'],
    ]);
    expect(result.outcomes[3]!.message).toContain('404');
    expect(result.outcomes[4]!.message).toBe(
      'no auths entry of this credential covers ghcr.io/acme/tool:1; the kubelet would not use it for this image: add its registry to the credential or remove the image from spec.verify.images.',
    );
    expect(result.outcomes[5]!.message).toContain('"Not An Image!"');
  });

  it('answers Unauthorized per image when the password is wrong', async () => {
    const result = await verify([login(basic.host, 'puller', WRONG_PASSWORD)], [`${basic.host}/team/app:latest`]);
    expect(result.outcomes.map((o) => o.reason)).toEqual(['Unauthorized', 'Unauthorized']);
    expect(result.outcomes[1]!.message).toContain(`${basic.host}/team/app:latest`);
  });
});

describe('token-auth registry (distribution auth: token, JWTs from the local token service)', () => {
  it('verifies a reader through the Bearer flow, asking for a pull token on the named repository', async () => {
    const before = tokens.requests.length;
    const result = await verify([login(tokenAuth.host, 'reader', READER_PASSWORD)], [`${tokenAuth.host}/team/app:latest`]);
    expect(result.outcomes.map((o) => o.reason)).toEqual(['Verified', 'Verified']);
    expect(result.outcomes[0]!.message).toContain('token');
    const asked = tokens.requests.slice(before);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.user === 'reader' && r.service === tokens.service && r.status === 200)).toBe(true);
    expect(asked.flatMap((r) => r.scopes)).toContain('repository:team/app:pull');
  });

  it('says Unauthorized when the token service rejects the password', async () => {
    const result = await verify([login(tokenAuth.host, 'reader', WRONG_PASSWORD)], [`${tokenAuth.host}/team/app:latest`]);
    expect(result.outcomes.map((o) => o.reason)).toEqual(['Unauthorized', 'Unauthorized']);
    expect(result.outcomes[0]!.message).toContain('token service');
    expect(result.outcomes[0]!.message).toContain('401 UNAUTHORIZED');
  });

  it('says Denied for a user whose token does not grant the repository', async () => {
    const result = await verify([login(tokenAuth.host, 'outsider', OUTSIDER_PASSWORD)], [`${tokenAuth.host}/team/app:latest`]);
    expect(result.outcomes.map((o) => o.reason)).toEqual(['Verified', 'Denied']);
    expect(result.outcomes[1]!.message).toContain('401 insufficient_scope');
    expect(result.outcomes[1]!.message).toContain('team/app');
  });

  it('says ImageNotFound for a missing tag', async () => {
    const result = await verify([login(tokenAuth.host, 'reader', READER_PASSWORD)], [`${tokenAuth.host}/team/app:nope`]);
    expect(result.outcomes.map((o) => o.reason)).toEqual(['Verified', 'ImageNotFound']);
  });
});

describe('TLS registry with a private CA', () => {
  it('is Unreachable without the CA, naming TLS and the unknown authority', async () => {
    const result = await verify([login(tlsRegistry.host, 'puller', PULLER_PASSWORD)]);
    expect(result.outcomes).toHaveLength(1);
    expect(result.outcomes[0]!.reason).toBe('Unreachable');
    expect(result.outcomes[0]!.message).toContain(tlsRegistry.host);
    expect(result.outcomes[0]!.message).toContain('TLS');
    expect(result.outcomes[0]!.message).toContain('certificate signed by an unknown authority: trust your CA with --registry-ca-file');
  });

  it('verifies with the CA file', async () => {
    const result = await verify([login(tlsRegistry.host, 'puller', PULLER_PASSWORD)], [], { caFile: tlsRegistry.caFile! });
    expect(result.outcomes.map((o) => o.reason)).toEqual(['Verified']);
  });
});

describe('proxies', () => {
  it('goes through HTTPS_PROXY (the proxy alone resolves the name), and never for a loopback host', async () => {
    const port = tlsRegistry.host.split(':')[1]!;
    const proxy = await startConnectProxy({ [`${PROXIED_NAME}:443`]: `127.0.0.1:${port}` });
    try {
      const result = await verify([login(PROXIED_NAME, 'puller', PULLER_PASSWORD), login(tlsRegistry.host, 'puller', PULLER_PASSWORD)], [], {
        caFile: tlsRegistry.caFile!,
        proxyEnv: { HTTPS_PROXY: proxy.url },
      });
      expect(result.outcomes.map((o) => [o.host, o.reason])).toEqual([
        [PROXIED_NAME, 'Verified'],
        [tlsRegistry.host, 'Verified'],
      ]);
      expect(proxy.connects.length).toBeGreaterThan(0);
      expect(new Set(proxy.connects)).toEqual(new Set([`${PROXIED_NAME}:443`]));
    } finally {
      await proxy.stop();
    }
  });

  it('bypasses the proxy for a NO_PROXY host', async () => {
    const proxy = await startConnectProxy({ [`${PROXIED_NAME}:443`]: tlsRegistry.host });
    try {
      const result = await verify([login(PROXIED_NAME, 'puller', PULLER_PASSWORD)], [], {
        caFile: tlsRegistry.caFile!,
        proxyEnv: { HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost,.regcred.test' },
      });
      // Without the proxy the name does not resolve: the direct attempt fails at DNS.
      expect(result.outcomes[0]).toMatchObject({ host: PROXIED_NAME, reason: 'Unreachable' });
      expect(result.outcomes[0]!.message).toContain('DNS');
      expect(proxy.connects).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});

describe('network failures', () => {
  it('says Unreachable (DNS) for a name that does not resolve', async () => {
    const result = await verify([login('registry.invalid', 'puller', PULLER_PASSWORD)]);
    expect(result.outcomes).toEqual([{ host: 'registry.invalid', reason: 'Unreachable', message: expect.stringMatching(/^registry\.invalid could not be reached .*DNS E(NOTFOUND|AI_AGAIN)/) }]);
  });

  it('says Unreachable (timeout) for a TCP black hole', async () => {
    const hole = await startBlackHole();
    try {
      const result = await verify([login(hole.host, 'puller', PULLER_PASSWORD)], [], { timeoutMs: 400 });
      expect(result.outcomes[0]).toMatchObject({ host: hole.host, reason: 'Unreachable' });
      expect(result.outcomes[0]!.message).toContain(`${hole.host} could not be reached`);
      expect(result.outcomes[0]!.message).toContain('timeout');
    } finally {
      await hole.stop();
    }
  });

  it('says Unreachable (connection refused) for a closed port, reporting the HTTPS attempt', async () => {
    const hole = await startBlackHole();
    await hole.stop();
    const result = await verify([login(hole.host, 'puller', PULLER_PASSWORD)]);
    expect(result.outcomes[0]).toMatchObject({ host: hole.host, reason: 'Unreachable' });
    expect(result.outcomes[0]!.message).toContain('ECONNREFUSED');
  });
});

describe('Docker Hub (local stand-in)', () => {
  it('verifies, checks images with HEAD only, and reads the pull headroom', async () => {
    const before = hub.requests.length;
    const images = ['busybox', 'alice/private:latest', 'library/busybox:nope'];
    const result = await verify([login('https://index.docker.io/v1/', 'alice', HUB_PASSWORD)], images, { dockerHubRegistryUrl: hub.url });
    expect(result.outcomes.map((o) => [o.host, o.image, o.reason])).toEqual([
      ['registry-1.docker.io', undefined, 'Verified'],
      ['registry-1.docker.io', 'busybox', 'Verified'],
      ['registry-1.docker.io', 'alice/private:latest', 'Verified'],
      ['registry-1.docker.io', 'library/busybox:nope', 'ImageNotFound'],
    ]);
    expect(result.rateLimit).toMatchObject({ limit: 200, remaining: 187, windowSeconds: 21600 });
    expect(result.rateLimit!.checkedAt).toBeInstanceOf(Date);
    const seen = hub.requests.slice(before);
    const manifestRequests = seen.filter((r) => r.path.includes('/manifests/'));
    expect(manifestRequests.every((r) => r.method === 'HEAD')).toBe(true);
    expect(manifestRequests.filter((r) => r.path === '/v2/ratelimitpreview/test/manifests/latest')).toHaveLength(1);
    expect(seen.filter((r) => r.path === '/v2/' && !r.authenticated)).toHaveLength(1);
    expect(seen.flatMap((r) => r.scopes ?? [])).toEqual(expect.arrayContaining(['repository:ratelimitpreview/test:pull', 'repository:library/busybox:pull']));
  });

  it('says Unauthorized for a wrong password and reads no headroom', async () => {
    const result = await verify([login('docker.io', 'alice', WRONG_PASSWORD)], [], { dockerHubRegistryUrl: hub.url });
    expect(result.outcomes).toEqual([{ host: 'registry-1.docker.io', reason: 'Unauthorized', message: expect.stringContaining('token service') }]);
    expect(result.rateLimit).toBeUndefined();
  });

  it('says RateLimited when Docker Hub answers 429', async () => {
    hub.setRateLimited(true);
    try {
      const result = await verify([login('index.docker.io', 'alice', HUB_PASSWORD)], ['busybox:1.36'], { dockerHubRegistryUrl: hub.url });
      expect(result.outcomes.map((o) => o.reason)).toEqual(['RateLimited', 'RateLimited']);
      expect(result.outcomes[1]!.message).toContain('429');
      expect(result.rateLimit).toMatchObject({ limit: 200, remaining: 0 });
    } finally {
      hub.setRateLimited(false);
    }
  });
});

describe('secrets', () => {
  it('appear in no outcome message and no log line of any scenario above', () => {
    const messages = results.flatMap((r) => r.outcomes.map((o) => o.message));
    expect(messages.length).toBeGreaterThan(20);
    const logged = capture.output();
    expect(capture.lines().length).toBeGreaterThan(20);
    const everything = `${messages.join('\n')}\n${logged}`;
    for (const secret of SECRETS) {
      expect(everything).not.toContain(secret);
      for (const user of ['puller', 'pusher', 'reader', 'outsider', 'alice']) {
        expect(everything).not.toContain(Buffer.from(`${user}:${secret}`).toString('base64'));
      }
    }
    const issued = [...hub.issuedTokens, ...tokens.issuedTokens];
    expect(hub.issuedTokens.length).toBeGreaterThan(0);
    expect(tokens.issuedTokens.length).toBeGreaterThan(0);
    for (const token of issued) expect(everything).not.toContain(token);
    // The token service's tokens are JWTs: base64url JSON starting with eyJ.
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}|Bearer\s+\S{8,}/);
    expect(everything.toLowerCase()).not.toContain('authorization');
  });
});
