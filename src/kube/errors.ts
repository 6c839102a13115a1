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
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
  }
}

interface StatusBody {
  reason?: string;
  message?: string;
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
  const e = err as { code?: unknown; body?: unknown; message?: string };
  const code = typeof e?.code === 'number' ? e.code : undefined;
  const body = parseBody(e?.body);
  const kind = classifyCode(code, body.reason);
  const detail = body.message ?? e?.message ?? String(err);
  return new KubeApiError(kind, code, `${what}: ${code ? `HTTP ${code} ` : ''}${detail}`, { cause: err });
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
