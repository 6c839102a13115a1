import { afterAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { formatWindow, parseChallenges, parseRateLimit, parseRateLimitHeader, pickChallenge, registryErrorCode } from '../../src/registry/challenge.js';
import { createVerifier, type RegistryVerifier } from '../../src/registry/probe.js';
import { classifyError, isLoopbackHost } from '../../src/registry/transport.js';
import { listenOnLoopback } from '../support/net-stubs.js';

describe('parseChallenges', () => {
  it.each([
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } }],
    ],
    // a quoted value holding commas (several actions) and an escaped quote
    [
      'bearer Realm="https://t.example/token?a=1,b=2", Service="reg \\"one\\"",scope="repository:a/b:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://t.example/token?a=1,b=2', service: 'reg "one"', scope: 'repository:a/b:pull,push' } }],
    ],
    // several challenges in one header, unquoted values, odd spacing
    [
      'Basic realm=harbor , Bearer realm="https://h.example/service/token",service=harbor-registry,error="insufficient_scope"',
      [
        { scheme: 'basic', params: { realm: 'harbor' } },
        { scheme: 'bearer', params: { realm: 'https://h.example/service/token', service: 'harbor-registry', error: 'insufficient_scope' } },
      ],
    ],
    ['Negotiate abc123==, BASIC realm="x"', [{ scheme: 'negotiate', params: {} }, { scheme: 'basic', params: { realm: 'x' } }]],
    ['', []],
  ])('%s', (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });

  it('prefers Bearer with a realm, else Basic', () => {
    expect(pickChallenge(parseChallenges('Basic realm="a", Bearer realm="https://t/token"'))?.scheme).toBe('bearer');
    expect(pickChallenge(parseChallenges('Bearer service="no realm", Basic realm="a"'))?.scheme).toBe('basic');
    expect(pickChallenge(parseChallenges('Negotiate'))).toBeUndefined();
  });
});

describe('rate-limit headers', () => {
  it.each([
    ['200;w=21600', { value: 200, windowSeconds: 21600 }],
    ['76;w=21600', { value: 76, windowSeconds: 21600 }],
    ['100', { value: 100 }],
    [' 5 ; W = 3600 ', { value: 5, windowSeconds: 3600 }],
    ['100;w=21600, 10;w=60', { value: 100, windowSeconds: 21600 }],
    ['abc', undefined],
    ['', undefined],
    [null, undefined],
  ])('%s', (value, expected) => {
    expect(parseRateLimitHeader(value)).toEqual(expected);
  });

  it('reads limit and remaining together, taking the window from either, defaulting to 6 h', () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(parseRateLimit(h({ 'ratelimit-limit': '200;w=21600', 'ratelimit-remaining': '187;w=21600' }))).toEqual({ limit: 200, remaining: 187, windowSeconds: 21600 });
    expect(parseRateLimit(h({ 'ratelimit-limit': '100', 'ratelimit-remaining': '3;w=3600' }))).toEqual({ limit: 100, remaining: 3, windowSeconds: 3600 });
    expect(parseRateLimit(h({ 'ratelimit-limit': '100', 'ratelimit-remaining': '3' }))).toEqual({ limit: 100, remaining: 3, windowSeconds: 21600 });
    expect(parseRateLimit(h({ 'ratelimit-limit': '100;w=21600' }))).toBeUndefined();
    expect(parseRateLimit(h({}))).toBeUndefined();
    expect(formatWindow(21600)).toBe('6 h');
    expect(formatWindow(120)).toBe('2 min');
    expect(formatWindow(90)).toBe('90 s');
  });
});

describe('registry error codes', () => {
  it.each([
    ['{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}', 'DENIED'],
    ['{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}', 'MANIFEST_UNKNOWN'],
    ['{"error":"invalid_grant"}', 'INVALID_GRANT'],
    ['{"details":"incorrect username or password"}', undefined],
    ['{"errors":[{"code":"secret value with spaces"}]}', undefined],
    ['<html>502</html>', undefined],
    ['', undefined],
  ])('%s', (body, code) => {
    expect(registryErrorCode(body)).toBe(code);
  });
});

