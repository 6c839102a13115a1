import { describe, expect, it } from '@jest/globals';
import { KubeApiError, call, classifyCode, isKind, toKubeApiError } from '../../src/kube/errors.js';

/** What @kubernetes/client-node's ApiException carries. */
function apiException(code: number, body: unknown): Error & { code: number; body: unknown } {
  return Object.assign(new Error(`HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ${JSON.stringify(body)}`), { code, body });
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

describe('classifyCode', () => {
  it.each([
    { name: '404', code: 404, reason: 'NotFound', want: 'NotFound' },
    { name: '409 AlreadyExists', code: 409, reason: 'AlreadyExists', want: 'AlreadyExists' },
    { name: '409 Conflict', code: 409, reason: 'Conflict', want: 'Conflict' },
    { name: '409 without a reason', code: 409, reason: undefined, want: 'Conflict' },
    { name: '410', code: 410, reason: 'Expired', want: 'Gone' },
    { name: '403', code: 403, reason: 'Forbidden', want: 'Forbidden' },
    { name: '401', code: 401, reason: 'Unauthorized', want: 'Unauthorized' },
    { name: '400', code: 400, reason: 'BadRequest', want: 'Invalid' },
    { name: '422', code: 422, reason: 'Invalid', want: 'Invalid' },
    { name: '429', code: 429, reason: 'TooManyRequests', want: 'Transient' },
    { name: '500', code: 500, reason: 'InternalError', want: 'Transient' },
    { name: '502', code: 502, reason: undefined, want: 'Transient' },
    { name: '503', code: 503, reason: 'ServiceUnavailable', want: 'Transient' },
    { name: '504', code: 504, reason: 'Timeout', want: 'Transient' },
    { name: 'no code (network error)', code: undefined, reason: undefined, want: 'Transient' },
    { name: '418', code: 418, reason: undefined, want: 'Unknown' },
    { name: '405', code: 405, reason: 'MethodNotAllowed', want: 'Unknown' },
    { name: '501', code: 501, reason: undefined, want: 'Unknown' },
    { name: '200', code: 200, reason: undefined, want: 'Unknown' },
  ])('$name → $want', ({ code, reason, want }) => {
    expect(classifyCode(code, reason)).toBe(want);
  });

  it('the reason matters only for 409', () => {
    expect(classifyCode(404, 'AlreadyExists')).toBe('NotFound');
    expect(classifyCode(500, 'AlreadyExists')).toBe('Transient');
  });
});

describe('toKubeApiError', () => {
  const alreadyExists = status(409, 'AlreadyExists', 'secrets "regcred" already exists');
  const conflict = status(409, 'Conflict', 'Operation cannot be fulfilled on secrets "regcred": the object has been modified');

  it.each([
    {
      name: '404, body as a JSON string',
      err: apiException(404, JSON.stringify(status(404, 'NotFound', 'secrets "regcred" not found'))),
      kind: 'NotFound',
      code: 404,
      message: 'get secret team-a/regcred: HTTP 404 secrets "regcred" not found',
    },
    {
      name: '404, body as an object',
      err: apiException(404, status(404, 'NotFound', 'namespaces "gone" not found')),
      kind: 'NotFound',
      code: 404,
      message: 'get secret team-a/regcred: HTTP 404 namespaces "gone" not found',
    },
    {
      name: '409 AlreadyExists, body as a JSON string',
      err: apiException(409, JSON.stringify(alreadyExists)),
      kind: 'AlreadyExists',
      code: 409,
      message: `get secret team-a/regcred: HTTP 409 ${alreadyExists.message}`,
    },
    {
      name: '409 AlreadyExists, body as an object',
      err: apiException(409, alreadyExists),
      kind: 'AlreadyExists',
      code: 409,
      message: `get secret team-a/regcred: HTTP 409 ${alreadyExists.message}`,
    },
    {
      name: '409 Conflict, body as a JSON string',
      err: apiException(409, JSON.stringify(conflict)),
      kind: 'Conflict',
      code: 409,
      message: `get secret team-a/regcred: HTTP 409 ${conflict.message}`,
    },
    { name: '409 Conflict, body as an object', err: apiException(409, conflict), kind: 'Conflict', code: 409, message: `get secret team-a/regcred: HTTP 409 ${conflict.message}` },
    {
      name: '410 Gone',
      err: apiException(410, status(410, 'Expired', 'too old resource version: 1 (2)')),
      kind: 'Gone',
      code: 410,
      message: 'get secret team-a/regcred: HTTP 410 too old resource version: 1 (2)',
    },
    {
      name: '403 Forbidden',
      err: apiException(403, JSON.stringify(status(403, 'Forbidden', 'secrets is forbidden: User "system:serviceaccount:x" cannot get'))),
      kind: 'Forbidden',
      code: 403,
      message: 'get secret team-a/regcred: HTTP 403 secrets is forbidden: User "system:serviceaccount:x" cannot get',
    },
    {
      name: '401 without a body (client-node throws "Unauthorized")',
      err: apiException(401, undefined),
      kind: 'Unauthorized',
      code: 401,
      message: expect.stringMatching(/^get secret team-a\/regcred: HTTP 401 HTTP-Code: 401/),
    },
    {
      name: '422 Invalid',
      err: apiException(422, status(422, 'Invalid', 'Secret "x" is invalid: metadata.name: Invalid value')),
      kind: 'Invalid',
      code: 422,
      message: 'get secret team-a/regcred: HTTP 422 Secret "x" is invalid: metadata.name: Invalid value',
    },
    {
      name: '429 TooManyRequests',
      err: apiException(429, JSON.stringify(status(429, 'TooManyRequests', 'too many requests'))),
      kind: 'Transient',
      code: 429,
      message: 'get secret team-a/regcred: HTTP 429 too many requests',
    },
    {
      name: '500 with a non-JSON body',
      err: apiException(500, 'upstream connect error or disconnect/reset before headers'),
      kind: 'Transient',
      code: 500,
      message: 'get secret team-a/regcred: HTTP 500 upstream connect error or disconnect/reset before headers',
    },
    {
      name: '503 with an HTML body, cut to 300 characters',
      err: apiException(503, `<html>${'x'.repeat(1000)}</html>`),
      kind: 'Transient',
      code: 503,
      message: `get secret team-a/regcred: HTTP 503 <html>${'x'.repeat(294)}`,
    },
    {
      name: 'network error without a code',
      err: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }),
      kind: 'Transient',
      code: undefined,
      message: 'get secret team-a/regcred: connect ECONNREFUSED 127.0.0.1:6443',
    },
    {
      name: 'fetch TypeError without a code',
      err: new TypeError('fetch failed'),
      kind: 'Transient',
      code: undefined,
      message: 'get secret team-a/regcred: fetch failed',
    },
    {
      name: 'a JSON body without a message falls back to the error message',
      err: Object.assign(new Error('raw message'), { code: 404, body: '{"kind":"Status"}' }),
      kind: 'NotFound',
      code: 404,
      message: 'get secret team-a/regcred: HTTP 404 raw message',
    },
    {
      name: 'a JSON body that is not an object',
      err: Object.assign(new Error('raw message'), { code: 502, body: 'null' }),
      kind: 'Transient',
      code: 502,
      message: 'get secret team-a/regcred: HTTP 502 raw message',
    },
    {
      name: 'a JSON string body',
      err: Object.assign(new Error('raw message'), { code: 500, body: '"oops"' }),
      kind: 'Transient',
      code: 500,
      message: 'get secret team-a/regcred: HTTP 500 raw message',
    },
    { name: 'a null body', err: Object.assign(new Error('raw message'), { code: 403, body: null }), kind: 'Forbidden', code: 403, message: 'get secret team-a/regcred: HTTP 403 raw message' },
    { name: 'a thrown string', err: 'boom', kind: 'Transient', code: undefined, message: 'get secret team-a/regcred: boom' },
    { name: 'an unknown code', err: apiException(418, { message: "I'm a teapot" }), kind: 'Unknown', code: 418, message: "get secret team-a/regcred: HTTP 418 I'm a teapot" },
  ])('$name', ({ err, kind, code, message }) => {
    const converted = toKubeApiError(err, 'get secret team-a/regcred');
    expect(converted).toBeInstanceOf(KubeApiError);
    expect(converted.name).toBe('KubeApiError');
    expect(converted.kind).toBe(kind);
    expect(converted.code).toBe(code);
    expect(converted.message).toEqual(message);
    expect(converted.cause).toBe(err);
  });

  it('returns a KubeApiError as it is', () => {
    const original = new KubeApiError('Conflict', 409, 'already classified');
    expect(toKubeApiError(original, 'ignored')).toBe(original);
  });
});

