/**
 * A local stand-in for Google's token endpoints, because there is no emulator for them. It checks what
 * it receives the way Google does, so a client that talks to it correctly talks to Google correctly:
 *
 * - POST /token: OAuth 2.0 JWT-bearer grant (service account keys). The RS256 signature is verified
 *   against the service account's registered public key; iss, aud, iat/exp and scope are checked.
 * - POST /v1/token: STS token exchange (workload identity federation, `external_account`).
 * - GET /computeMetadata/v1/...: the metadata server (GKE Workload Identity / GCE), for GCE_METADATA_HOST.
 *
 * Every token it issues is fresh and recorded, with its expiry, so tests can compare what the operator
 * published with what was issued. Rejections are recorded too, and every request with the time it arrived.
 *
 * Tests can shorten the lifetime of issued tokens (`lifetimeSeconds`) and make the endpoint fail: the next
 * few token requests (`failNext`), or every request from now on until `recover()` (`failAll`, or the
 * `failing` option), as a Google outage does. By default it fails nothing.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const GOOGLE_OAUTH_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** Google accepts a little clock skew on iat. */
const CLOCK_SKEW_SECONDS = 60;
const MAX_JWT_LIFETIME_SECONDS = 3600;

export type Grant = 'jwt-bearer' | 'token-exchange' | 'metadata';

export interface IssuedToken {
  accessToken: string;
  grant: Grant;
  /** client_email, the STS audience, or the metadata server's account. */
  principal: string;
  scope: string;
  expiresIn: number;
  issuedAt: Date;
  expiresAt: Date;
}

export interface Rejection {
  path: string;
  status: number;
  error: string;
  description: string;
}

export interface WorkloadIdentityPool {
  /** //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X */
  audience: string;
  /** The subject token the pool's provider accepts (e.g. an OIDC token the test wrote to a file). */
  subjectToken: string;
  subjectTokenType?: string;
}

export interface GoogleTokenServerOptions {
  /** expires_in of issued tokens, in seconds; default 300. */
  lifetimeSeconds?: number;
  /** The aud a JWT-bearer assertion must carry: the token URL the client addressed. */
  jwtAudience?: string;
  /** The account the metadata server hands tokens for; none: the token path answers 404. */
  metadataAccount?: string;
  projectId?: string;
  /** Start failing every request with this HTTP status (and OAuth error), as `failAll` does; default: none. */
  failing?: { status: number; error?: string };
}

export interface TimedRequest {
  /** When the request arrived. */
  at: Date;
  /** "POST /token", "GET /computeMetadata/v1/instance", ... */
  request: string;
  /** A token request (any grant), as `tokenRequests()` counts them. */
  token: boolean;
}

export interface GoogleTokenServer {
  /** Base URL, e.g. http://127.0.0.1:41234: REGCRED_GOOGLE_TOKEN_URL. */
  url: string;
  /** host:port, for GCE_METADATA_HOST. */
  metadataHost: string;
  lifetimeSeconds: number;
  metadataAccount: string | undefined;
  issued: IssuedToken[];
  rejected: Rejection[];
  /** Every request, in order: "POST /token", "GET /computeMetadata/v1/instance", ... */
  requests: string[];
  /** The same requests, each with the time it arrived. */
  timedRequests: TimedRequest[];
  addServiceAccount(email: string, publicKey: string | KeyObject): void;
  removeServiceAccount(email: string): void;
  addWorkloadIdentityPool(pool: WorkloadIdentityPool): void;
  /** The next `count` token requests (any grant) answer this status and OAuth error instead. */
  failNext(status: number, error: string, count?: number): void;
  /** Every request from now on (token, STS and metadata alike) answers this status, until `recover()`. */
  failAll(status?: number, error?: string): void;
  /** Stops `failAll`: requests are answered normally again. */
  recover(): void;
  /** Token requests (not metadata pings) received. */
  tokenRequests(): number;
  close(): Promise<void>;
}

