/**
 * What a registry's answers say, read without trusting their shape: `WWW-Authenticate` challenges
 * (RFC 7235), Docker Hub's rate-limit headers and the error codes of a Docker Registry HTTP API v2 body.
 */

export interface AuthChallenge {
  /** Lower-cased: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names lower-cased, values unquoted. */
  params: Record<string, string>;
}

const TOKEN_CHARS = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `WWW-Authenticate` value into its challenges: several challenges separated by commas,
 * quoted values holding commas and escaped quotes, any case of scheme and parameter names, token68
 * values (ignored). Never throws: what cannot be read is skipped.
 */
export function parseChallenges(header: string | null | undefined): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  if (!header) return challenges;
  const s = header;
  let i = 0;
  const skipSpace = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHARS.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string => {
    // s[i] is the opening quote
    i++;
    let value = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      value += s[i];
      i++;
    }
    i++; // closing quote
    return value;
  };
  let current: AuthChallenge | undefined;
  while (i < s.length) {
    skipSpace();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const token = readToken();
    if (token === '') {
      i++; // an unexpected character: skip it
      continue;
    }
    skipSpace();
    if (s[i] === '=') {
      // token68 (`Basic abc==`) or a parameter of the current challenge
      let equals = 0;
      while (s[i + equals] === '=') equals++;
      const after = i + equals;
      let j = after;
      while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
      if (equals > 1 || j >= s.length || s[j] === ',') {
        // token68: nothing we use
        i = after;
        continue;
      }
      i = j;
      const value = s[i] === '"' ? readQuoted() : readToken();
      if (current) current.params[token.toLowerCase()] = value;
      continue;
    }
    // A bare token: a new challenge's scheme
    current = { scheme: token.toLowerCase(), params: {} };
    challenges.push(current);
  }
  return challenges;
}

/** The challenge the prober can answer: Bearer (token auth) before Basic, as container runtimes prefer it. */
export function pickChallenge(challenges: readonly AuthChallenge[]): AuthChallenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic');
}

export interface RateLimitValue {
  value: number;
  windowSeconds?: number;
}

/** `200;w=21600` (Docker Hub), or a bare `200`. Undefined when there is no number. */
export function parseRateLimitHeader(value: string | null | undefined): RateLimitValue | undefined {
  if (!value) return undefined;
  // Several policies may be listed with commas: the first is the one that applies.
  const [first] = value.split(',');
  const parts = first!.split(';').map((p) => p.trim());
  if (!/^\d+$/.test(parts[0] ?? '')) return undefined;
  const result: RateLimitValue = { value: Number(parts[0]) };
  for (const p of parts.slice(1)) {
    const m = /^w\s*=\s*(\d+)$/i.exec(p);
    if (m) result.windowSeconds = Number(m[1]);
  }
  return result;
}

/** Docker Hub's documented window (6 hours), when the headers name none. */
export const DOCKER_HUB_DEFAULT_WINDOW_SECONDS = 21_600;

export interface RateLimitHeaders {
  limit: number;
  remaining: number;
  windowSeconds: number;
}

/** Reads `ratelimit-limit` and `ratelimit-remaining`; undefined when either is absent or unreadable. */
export function parseRateLimit(headers: { get(name: string): string | null }): RateLimitHeaders | undefined {
  const limit = parseRateLimitHeader(headers.get('ratelimit-limit'));
  const remaining = parseRateLimitHeader(headers.get('ratelimit-remaining'));
  if (!limit || !remaining) return undefined;
  return {
    limit: limit.value,
    remaining: remaining.value,
    windowSeconds: limit.windowSeconds ?? remaining.windowSeconds ?? DOCKER_HUB_DEFAULT_WINDOW_SECONDS,
  };
}

/**
 * The first error code of a registry error body (`{"errors":[{"code":"DENIED",…}]}`), or of a token
 * service's OAuth-style body (`{"error":"invalid_grant"}`); undefined when the body has none. Codes are
 * upper-case words: anything else (a message, an echo of the request) is not returned.
 */
export function registryErrorCode(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const errors = (parsed as { errors?: unknown }).errors;
  let code: unknown;
  if (Array.isArray(errors) && errors.length > 0 && errors[0] && typeof errors[0] === 'object') code = (errors[0] as { code?: unknown }).code;
  else code = (parsed as { error?: unknown }).error;
  if (typeof code !== 'string' || !/^[A-Za-z_]{1,64}$/.test(code)) return undefined;
  return code.toUpperCase();
}

/** Human duration of a window: 21600 → "6 h", 3600 → "1 h", 90 → "90 s". */
export function formatWindow(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
