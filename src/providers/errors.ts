/**
 * What the cloud providers (ECR, Google) have in common when a token request fails: the request
 * never got an answer (network trouble, a timeout, our own abort), the service throttled it, or the
 * service failed on its side. All three are retried with backoff, and all three are worded the same
 * way whichever cloud it was; what a service's own error codes mean stays in that provider.
 *
 * Nothing here quotes an error's message: the words that go into a ProviderError are the caller's
 * (action, endpoint, an already scrubbed detail) and error codes and names, so no secret a request
 * or a response carried can reach status, events or logs through this module. For the same reason
 * the errors made here have no `cause`: a library's error can hold the request, credentials included.
 */
import { ProviderError } from './types.js';

/**
 * System and undici error codes that mean the request got no answer from the service: DNS,
 * connection, socket and TLS failures. Retrying is right for all of them: they are about the
 * network path or the endpoint's certificate, which change outside the cluster.
 */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EPROTO',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** How far down a chain of `cause`s to look: libraries wrap, but a cycle must not hang a mint. */
const MAX_CAUSE_DEPTH = 5;

/** The parts of a thrown value a classifier looks at, whatever library threw it. */
export interface ErrorShape {
  /** The error's own name, "Error" if it has none: AWS puts its error code here (AccessDenied, ThrottlingException…). */
  name: string;
  /** A system or library code (ECONNREFUSED…): the error's own, else the first one down its cause chain. */
  code?: string;
  /** The error's own message, as thrown: scrub it before quoting (it may echo a request). */
  message: string;
  /** The HTTP status (400 or more) of the response that failed: AWS `$metadata.httpStatusCode`, a gaxios `response.status`, or `status`; from the error or its causes. */
  status?: number;
  /** AWS's `$fault`: "server" marks a failure on AWS's side even without a status. */
  fault?: string;
  /** The names of the errors down the cause chain, not the error's own: a timeout or an abort often arrives wrapped. */
  causeNames: string[];
}

export function readErrorShape(err: unknown): ErrorShape {
  const e = asRecord(err);
  const shape: ErrorShape = {
    name: typeof e.name === 'string' && e.name !== '' ? e.name : 'Error',
    message: err instanceof Error ? err.message : typeof e.message === 'string' ? e.message : String(err),
    causeNames: [],
  };
  if (typeof e.$fault === 'string') shape.fault = e.$fault;
  const seen = new Set<unknown>();
  let current: unknown = err;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && isObject(current) && !seen.has(current); depth++) {
    seen.add(current);
    const c = asRecord(current);
    if (depth > 0 && typeof c.name === 'string') shape.causeNames.push(c.name);
    if (shape.code === undefined && typeof c.code === 'string' && c.code !== '') shape.code = c.code;
    shape.status ??= httpStatusOf(c);
    current = c.cause;
  }
  return shape;
}

/** What a failed request was, in the words of the provider that sent it. */
export interface TransportContext {
  /** What was being done, as the subject of the message: "ECR GetAuthorizationToken", "requesting an access token for …". */
  action: string;
  /** Where the request went, as the user would look for it: "ECR at https://api.ecr.us-east-1.amazonaws.com", "oauth2.googleapis.com". */
  endpoint: string;
  /** The mint's signal: once it has fired, whatever the request throws means it ran out of time. */
  signal: AbortSignal;
  /** The provider's own timer of timeoutMs, if it keeps one beside the caller's signal: when it fired, the message names timeoutMs. */
  timeoutSignal?: AbortSignal;
  /** The per-request timeout, to say how long was waited. */
  timeoutMs: number;
  /** Error names that mean throttling although the status says otherwise (AWS answers some with HTTP 400). */
  throttleNames?: ReadonlySet<string>;
  /** The service's own words for the error, already scrubbed: AWS's error name, Google's OAuth error. */
  detail?: string;
  /** What to check when the endpoint cannot be reached, e.g. "check the operator's network access to Google". */
  unreachableHint?: string;
}

/**
 * A ProviderError for a failure any cloud provider treats alike, or undefined for the provider to
 * classify (a service error code, or something unknown):
 * - no answer (a network code, a timeout, an abort, our signal fired without a response): ProviderUnreachable;
 * - HTTP 429 or a throttling error name: Throttled;
 * - HTTP 5xx or an AWS server fault: ProviderError.
 * All retryable: each is over when the network or the service recovers, which no Kubernetes event announces.
 */
export function classifyTransportError(shape: ErrorShape, ctx: TransportContext): ProviderError | undefined {
  const why = noAnswerCause(shape, ctx);
  if (why !== undefined) {
    const hint = ctx.unreachableHint ? `; ${ctx.unreachableHint}` : '';
    return new ProviderError('ProviderUnreachable', `${ctx.action} failed: cannot reach ${ctx.endpoint} (${why})${hint}; will retry`, true);
  }
  const detail = ctx.detail ? ` (${ctx.detail})` : '';
  if (shape.status === 429 || ctx.throttleNames?.has(shape.name)) {
    return new ProviderError('Throttled', `${ctx.action} was throttled by ${ctx.endpoint}${detail}; will retry with backoff`, true);
  }
  if (shape.status !== undefined && shape.status >= 500) {
    return new ProviderError('ProviderError', `${ctx.action} failed: ${ctx.endpoint} answered ${shape.status}, a server error${detail}; will retry`, true);
  }
  if (shape.fault === 'server') {
    return new ProviderError('ProviderError', `${ctx.action} failed: ${ctx.endpoint} returned a server error${detail}; will retry`, true);
  }
  return undefined;
}

/** Why the request got no answer, in words for the message; undefined if it did get one. */
function noAnswerCause(shape: ErrorShape, ctx: Pick<TransportContext, 'signal' | 'timeoutSignal' | 'timeoutMs'>): string | undefined {
  const within = `no answer within ${ctx.timeoutMs} ms`;
  // The request's own timer (the SDK's requestTimeout, gaxios' timeout), both set to timeoutMs.
  if (shape.name === 'TimeoutError' || shape.code === 'TimeoutError') return within;
  if (ctx.signal.aborted || ctx.timeoutSignal?.aborted) {
    // A response that came back as the signal fired is still an answer: let its status speak.
    if (shape.status !== undefined) return undefined;
    // The caller's signal has a deadline of its own, which this module does not know: name no number.
    return ctx.timeoutSignal?.aborted ? within : 'no answer within the time allowed';
  }
  if (shape.code !== undefined && NETWORK_CODES.has(shape.code)) return shape.code;
  if (shape.causeNames.includes('TimeoutError')) return within;
  // Aborted by a signal that is not ours (a library's own): no answer either, but no time to name.
  if (shape.name === 'AbortError' || shape.code === 'AbortError' || shape.causeNames.includes('AbortError')) return 'the request was aborted';
  return undefined;
}

function httpStatusOf(e: Record<string, unknown>): number | undefined {
  const metadata = asRecord(e.$metadata);
  const response = asRecord(e.response);
  const status = [metadata.httpStatusCode, response.status, e.status].find((value) => typeof value === 'number');
  // Below 400 is not a failed response: a body that did not parse after a 200 is not the server's fault.
  return typeof status === 'number' && status >= 400 ? status : undefined;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

function asRecord(value: unknown): Record<string, unknown> {
  return (isObject(value) ? value : {}) as Record<string, unknown>;
}
