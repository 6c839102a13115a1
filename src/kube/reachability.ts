/**
 * Why a request to the API server failed, when the reason is the connection to it rather than the
 * request: the server cannot be reached, does not answer, cannot be trusted, or rejects the operator's
 * identity. What client-node throws differs by call (undici's "fetch failed" TypeError with the system
 * error as its cause, an ApiException with the HTTP code, the watch's Error with a statusCode), so this
 * reads all of them.
 */

/**
 * - `unreachable`: no connection (refused, unknown host, no route, a port fetch will not use);
 * - `dropped`: the connection was closed under the request (reset, HTTP/2 GOAWAY): routine once, as
 *   when the API server restarts or sheds load; a problem only when it keeps happening;
 * - `timeout`: connected or tried to, and no answer in time;
 * - `tls`: the server's certificate is not the one the kubeconfig trusts, or not for that name;
 * - `unauthorized`: HTTP 401, the credentials are not (or no longer) valid;
 * - `forbidden`: HTTP 403, the identity is valid but RBAC does not allow the call.
 */
export type ApiServerProblemKind = 'unreachable' | 'dropped' | 'timeout' | 'tls' | 'unauthorized' | 'forbidden';

export interface ApiServerProblem {
  kind: ApiServerProblemKind;
  /** The underlying error in a few words: "connect ECONNREFUSED 127.0.0.1:6443", the API server's own message. */
  detail: string;
}

const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** The connection was there and went away: a reset, "other side closed", HTTP/2 GOAWAY (undici's informational error). */
const DROPPED_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_INFO']);

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const TLS_CODES: ReadonlySet<string> = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

/** Libraries wrap; a cycle must not hang the caller. */
const MAX_CAUSE_DEPTH = 5;

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null;
}

/** The error and its causes, outermost first. */
function causeChain(err: unknown): Fields[] {
  const chain: Fields[] = [];
  for (let current = err; isObject(current) && !chain.includes(current) && chain.length <= MAX_CAUSE_DEPTH; current = current.cause) {
    chain.push(current);
  }
  return chain;
}

/** The HTTP status of a response that failed: an ApiException's or KubeApiError's `code`, a watch error's `statusCode`. */
export function httpStatusOf(err: unknown): number | undefined {
  for (const e of causeChain(err)) {
    for (const value of [e.statusCode, e.code]) {
      if (typeof value === 'number' && value >= 100 && value < 600) return value;
    }
  }
  return undefined;
}

/** The API server's own message from a Status body (a JSON string or an object), if any. */
function statusMessage(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    let body = e.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body) as unknown;
      } catch {
        continue;
      }
    }
    if (isObject(body) && typeof body.message === 'string' && body.message !== '') return body.message;
  }
  return undefined;
}

/**
 * A failed list or watch in a few words, for a log line: "HTTP 403: namespaces is forbidden: …",
 * "fetch failed: connect ECONNREFUSED 127.0.0.1:6443". Not an ApiException's message, which carries
 * every response header.
 */
export function describeApiError(err: unknown): string {
  const status = httpStatusOf(err);
  if (status !== undefined) return `HTTP ${status}: ${statusMessage(err) ?? httpStatusText(status)}`;
  const chain = causeChain(err);
  const messages = chain.map((e) => (typeof e.message === 'string' ? e.message : '')).filter((m) => m !== '');
  if (messages.length === 0) return String(err);
  // "fetch failed" says nothing on its own: the cause says what failed.
  return messages.length === 1 ? messages[0]! : `${messages[0]}: ${messages[messages.length - 1]}`;
}

function httpStatusText(status: number): string {
  return status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'error';
}

/** The connection problem behind a failed request, or undefined when the API server answered something else (a 404, a 500…). */
export function apiServerProblem(err: unknown): ApiServerProblem | undefined {
  const status = httpStatusOf(err);
  if (status === 401) return { kind: 'unauthorized', detail: describeApiError(err) };
  if (status === 403) return { kind: 'forbidden', detail: statusMessage(err) ?? 'Forbidden' };
  if (status !== undefined) return undefined;
  const chain = causeChain(err);
  const codes = chain.map((e) => e.code).filter((c): c is string => typeof c === 'string');
  const names = chain.map((e) => e.name).filter((n): n is string => typeof n === 'string');
  // The innermost message is the system's: "connect ECONNREFUSED 127.0.0.1:6443", "bad port".
  const innermost = [...chain].reverse().find((e) => typeof e.message === 'string' && e.message !== '');
  const detail = typeof innermost?.message === 'string' ? innermost.message : String(err);
  if (codes.some((c) => TLS_CODES.has(c) || c.startsWith('ERR_TLS_') || c.startsWith('ERR_SSL_'))) return { kind: 'tls', detail };
  if (codes.some((c) => TIMEOUT_CODES.has(c)) || names.includes('TimeoutError')) return { kind: 'timeout', detail };
  if (codes.some((c) => UNREACHABLE_CODES.has(c))) return { kind: 'unreachable', detail };
  if (codes.some((c) => DROPPED_CODES.has(c))) return { kind: 'dropped', detail };
  // undici's fetch throws this TypeError for every request that got no response at all.
  const top = chain[0];
  if (top?.name === 'TypeError' && top.message === 'fetch failed') return { kind: 'unreachable', detail };
  return undefined;
}

const KUBECONFIG = 'the kubeconfig and its context (--kubeconfig, --context, $KUBECONFIG; in a pod, its ServiceAccount)';

/** One line for a person: what failed, at which server, and what to check. `server` is KubeConnection.describe. */
export function explainApiServerProblem(problem: ApiServerProblem, server: string, what: string): string {
  switch (problem.kind) {
    case 'unreachable':
      return `cannot reach the API server ${server}: ${problem.detail}; is the cluster up, and is this its address? Check ${KUBECONFIG}`;
    case 'dropped':
      return `the API server ${server} keeps closing the connection: ${problem.detail}; is it restarting or overloaded, or is a proxy or load balancer in between closing connections? Check ${KUBECONFIG}`;
    case 'timeout':
      return `the API server ${server} did not answer: ${problem.detail}; is the cluster up and reachable from here (network, firewall, proxy)? Check ${KUBECONFIG}`;
    case 'tls':
      return `cannot connect securely to the API server ${server}: ${problem.detail}; the kubeconfig's certificate-authority does not vouch for this server's certificate, or the address is not the one in it. Check ${KUBECONFIG}`;
    case 'unauthorized':
      return `the API server ${server} rejected the operator's credentials (HTTP 401): they have expired or are not for this cluster; log in again or refresh the token in ${KUBECONFIG}`;
    case 'forbidden': {
      const anonymous = /system:anonymous/.test(problem.detail) ? ' The request carried no credentials: check that the kubeconfig has a user for this context.' : '';
      return `the API server ${server} does not allow the operator to ${what} (HTTP 403): ${problem.detail}; apply the operator's RBAC (kubectl apply -k config/rbac) and run the operator as the ServiceAccount it binds (context, or the Deployment's serviceAccountName).${anonymous}`;
    }
  }
}
