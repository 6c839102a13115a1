/**
 * API errors, classified once by HTTP status and the Status reason, so the
 * rest of the code branches on a kind instead of on numbers.
 */
export type ApiErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Forbidden'
  | 'Unauthorized'
  | 'Invalid'
  | 'Transient'
  | 'Unknown';

export class KubeApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    readonly code: number | undefined,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * How long the API server asked us to wait before trying again (a 429 from API Priority and Fairness,
   * some 5xx): its Retry-After header, or `details.retryAfterSeconds` of its Status body.
   */
  readonly retryAfterMs?: number;
}

/** The longest a Retry-After is honoured: a server that asks for more is waited for this long, then asked again. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

interface StatusBody {
  reason?: string;
  message?: string;
  details?: { retryAfterSeconds?: unknown };
}

/** Retry-After in whole seconds (the API server's form); an HTTP date or nonsense is ignored. */
function retryAfterMs(headers: unknown, body: StatusBody): number | undefined {
  const header = headers && typeof headers === 'object' ? (headers as Record<string, unknown>)['retry-after'] ?? (headers as Record<string, unknown>)['Retry-After'] : undefined;
  const fromHeader = typeof header === 'string' && /^\d+$/.test(header.trim()) ? Number(header.trim()) : undefined;
  const fromBody = typeof body.details?.retryAfterSeconds === 'number' && body.details.retryAfterSeconds >= 0 ? body.details.retryAfterSeconds : undefined;
  const seconds = fromHeader ?? fromBody;
  return seconds === undefined ? undefined : Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
}

function parseBody(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      // "null" parses to null: reading .reason from it would throw instead of classifying.
      return parsed && typeof parsed === 'object' ? parsed : {};
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  if (body && typeof body === 'object') return body;
  return {};
}

export function classifyCode(code: number | undefined, reason: string | undefined): ApiErrorKind {
  switch (code) {
    case 404:
      return 'NotFound';
    case 409:
      return reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict';
    case 410:
      return 'Gone';
    case 403:
      return 'Forbidden';
    case 401:
      return 'Unauthorized';
    case 400:
    case 422:
      return 'Invalid';
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return 'Transient';
    default:
      return code === undefined ? 'Transient' : 'Unknown';
  }
}

/** Turns whatever client-node threw (ApiException, a network error) into a KubeApiError. */
export function toKubeApiError(err: unknown, what: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: string; headers?: unknown };
  const code = typeof e?.code === 'number' ? e.code : undefined;
  const body = parseBody(e?.body);
  const kind = classifyCode(code, body.reason);
  const detail = body.message ?? e?.message ?? String(err);
  const wait = kind === 'Transient' ? retryAfterMs(e?.headers, body) : undefined;
  return new KubeApiError(kind, code, `${what}: ${code ? `HTTP ${code} ` : ''}${detail}`, { cause: err, ...(wait !== undefined ? { retryAfterMs: wait } : {}) });
}

export function isKind(err: unknown, ...kinds: ApiErrorKind[]): boolean {
  return err instanceof KubeApiError && kinds.includes(err.kind);
}

/** Runs an API call and rethrows its failure classified. */
export async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKubeApiError(err, what);
  }
}