describe('isKind and call', () => {
  it.each([
    { name: 'matching kind', err: new KubeApiError('NotFound', 404, 'x'), kinds: ['NotFound'] as const, want: true },
    { name: 'one of several', err: new KubeApiError('Conflict', 409, 'x'), kinds: ['NotFound', 'Conflict'] as const, want: true },
    { name: 'other kind', err: new KubeApiError('Forbidden', 403, 'x'), kinds: ['NotFound'] as const, want: false },
    { name: 'not a KubeApiError', err: Object.assign(new Error('x'), { code: 404 }), kinds: ['NotFound'] as const, want: false },
  ])('isKind: $name', ({ err, kinds, want }) => {
    expect(isKind(err, ...kinds)).toBe(want);
  });

  it('call passes the result through', async () => {
    await expect(call('list', () => Promise.resolve(42))).resolves.toBe(42);
  });

  it('call rethrows classified', async () => {
    const failing = () => Promise.reject(apiException(409, alreadyExistsBody()));
    await expect(call('create secret team-a/regcred', failing)).rejects.toMatchObject({
      name: 'KubeApiError',
      kind: 'AlreadyExists',
      code: 409,
      message: 'create secret team-a/regcred: HTTP 409 exists',
    });
  });
});

function alreadyExistsBody() {
  return status(409, 'AlreadyExists', 'exists');
}

