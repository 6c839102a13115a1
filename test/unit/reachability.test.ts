import { describe, expect, it } from '@jest/globals';
import { apiServerProblem, describeApiError, explainApiServerProblem, httpStatusOf } from '../../src/kube/reachability.js';

/** What undici's fetch throws for a request that got no response: a TypeError whose cause is the system's error. */
function fetchFailed(message: string, code?: string): Error {
  const cause = Object.assign(new Error(message), code ? { code } : {});
  return new TypeError('fetch failed', { cause });
}

/** client-node's ApiException: the HTTP code, and the Status body as a JSON string. */
function apiException(code: number, message?: string): Error {
  const body = message ? JSON.stringify({ kind: 'Status', status: 'Failure', message, code }) : undefined;
  return Object.assign(new Error(`HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ${JSON.stringify(body)}\nHeaders: {"audit-id":"x"}`), { code, body });
}

/** client-node's watch: an Error with statusCode. */
function watchError(statusCode: number, statusText: string): Error {
  return Object.assign(new Error(statusText), { statusCode });
}

const FORBIDDEN = 'namespaces is forbidden: User "system:serviceaccount:default:nobody" cannot list resource "namespaces" in API group "" at the cluster scope';

describe('apiServerProblem', () => {
  it.each([
    { name: 'connection refused', err: fetchFailed('connect ECONNREFUSED 127.0.0.1:6443', 'ECONNREFUSED'), kind: 'unreachable', detail: 'connect ECONNREFUSED 127.0.0.1:6443' },
    { name: 'unknown host', err: fetchFailed('getaddrinfo ENOTFOUND api.example.invalid', 'ENOTFOUND'), kind: 'unreachable', detail: 'getaddrinfo ENOTFOUND api.example.invalid' },
    { name: 'no route', err: fetchFailed('connect EHOSTUNREACH 10.0.0.1:6443', 'EHOSTUNREACH'), kind: 'unreachable', detail: 'connect EHOSTUNREACH 10.0.0.1:6443' },
    { name: 'a port fetch refuses (no code)', err: fetchFailed('bad port'), kind: 'unreachable', detail: 'bad port' },
    { name: 'connect timeout', err: fetchFailed('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT'), kind: 'timeout', detail: 'Connect Timeout Error' },
    { name: 'headers timeout', err: fetchFailed('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT'), kind: 'timeout', detail: 'Headers Timeout Error' },
    { name: 'an aborted request (TimeoutError)', err: new DOMException('The operation was aborted due to timeout', 'TimeoutError'), kind: 'timeout', detail: 'The operation was aborted due to timeout' },
    { name: 'untrusted CA', err: fetchFailed('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), kind: 'tls', detail: 'self-signed certificate in certificate chain' },
    { name: 'missing intermediate', err: fetchFailed('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), kind: 'tls', detail: 'unable to verify the first certificate' },
    { name: 'wrong name', err: fetchFailed("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), kind: 'tls', detail: "Hostname/IP does not match certificate's altnames" },
    { name: 'reset', err: fetchFailed('read ECONNRESET', 'ECONNRESET'), kind: 'dropped', detail: 'read ECONNRESET' },
    { name: 'HTTP/2 GOAWAY', err: fetchFailed('HTTP/2: "GOAWAY" frame received with code 0', 'UND_ERR_INFO'), kind: 'dropped', detail: 'HTTP/2: "GOAWAY" frame received with code 0' },
    { name: '401 from a list', err: apiException(401, 'Unauthorized'), kind: 'unauthorized', detail: 'HTTP 401: Unauthorized' },
    { name: '401 from a watch', err: watchError(401, 'Unauthorized'), kind: 'unauthorized', detail: 'HTTP 401: Unauthorized' },
    { name: '403 from a list, with the server\'s words', err: apiException(403, FORBIDDEN), kind: 'forbidden', detail: FORBIDDEN },
    { name: '403 from a watch', err: watchError(403, 'Forbidden'), kind: 'forbidden', detail: 'Forbidden' },
  ])('$name → $kind', ({ err, kind, detail }) => {
    expect(apiServerProblem(err)).toEqual({ kind, detail });
  });

  it.each([
    { name: 'a 404', err: apiException(404, 'the server could not find the requested resource') },
    { name: 'a 500', err: apiException(500, 'etcdserver: request timed out') },
    { name: 'a 410 from a watch', err: watchError(410, 'Gone') },
    { name: 'a plain bug', err: new Error('Cannot read properties of undefined') },
    { name: 'not an error at all', err: 'oops' },
    { name: 'undefined', err: undefined },
  ])('$name is none of its business', ({ err }) => {
    expect(apiServerProblem(err)).toBeUndefined();
  });

  it('survives a cycle of causes', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(apiServerProblem(a)).toBeUndefined();
    expect(describeApiError(a)).toBe('a: b');
  });
});

describe('describeApiError', () => {
  it('gives the status and the server\'s message, not the headers', () => {
    const text = describeApiError(apiException(403, FORBIDDEN));
    expect(text).toBe(`HTTP 403: ${FORBIDDEN}`);
    expect(text).not.toContain('audit-id');
  });

  it('says what a "fetch failed" was', () => {
    expect(describeApiError(fetchFailed('connect ECONNREFUSED 127.0.0.1:6443', 'ECONNREFUSED'))).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:6443');
  });

  it('names the status of a body-less answer', () => {
    expect(describeApiError(watchError(401, 'Unauthorized'))).toBe('HTTP 401: Unauthorized');
    expect(httpStatusOf(watchError(410, 'Gone'))).toBe(410);
  });
});

describe('explainApiServerProblem', () => {
  const server = 'https://127.0.0.1:6443 (context prod)';
  it.each([
    { kind: 'unreachable', detail: 'connect ECONNREFUSED 127.0.0.1:6443', says: ['cannot reach the API server https://127.0.0.1:6443 (context prod)', 'is the cluster up', '--kubeconfig', '--context'] },
    { kind: 'timeout', detail: 'Connect Timeout Error', says: ['did not answer', 'firewall', '--context'] },
    { kind: 'tls', detail: 'self-signed certificate', says: ['certificate-authority', '--kubeconfig'] },
    { kind: 'dropped', detail: 'read ECONNRESET', says: ['keeps closing the connection', 'load balancer'] },
    { kind: 'unauthorized', detail: 'HTTP 401: Unauthorized', says: ['HTTP 401', 'expired', 'log in again'] },
    { kind: 'forbidden', detail: FORBIDDEN, says: ['HTTP 403', FORBIDDEN, 'kubectl apply -k config/rbac', 'list and watch namespaces'] },
  ] as const)('$kind names the server and what to check', ({ kind, detail, says }) => {
    const text = explainApiServerProblem({ kind, detail }, server, 'list and watch namespaces');
    expect(text).toContain(server);
    for (const words of says) expect(text).toContain(words);
  });

  it('points at missing credentials when the server saw an anonymous request', () => {
    const text = explainApiServerProblem({ kind: 'forbidden', detail: 'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces"' }, 'https://x', 'list and watch namespaces');
    expect(text).toContain('carried no credentials');
  });
});
