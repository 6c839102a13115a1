import { describe, expect, it } from '@jest/globals';
import { classifyTransportError, NETWORK_CODES, readErrorShape, type TransportContext } from '../../src/providers/errors.js';
import { ProviderError } from '../../src/providers/types.js';

const ACTION = 'ECR GetAuthorizationToken';
const ENDPOINT = 'ECR at https://api.ecr.us-east-1.amazonaws.com';
/** Stands for whatever a library's message may echo from the request: it must never reach a ProviderError. */
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY';

const live = (): AbortSignal => new AbortController().signal;
const fired = (reason?: unknown): AbortSignal => {
  const controller = new AbortController();
  controller.abort(reason);
  return controller.signal;
};

function ctx(overrides: Partial<TransportContext> = {}): TransportContext {
  return { action: ACTION, endpoint: ENDPOINT, signal: live(), timeoutMs: 2_000, ...overrides };
}

/** A Node system error as a socket or DNS failure rejects with; its message quotes a secret to prove it is never copied. */
function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:4566 ${SECRET}`), { code, errno: -1, syscall: 'connect' });
}

function classify(err: unknown, context: TransportContext = ctx()): ProviderError | undefined {
  const result = classifyTransportError(readErrorShape(err), context);
  if (result) {
    expect(result).toBeInstanceOf(ProviderError);
    expect(result.message).not.toContain(SECRET);
    // The library's error can hold the request: it is not kept as the cause.
    expect(result.cause).toBeUndefined();
  }
  return result;
}

describe('NETWORK_CODES', () => {
  it('is the union of the codes ECR and Google each treated as "no answer", plus ENETDOWN and undici timeouts', () => {
    expect([...NETWORK_CODES].sort()).toEqual(
      [
        'CERT_HAS_EXPIRED',
        'DEPTH_ZERO_SELF_SIGNED_CERT',
        'EAI_AGAIN',
        'ECONNABORTED',
        'ECONNREFUSED',
        'ECONNRESET',
        'EHOSTDOWN',
        'EHOSTUNREACH',
        'ENETDOWN',
        'ENETUNREACH',
        'ENOTFOUND',
        'EPIPE',
        'EPROTO',
        'ERR_TLS_CERT_ALTNAME_INVALID',
        'ETIMEDOUT',
        'SELF_SIGNED_CERT_IN_CHAIN',
        'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        'UND_ERR_BODY_TIMEOUT',
        'UND_ERR_CONNECT_TIMEOUT',
        'UND_ERR_HEADERS_TIMEOUT',
        'UND_ERR_SOCKET',
      ].sort(),
    );
  });
});

describe('classifyTransportError: no answer → ProviderUnreachable, retryable', () => {
  it.each([...NETWORK_CODES].sort())('%s names the endpoint and the code', (code) => {
    const result = classify(systemError(code));
    expect(result?.reason).toBe('ProviderUnreachable');
    expect(result?.retryable).toBe(true);
    expect(result?.message).toBe(`${ACTION} failed: cannot reach ${ENDPOINT} (${code}); will retry`);
  });

  it.each([
    { what: 'on the error', err: systemError('ECONNREFUSED'), code: 'ECONNREFUSED' },
    { what: 'on its cause (fetch wraps the system error)', err: new TypeError('fetch failed', { cause: systemError('ENOTFOUND') }), code: 'ENOTFOUND' },
    { what: 'three causes down', err: new Error('a', { cause: new Error('b', { cause: new Error('c', { cause: systemError('EAI_AGAIN') }) }) }), code: 'EAI_AGAIN' },
  ])('finds the code $what', ({ err, code }) => {
    expect(classify(err)).toMatchObject({ reason: 'ProviderUnreachable', retryable: true, message: `${ACTION} failed: cannot reach ${ENDPOINT} (${code}); will retry` });
  });

  it.each([
    { what: 'the request timed out (TimeoutError, with ETIMEDOUT)', err: Object.assign(new Error(`exceeded the 2000 ms requestTimeout ${SECRET}`), { name: 'TimeoutError', code: 'ETIMEDOUT' }), why: 'no answer within 2000 ms' },
    { what: 'a TimeoutError code (gaxios)', err: Object.assign(new Error('timeout'), { code: 'TimeoutError' }), why: 'no answer within 2000 ms' },
    { what: 'a wrapped TimeoutError (a library timer)', err: new Error('request failed', { cause: new DOMException('The operation timed out.', 'TimeoutError') }), why: 'no answer within 2000 ms' },
    { what: 'an AbortError not from our signal', err: Object.assign(new Error(`Request aborted ${SECRET}`), { name: 'AbortError' }), why: 'the request was aborted' },
    { what: 'a wrapped AbortError', err: new Error('failed', { cause: new DOMException('aborted', 'AbortError') }), why: 'the request was aborted' },
  ])('$what: $why', ({ err, why }) => {
    expect(classify(err)).toMatchObject({ reason: 'ProviderUnreachable', retryable: true, message: `${ACTION} failed: cannot reach ${ENDPOINT} (${why}); will retry` });
  });

  it("anything thrown after the caller's signal fired, without a response, is 'no answer within the time allowed'", () => {
    // The caller's deadline is its own: the message must not claim the per-request timeout, even when the reason is a TimeoutError.
    for (const signal of [fired(), fired(new DOMException('The operation timed out.', 'TimeoutError'))]) {
      for (const err of [new Error(`boom ${SECRET}`), Object.assign(new Error('aborted'), { name: 'AbortError', cause: signal.reason as unknown }), 'a string']) {
        expect(classify(err, ctx({ signal }))).toMatchObject({
          reason: 'ProviderUnreachable',
          retryable: true,
          message: `${ACTION} failed: cannot reach ${ENDPOINT} (no answer within the time allowed); will retry`,
        });
      }
    }
  });

  it("names timeoutMs when the provider's own timer fired", () => {
    const timeoutSignal = fired(new DOMException('The operation timed out.', 'TimeoutError'));
    const result = classify(Object.assign(new Error('aborted'), { name: 'AbortError' }), ctx({ signal: timeoutSignal, timeoutSignal, timeoutMs: 300 }));
    expect(result).toMatchObject({ reason: 'ProviderUnreachable', retryable: true, message: `${ACTION} failed: cannot reach ${ENDPOINT} (no answer within 300 ms); will retry` });
  });

  it('lets a response that came back as the signal fired speak for itself', () => {
    const answered = Object.assign(new Error('denied'), { $metadata: { httpStatusCode: 403 } });
    expect(classify(answered, ctx({ signal: fired() }))).toBeUndefined();
    const failed = Object.assign(new Error('down'), { $metadata: { httpStatusCode: 503 } });
    expect(classify(failed, ctx({ signal: fired() }))).toMatchObject({ reason: 'ProviderError', retryable: true });
  });

  it('adds the hint before "will retry"', () => {
    const result = classify(systemError('ECONNREFUSED'), ctx({ action: 'requesting an access token for x', endpoint: 'oauth2.googleapis.com', unreachableHint: "check the operator's network access to Google" }));
    expect(result?.message).toBe("requesting an access token for x failed: cannot reach oauth2.googleapis.com (ECONNREFUSED); check the operator's network access to Google; will retry");
  });
});

describe('classifyTransportError: throttling → Throttled, retryable', () => {
  const THROTTLE_NAMES = new Set(['ThrottlingException', 'Throttling']);

  it.each([
    { what: 'HTTP 429 (AWS $metadata)', err: Object.assign(new Error(`slow down ${SECRET}`), { name: 'SomethingNew', $metadata: { httpStatusCode: 429 } }), detail: 'SomethingNew' },
    { what: 'HTTP 429 (gaxios response)', err: Object.assign(new Error('Too Many Requests'), { response: { status: 429 } }), detail: 'RESOURCE_EXHAUSTED' },
    { what: 'HTTP 429 (status)', err: Object.assign(new Error('Too Many Requests'), { status: 429 }), detail: 'rate' },
    { what: 'a throttling name at HTTP 400', err: Object.assign(new Error(`Rate exceeded ${SECRET}`), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }), detail: 'ThrottlingException' },
    { what: 'a throttling name without a status', err: Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }), detail: 'Throttling' },
  ])('$what', ({ err, detail }) => {
    const result = classify(err, ctx({ throttleNames: THROTTLE_NAMES, detail }));
    expect(result?.reason).toBe('Throttled');
    expect(result?.retryable).toBe(true);
    expect(result?.message).toBe(`${ACTION} was throttled by ${ENDPOINT} (${detail}); will retry with backoff`);
  });

  it('leaves a throttling name to the provider that did not list it', () => {
    expect(classify(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }))).toBeUndefined();
  });

  it('omits the parentheses without a detail', () => {
    expect(classify(Object.assign(new Error('x'), { status: 429 }))?.message).toBe(`${ACTION} was throttled by ${ENDPOINT}; will retry with backoff`);
  });
});

describe('classifyTransportError: server errors → ProviderError, retryable', () => {
  it.each([500, 502, 503, 504, 599])('HTTP %i', (status) => {
    const result = classify(Object.assign(new Error(`internal ${SECRET}`), { name: 'ServerException', $metadata: { httpStatusCode: status } }), ctx({ detail: 'ServerException' }));
    expect(result?.reason).toBe('ProviderError');
    expect(result?.retryable).toBe(true);
    expect(result?.message).toBe(`${ACTION} failed: ${ENDPOINT} answered ${status}, a server error (ServerException); will retry`);
  });

  it('a gaxios 503 inside a wrapper', () => {
    const err = new Error('token exchange failed', { cause: Object.assign(new Error('Service Unavailable'), { response: { status: 503, data: SECRET } }) });
    expect(classify(err, ctx({ endpoint: 'sts.googleapis.com', detail: 'backend_error' }))).toMatchObject({
      reason: 'ProviderError',
      retryable: true,
      message: `${ACTION} failed: sts.googleapis.com answered 503, a server error (backend_error); will retry`,
    });
  });

  it('an AWS server fault without a status', () => {
    const result = classify(Object.assign(new Error('later'), { name: 'ServiceUnavailableException', $fault: 'server' }), ctx({ detail: 'ServiceUnavailableException' }));
    expect(result).toMatchObject({ reason: 'ProviderError', retryable: true, message: `${ACTION} failed: ${ENDPOINT} returned a server error (ServiceUnavailableException); will retry` });
  });
});

describe('classifyTransportError: left to the provider', () => {
  it.each([
    { what: 'an unknown error', err: new Error(`boom ${SECRET}`) },
    { what: 'a thrown string', err: 'boom' },
    { what: 'null', err: null },
    { what: 'a service error at HTTP 400', err: Object.assign(new Error('bad'), { name: 'InvalidParameterException', $metadata: { httpStatusCode: 400 } }) },
    { what: 'HTTP 401', err: Object.assign(new Error('no'), { response: { status: 401, data: { error: 'invalid_grant' } } }) },
    { what: 'HTTP 403', err: Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }) },
    { what: 'HTTP 404', err: Object.assign(new Error('not found'), { status: 404 }) },
    { what: 'a file system code (not the network)', err: Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }) },
    { what: 'a client fault', err: Object.assign(new Error('bad'), { name: 'ValidationError', $fault: 'client' }) },
  ])('$what → undefined', ({ err }) => {
    expect(classify(err)).toBeUndefined();
  });
});

describe('readErrorShape', () => {
  it('reads an AWS service error', () => {
    const err = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 3 } });
    expect(readErrorShape(err)).toEqual({ name: 'ThrottlingException', message: 'Rate exceeded', status: 400, fault: 'client', causeNames: [] });
  });

  it('reads a gaxios error: the response status, and the code', () => {
    const err = Object.assign(new Error('Request failed'), { name: 'GaxiosError', code: '503', response: { status: 503 } });
    expect(readErrorShape(err)).toEqual({ name: 'GaxiosError', code: '503', message: 'Request failed', status: 503, causeNames: [] });
  });

  it('takes the code and status from the first cause that has them, and lists cause names', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { name: 'SocketError', code: 'UND_ERR_SOCKET', cause: Object.assign(new Error('inner'), { code: 'ECONNRESET' }) }) });
    expect(readErrorShape(err)).toEqual({ name: 'TypeError', code: 'UND_ERR_SOCKET', message: 'fetch failed', causeNames: ['SocketError', 'Error'] });
  });

  it('ignores a status below 400: a body that did not parse after a 200 is not a failed response', () => {
    expect(readErrorShape(Object.assign(new SyntaxError('Unexpected token'), { $metadata: { httpStatusCode: 200 } })).status).toBeUndefined();
  });

  it('stops at a cycle of causes', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(readErrorShape(a)).toEqual({ name: 'Error', message: 'a', causeNames: ['Error'] });
  });

  it.each([
    { what: 'a string', err: 'boom', shape: { name: 'Error', message: 'boom', causeNames: [] } },
    { what: 'undefined', err: undefined, shape: { name: 'Error', message: 'undefined', causeNames: [] } },
    { what: 'a plain object', err: { name: 'CredentialsProviderError', message: 'no creds' }, shape: { name: 'CredentialsProviderError', message: 'no creds', causeNames: [] } },
  ])('reads $what', ({ err, shape }) => {
    expect(readErrorShape(err)).toEqual(shape);
  });
});