function fetchFailed(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}
const coded = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('classifyError', () => {
  it.each([
    ['ENOTFOUND', fetchFailed(coded('ENOTFOUND', 'getaddrinfo ENOTFOUND registry.invalid')), 'dns', /does not resolve \(DNS ENOTFOUND\)/],
    ['EAI_AGAIN', fetchFailed(coded('EAI_AGAIN')), 'dns', /DNS EAI_AGAIN/],
    ['ECONNREFUSED', fetchFailed(coded('ECONNREFUSED')), 'tcp', /refused the connection \(TCP ECONNREFUSED\)/],
    ['ECONNRESET', fetchFailed(coded('ECONNRESET')), 'tcp', /reset the connection/],
    ['EHOSTUNREACH', fetchFailed(coded('EHOSTUNREACH')), 'tcp', /no route to host/],
    ['happy eyeballs', fetchFailed(Object.assign(new AggregateError([coded('ECONNREFUSED'), coded('ENETUNREACH')]), { code: 'ECONNREFUSED' })), 'tcp', /ECONNREFUSED/],
    ['socket closed', fetchFailed(coded('UND_ERR_SOCKET', 'other side closed')), 'tcp', /closed the connection/],
    ['unknown CA', fetchFailed(coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE')), 'tls', /certificate signed by an unknown authority: trust your CA with --registry-ca-file/],
    ['self-signed', fetchFailed(coded('DEPTH_ZERO_SELF_SIGNED_CERT')), 'tls', /unknown authority/],
    ['expired', fetchFailed(coded('CERT_HAS_EXPIRED')), 'tls', /expired/],
    ['wrong name', fetchFailed(coded('ERR_TLS_CERT_ALTNAME_INVALID')), 'tls', /not valid for this host name/],
    ['plain HTTP port', fetchFailed(coded('ERR_SSL_WRONG_VERSION_NUMBER')), 'tls', /does not speak TLS/],
    ['timeout signal', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'timeout', /timeout/],
    ['connect timeout', fetchFailed(coded('UND_ERR_CONNECT_TIMEOUT')), 'timeout', /timeout/],
    ['proxy refused', fetchFailed(coded('UND_ERR_ABORTED', 'Proxy response (407) !== 200 when HTTP Tunneling')), 'proxy', /proxy answered 407.*HTTPS_PROXY/],
    ['anything else', fetchFailed(new Error('weird')), 'other', /could not be reached/],
  ])('%s', (_name, err, kind, detail) => {
    const failure = classifyError(err);
    expect(failure.kind).toBe(kind);
    expect(failure.detail).toMatch(detail);
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1:5000', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['localhost:5000', true],
    ['[::1]:5000', true],
    ['[::1]', true],
    ['128.0.0.1:5000', false],
    ['registry.example.com', false],
    ['localhost.example.com:5000', false],
    ['[2001:db8::1]:443', false],
  ])('%s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

/** A programmable registry on loopback (plain HTTP: the prober falls back to it after HTTPS fails). */
async function fakeRegistry(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ host: string; seen: IncomingMessage[]; stop(): Promise<void> }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  const { port, close } = await listenOnLoopback(server);
  return { host: `127.0.0.1:${port}`, seen, stop: close };
}

describe('outcomes and their wording (against small fake registries)', () => {
  const verifiers: RegistryVerifier[] = [];
  const verifier = (): RegistryVerifier => {
    const v = createVerifier({ proxyEnv: {}, timeoutMs: 2000 });
    verifiers.push(v);
    return v;
  };
  const signal = new AbortController().signal;
  afterAll(async () => {
    await Promise.all(verifiers.map((v) => v.close()));
  });

  it('names the host, the status and the error code of a failing registry', async () => {
    const reg = await fakeRegistry((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}');
    });
    try {
      const result = await verifier().verify({ logins: [{ registry: reg.host, username: 'u', password: 'p' }], images: [], signal });
      expect(result.outcomes).toEqual([
        {
          host: reg.host,
          reason: 'Unreachable',
          message: `${reg.host} answered 503 UNAVAILABLE to GET /v2/: the registry is failing; it is retried, check the registry's status if it persists.`,
        },
      ]);
    } finally {
      await reg.stop();
    }
  });

  it('says so when a registry is open to anyone, and Denied for a 403 on an image', async () => {
    const reg = await fakeRegistry((req, res) => {
      res.writeHead(req.url === '/v2/' ? 200 : 403, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : '{}');
    });
    try {
      const result = await verifier().verify({ logins: [{ registry: reg.host, username: 'u', password: 'p' }], images: [`${reg.host}/a/b:1`], signal });
      expect(result.outcomes.map((o) => o.reason)).toEqual(['Verified', 'Denied']);
      expect(result.outcomes[0]!.message).toContain('anonymous access');
      expect(result.outcomes[1]!.message).toBe(`${reg.host} denied ${reg.host}/a/b:1 to this credential (HEAD of the manifest of ${reg.host}/a/b:1 answered 403 after authentication): grant the account pull access to a/b.`);
    } finally {
      await reg.stop();
    }
  });

  it('says Unauthorized for a 401 without a challenge it can answer', async () => {
    const reg = await fakeRegistry((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Negotiate' });
      res.end();
    });
    try {
      const result = await verifier().verify({ logins: [{ registry: reg.host, username: 'u', password: 'p' }], images: [], signal });
      expect(result.outcomes[0]).toMatchObject({ reason: 'Unauthorized', message: expect.stringContaining('without a challenge the kubelet can answer') });
    } finally {
      await reg.stop();
    }
  });

  it('does not carry Authorization across a redirect to another host', async () => {
    const other = await fakeRegistry((_req, res) => {
      res.writeHead(200);
      res.end();
    });
    const reg = await fakeRegistry((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
        res.end();
      } else if (req.url === '/v2/') {
        res.writeHead(200);
        res.end();
      } else {
        res.writeHead(307, { location: `http://${other.host.replace('127.0.0.1', 'localhost')}/blob` });
        res.end();
      }
    });
    try {
      const result = await verifier().verify({ logins: [{ registry: reg.host, username: 'u', password: 'p' }], images: [`${reg.host}/a/b:1`], signal });
      expect(result.outcomes.map((o) => o.reason)).toEqual(['Verified', 'Verified']);
      expect(reg.seen.some((r) => r.headers.authorization !== undefined)).toBe(true);
      expect(other.seen).toHaveLength(1);
      expect(other.seen[0]!.headers.authorization).toBeUndefined();
    } finally {
      await Promise.all([reg.stop(), other.stop()]);
    }
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    const reg = await fakeRegistry(() => undefined); // never answers
    try {
      const controller = new AbortController();
      const pending = verifier().verify({ logins: [{ registry: reg.host, username: 'u', password: 'p' }], images: [], signal: controller.signal });
      setTimeout(() => controller.abort(new Error('shutting down')), 50);
      await expect(pending).rejects.toThrow('shutting down');
    } finally {
      await reg.stop();
    }
  });

  it('skips glob keys and names an image no key covers', async () => {
    const result = await verifier().verify({ logins: [{ registry: '*.example.invalid', username: 'u', password: 'p' }], images: ['quay.io/a/b'], signal });
    expect(result.outcomes).toEqual([
      {
        host: 'quay.io',
        image: 'quay.io/a/b',
        reason: 'InvalidImage',
        message: 'no auths entry of this credential covers quay.io/a/b; the kubelet would not use it for this image: add its registry to the credential or remove the image from spec.verify.images.',
      },
    ]);
  });
});