class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

export async function startGoogleTokenServer(options: GoogleTokenServerOptions = {}): Promise<GoogleTokenServer> {
  const jwtAudience = options.jwtAudience ?? GOOGLE_OAUTH_TOKEN_URL;
  const accounts = new Map<string, KeyObject>();
  const pools = new Map<string, WorkloadIdentityPool>();
  const issued: IssuedToken[] = [];
  const rejected: Rejection[] = [];
  const requests: string[] = [];
  const timedRequests: TimedRequest[] = [];
  let failures: { status: number; error: string; count: number } | undefined;
  const state = {
    lifetimeSeconds: options.lifetimeSeconds ?? 300,
    metadataAccount: options.metadataAccount,
    failing: options.failing ? { status: options.failing.status, error: options.failing.error ?? 'internal_failure' } : undefined,
  };

  const issue = (grant: Grant, principal: string, scope: string): { access_token: string; expires_in: number; token_type: 'Bearer' } => {
    const expiresIn = state.lifetimeSeconds;
    const issuedAt = new Date();
    const token: IssuedToken = {
      accessToken: `ya29.test-${randomBytes(24).toString('hex')}`,
      grant,
      principal,
      scope,
      expiresIn,
      issuedAt,
      expiresAt: new Date(issuedAt.getTime() + expiresIn * 1000),
    };
    issued.push(token);
    return { access_token: token.accessToken, expires_in: expiresIn, token_type: 'Bearer' };
  };

  const takeFailure = (): void => {
    if (!failures) return;
    const { status, error } = failures;
    failures.count -= 1;
    if (failures.count <= 0) failures = undefined;
    throw new OAuthError(status, error, 'injected failure');
  };

  const jwtBearer = (form: URLSearchParams): object => {
    if (form.get('grant_type') !== JWT_BEARER) throw new OAuthError(400, 'unsupported_grant_type', `Invalid grant_type: ${form.get('grant_type') ?? ''}`);
    const assertion = form.get('assertion');
    if (!assertion) throw new OAuthError(400, 'invalid_request', 'Missing required parameter: assertion');
    const parts = assertion.split('.');
    if (parts.length !== 3) throw new OAuthError(400, 'invalid_grant', 'Invalid JWT: malformed');
    const [rawHeader, rawPayload, rawSignature] = parts as [string, string, string];
    const header = decodeSegment(rawHeader);
    const claims = decodeSegment(rawPayload);
    if (header.alg !== 'RS256') throw new OAuthError(400, 'invalid_grant', 'Invalid JWT: alg must be RS256');
    const iss = typeof claims.iss === 'string' ? claims.iss : '';
    const publicKey = accounts.get(iss);
    if (!publicKey) throw new OAuthError(400, 'invalid_grant', 'Invalid grant: account not found');
    const signed = Buffer.from(`${rawHeader}.${rawPayload}`);
    if (!verify('sha256', signed, publicKey, Buffer.from(rawSignature, 'base64url'))) {
      throw new OAuthError(400, 'invalid_grant', 'Invalid JWT Signature.');
    }
    if (claims.aud !== jwtAudience) {
      throw new OAuthError(400, 'invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${jwtAudience}`);
    }
    const now = Date.now() / 1000;
    const { iat, exp } = claims;
    if (
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      iat > now + CLOCK_SKEW_SECONDS ||
      exp <= now ||
      exp <= iat ||
      exp - iat > MAX_JWT_LIFETIME_SECONDS
    ) {
      throw new OAuthError(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    if (claims.sub !== undefined && claims.sub !== iss) throw new OAuthError(401, 'unauthorized_client', 'Client is unauthorized to retrieve access tokens using this method.');
    const scope = typeof claims.scope === 'string' ? claims.scope : '';
    if (!scope.split(' ').includes(CLOUD_PLATFORM_SCOPE)) throw new OAuthError(400, 'invalid_scope', 'Invalid oauth scope or ID token audience provided.');
    return issue('jwt-bearer', iss, scope);
  };

  const tokenExchange = (form: URLSearchParams): object => {
    if (form.get('grant_type') !== TOKEN_EXCHANGE) throw new OAuthError(400, 'unsupported_grant_type', `Invalid grant_type: ${form.get('grant_type') ?? ''}`);
    const audience = form.get('audience') ?? '';
    const pool = pools.get(audience);
    if (!pool) {
      throw new OAuthError(400, 'invalid_target', 'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.');
    }
    if (form.get('requested_token_type') !== ACCESS_TOKEN_TYPE) throw new OAuthError(400, 'invalid_request', 'Invalid value for "requested_token_type".');
    const subjectTokenType = pool.subjectTokenType ?? 'urn:ietf:params:oauth:token-type:jwt';
    if (form.get('subject_token_type') !== subjectTokenType) throw new OAuthError(400, 'invalid_request', 'Invalid value for "subject_token_type".');
    if (form.get('subject_token') !== pool.subjectToken) throw new OAuthError(400, 'invalid_grant', 'The provided subject token is invalid.');
    const scope = form.get('scope') ?? '';
    if (!scope.split(' ').includes(CLOUD_PLATFORM_SCOPE)) throw new OAuthError(400, 'invalid_scope', 'Invalid value for "scope".');
    return { ...issue('token-exchange', audience, scope), issued_token_type: ACCESS_TOKEN_TYPE };
  };

  const metadata = (req: IncomingMessage, url: URL, res: ServerResponse): void => {
    const send = (status: number, body: string, type = 'application/text'): void => {
      res.writeHead(status, { 'Content-Type': type, 'Metadata-Flavor': 'Google' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'Method Not Allowed');
    if (req.headers['metadata-flavor'] !== 'Google' || req.headers['x-forwarded-for'] !== undefined) {
      rejected.push({ path: url.pathname, status: 403, error: 'forbidden', description: 'Missing Metadata-Flavor:Google header.' });
      return send(403, 'Missing Metadata-Flavor:Google header.');
    }
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/computeMetadata/v1/instance') return send(200, 'attributes/\nhostname\nservice-accounts/\n');
    if (path === '/computeMetadata/v1/project/project-id') return send(200, options.projectId ?? 'regcred-test');
    if (path === '/computeMetadata/v1/universe/universe-domain') return send(200, 'googleapis.com');
    const match = /^\/computeMetadata\/v1\/instance\/service-accounts\/([^/]+)\/token$/.exec(path);
    if (match && state.metadataAccount && (match[1] === 'default' || match[1] === state.metadataAccount)) {
      const scopes = url.searchParams.get('scopes');
      if (scopes !== null && !scopes.split(',').includes(CLOUD_PLATFORM_SCOPE)) {
        rejected.push({ path, status: 400, error: 'invalid_scope', description: 'scopes does not include cloud-platform' });
        return send(400, 'invalid scopes');
      }
      try {
        takeFailure();
      } catch (err) {
        const e = err as OAuthError;
        rejected.push({ path, status: e.status, error: e.error, description: e.description });
        return send(e.status, e.description);
      }
      return send(200, JSON.stringify(issue('metadata', state.metadataAccount, scopes ?? CLOUD_PLATFORM_SCOPE)), 'application/json');
    }
    rejected.push({ path, status: 404, error: 'not_found', description: 'no such metadata path' });
    return send(404, 'Not Found');
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const request = `${req.method} ${url.pathname}`;
    requests.push(request);
    timedRequests.push({ at: new Date(), request, token: isTokenRequest(request) });
    if (state.failing) {
      // An outage: whatever was asked, after reading it, the same error.
      const { status, error } = state.failing;
      req.resume();
      req.on('end', () => {
        rejected.push({ path: url.pathname, status, error, description: 'injected outage' });
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify({ error, error_description: 'injected outage' }));
      });
      return;
    }
    if (url.pathname.startsWith('/computeMetadata/')) return metadata(req, url, res);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 64 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      const reply = (status: number, body: object): void => {
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      try {
        const handler = url.pathname === '/token' ? jwtBearer : url.pathname === '/v1/token' ? tokenExchange : undefined;
        if (!handler) throw new OAuthError(404, 'not_found', `no endpoint ${url.pathname}`);
        if (req.method !== 'POST') throw new OAuthError(405, 'invalid_request', 'token endpoints take POST');
        if (size > 64 * 1024) throw new OAuthError(413, 'invalid_request', 'request too large');
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/x-www-form-urlencoded') throw new OAuthError(400, 'invalid_request', `Content-Type must be application/x-www-form-urlencoded, got ${type || 'none'}`);
        takeFailure();
        reply(200, handler(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
      } catch (err) {
        const e = err instanceof OAuthError ? err : new OAuthError(500, 'internal_failure', (err as Error).message);
        rejected.push({ path: url.pathname, status: e.status, error: e.error, description: e.description });
        reply(e.status, { error: e.error, error_description: e.description });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    metadataHost: `127.0.0.1:${port}`,
    get lifetimeSeconds() {
      return state.lifetimeSeconds;
    },
    set lifetimeSeconds(value: number) {
      state.lifetimeSeconds = value;
    },
    get metadataAccount() {
      return state.metadataAccount;
    },
    set metadataAccount(value: string | undefined) {
      state.metadataAccount = value;
    },
    issued,
    rejected,
    requests,
    timedRequests,
    addServiceAccount(email, publicKey) {
      accounts.set(email, typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey);
    },
    removeServiceAccount(email) {
      accounts.delete(email);
    },
    addWorkloadIdentityPool(pool) {
      pools.set(pool.audience, pool);
    },
    failNext(status, error, count = 1) {
      failures = count > 0 ? { status, error, count } : undefined;
    },
    failAll(status = 500, error = 'internal_failure') {
      state.failing = { status, error };
    },
    recover() {
      state.failing = undefined;
    },
    tokenRequests() {
      return requests.filter(isTokenRequest).length;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function isTokenRequest(request: string): boolean {
  return request === 'POST /token' || request === 'POST /v1/token' || /\/service-accounts\/[^/]+\/token$/.test(request);
}

function decodeSegment(segment: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw new OAuthError(400, 'invalid_grant', 'Invalid JWT: malformed');
}

export interface ServiceAccountKeyPair {
  email: string;
  /** The key file Google Cloud would issue: JSON with the private key. */
  keyJson: string;
  publicKeyPem: string;
  privateKeyId: string;
}

/** A fresh RSA key pair and the service-account key JSON Google Cloud would hand out for it. */
export function generateServiceAccountKey(email = `puller-${randomBytes(3).toString('hex')}@regcred-test.iam.gserviceaccount.com`): ServiceAccountKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const privateKeyId = randomBytes(20).toString('hex');
  const keyJson = JSON.stringify(
    {
      type: 'service_account',
      project_id: 'regcred-test',
      private_key_id: privateKeyId,
      private_key: privateKey,
      client_email: email,
      client_id: '100000000000000000001',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: 'https://oauth2.googleapis.com/token',
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
      universe_domain: 'googleapis.com',
    },
    null,
    2,
  );
  return { email, keyJson, publicKeyPem: publicKey, privateKeyId };
}

/** An external_account config as `gcloud iam workload-identity-pools create-cred-config` writes it, for a file source. */
export function externalAccountConfig(audience: string, subjectTokenFile: string): string {
  return JSON.stringify({
    type: 'external_account',
    audience,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: 'https://sts.googleapis.com/v1/token',
    credential_source: { file: subjectTokenFile, format: { type: 'text' } },
  });
}