describe('Retry-After from the API server (API Priority and Fairness, 5xx)', () => {
  const withHeaders = (code: number, body: unknown, headers: Record<string, string>) => Object.assign(apiException(code, body), { headers });

  it('reads the Retry-After header of a 429, in seconds', () => {
    const err = toKubeApiError(withHeaders(429, status(429, 'TooManyRequests', 'Too many requests, please try again later.'), { 'retry-after': '7' }), 'patch serviceaccount');
    expect(err).toMatchObject({ kind: 'Transient', code: 429, retryAfterMs: 7_000 });
  });

  it('reads details.retryAfterSeconds of the Status when there is no header', () => {
    const body = { ...status(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'), details: { retryAfterSeconds: 3 } };
    expect(toKubeApiError(apiException(503, body), 'create secret').retryAfterMs).toBe(3_000);
  });

  it('caps a long wait at five minutes, and ignores an HTTP date, a missing value, and non-transient errors', () => {
    expect(toKubeApiError(withHeaders(429, status(429, 'TooManyRequests', 'x'), { 'retry-after': '3600' }), 'x').retryAfterMs).toBe(300_000);
    expect(toKubeApiError(withHeaders(429, status(429, 'TooManyRequests', 'x'), { 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' }), 'x').retryAfterMs).toBeUndefined();
    expect(toKubeApiError(apiException(429, status(429, 'TooManyRequests', 'x')), 'x').retryAfterMs).toBeUndefined();
    expect(toKubeApiError(withHeaders(404, status(404, 'NotFound', 'x'), { 'retry-after': '5' }), 'x').retryAfterMs).toBeUndefined();
  });
});
