/**
 * Google Artifact Registry / Container Registry: an OAuth access token for the
 * scope cloud-platform, published as username `oauth2accesstoken` for every
 * host in spec.gcr.registries.
 *
 * The identity is either a key JSON in a Secret of the operator's namespace
 * (a `service_account` key, or an `external_account` workload identity
 * federation config) or, without spec.gcr.credentialsSecretRef, Application
 * Default Credentials (GKE Workload Identity / the metadata server, or
 * GOOGLE_APPLICATION_CREDENTIALS), exactly as google-auth-library finds them.
 *
 * Every mint builds a fresh client and sends one token request (the library's
 * own retries are off: the reconciler backs off and retries), so a changed
 * Secret is picked up at once and the expiry reported is the new token's.
 *
 * Messages name Secrets, keys, fields, hosts and Google's error codes; never a
 * private key, a subject token or an access token.
 */
import { createPrivateKey } from 'node:crypto';
import {
  AwsClient,
  BaseExternalAccountClient,
  GoogleAuth,
  IdentityPoolClient,
  JWT,
  gaxios,
  gcpMetadata,
  type AwsClientOptions,
} from 'google-auth-library';
import type { GcrSource, RegistryCredentialSpec } from '../api/types.js';
import { checkLogins } from '../desired/dockerconfig.js';
import { ProviderError, type Provider, type ProviderCredential, type SourceReader } from './types.js';
import { untilAborted } from './abort.js';
import { classifyTransportError, readErrorShape } from './errors.js';
import { decode, keysPresent } from './source-secret.js';

export const GOOGLE_CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** The fixed username Google's registries accept with an OAuth access token as the password. */
export const GOOGLE_REGISTRY_USERNAME = 'oauth2accesstoken';
export const DEFAULT_GCR_KEY = 'key.json';
/**
 * Test-only / advanced: a base URL that takes the place of https://*.googleapis.com for every request
 * google-auth-library sends on the operator's behalf (OAuth token endpoint, STS, IAM credentials), path
 * kept. It exists because the library's service-account token URL is fixed; tests point it at a local
 * stand-in for Google's token endpoints. The metadata server is redirected with GCE_METADATA_HOST instead.
 */
export const GOOGLE_TOKEN_URL_ENV = 'REGCRED_GOOGLE_TOKEN_URL';
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_STS_URL = 'https://sts.googleapis.com/v1/token';

/** What a mint needs from a google-auth-library client: an access token, then its expiry. */
export interface GoogleTokenClient {
  getAccessToken(): Promise<{ token?: string | null }>;
  credentials: { expiry_date?: number | null };
}

export interface ServiceAccountKey {
  type: 'service_account';
  client_email: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
  universe_domain?: string;
  [field: string]: unknown;
}

export interface ExternalAccountConfig {
  type: 'external_account';
  audience: string;
  subject_token_type: string;
  token_url?: string;
  credential_source: Record<string, unknown>;
  service_account_impersonation_url?: string;
  [field: string]: unknown;
}

/** Which identity one mint uses. */
export type GoogleIdentity =
  | { kind: 'service_account'; key: ServiceAccountKey }
  | { kind: 'external_account'; config: ExternalAccountConfig }
  | { kind: 'application_default' };

/**
 * Builds the client for one mint. The transporter carries the timeout, the
 * abort signal, "no retries" and (in tests) the redirect to a local token
 * server: a factory that builds google-auth-library clients must pass it on.
 */
export type GoogleAuthFactory = (
  identity: GoogleIdentity,
  options: { scopes: string[]; transporter: gaxios.Gaxios },
) => GoogleTokenClient | Promise<GoogleTokenClient>;

export interface GcrProviderDeps {
  /** Default: google-auth-library's clients, as they are (defaultGoogleAuthFactory). */
  authFactory?: GoogleAuthFactory;
  /** Where REGCRED_GOOGLE_TOKEN_URL is read; default process.env. (ADC itself is read by the library from process.env.) */
  env?: NodeJS.ProcessEnv;
  /** Per mint, on top of the caller's signal; default 15 s. */
  timeoutMs?: number;
}

/** google-auth-library's own clients; the production path. */
export const defaultGoogleAuthFactory: GoogleAuthFactory = async (identity, { scopes, transporter }) => {
  switch (identity.kind) {
    case 'service_account': {
      const { key } = identity;
      return new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes, transporter });
    }
    case 'external_account': {
      // The constructors, not ExternalAccountClient.fromJSON: that one writes a warning to the console
      // on every call, and the config has been validated here already.
      // The library's option types are stricter than JSON; readIdentity has checked the shape.
      const options = { ...identity.config, scopes, transporter };
      const client = isAwsSource(identity.config) ? new AwsClient(options as unknown as AwsClientOptions) : new IdentityPoolClient(options);
      useTransporterForSts(client, transporter);
      return client;
    }
    case 'application_default': {
      const client = await new GoogleAuth({ scopes, clientOptions: { transporter } }).getClient();
      if (client instanceof BaseExternalAccountClient) useTransporterForSts(client, transporter);
      return client;
    }
  }
};

/**
 * google-auth-library builds the STS client of an external account with a Gaxios of its own (three
 * retries, no timeout), whatever transporter the client was given. Hand it ours, so that the timeout,
 * the abort signal, "one request per mint" and the test redirect hold for the token exchange too.
 * (test/unit/gcr-provider.test.ts checks this still works after a library upgrade.)
 */
function useTransporterForSts(client: BaseExternalAccountClient, transporter: gaxios.Gaxios): void {
  const sts = (client as unknown as { stsCredential?: { transporter?: unknown } }).stsCredential;
  if (sts && typeof sts === 'object' && sts.transporter instanceof gaxios.Gaxios) sts.transporter = transporter;
}

export function createGcrProvider(deps: GcrProviderDeps = {}): Provider {
  const authFactory = deps.authFactory ?? defaultGoogleAuthFactory;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const redirect = parseRedirect((deps.env ?? process.env)[GOOGLE_TOKEN_URL_ENV]);
  return {
    name: 'gcr',
    async mint(spec: RegistryCredentialSpec, sources: SourceReader, signal: AbortSignal): Promise<ProviderCredential> {
      const source = spec.gcr;
      if (!source) throw new ProviderError('InvalidProvider', 'spec.gcr is not set', false);
      const identity = readIdentity(source, sources);
      const timeout = AbortSignal.timeout(timeoutMs);
      const abort = AbortSignal.any([signal, timeout]);
      const transporter = newTransporter(abort, timeoutMs, redirect);
      const who = describeIdentity(identity, source, sources.namespace);
      let token: string;
      let expiresAt: Date;
      try {
        ({ token, expiresAt } = await untilAborted(requestToken(authFactory, identity, transporter), abort));
      } catch (err) {
        if (err instanceof ProviderError) throw err;
        throw classifyError(err, { identity, who, signal: abort, timeoutSignal: timeout, timeoutMs });
      }
      // One token serves every host: the registries differ by location, not by identity.
      const logins = [...new Set(source.registries)].sort().map((registry) => ({ registry, username: GOOGLE_REGISTRY_USERNAME, password: token }));
      // The token is non-empty and the username fixed, so only the spec's registries can be at fault.
      const problem = checkLogins(logins);
      if (problem !== undefined) throw new ProviderError('InvalidSpec', `spec.gcr.registries: ${problem}`, false);
      return { logins, expiresAt };
    },
  };
}

async function requestToken(
  authFactory: GoogleAuthFactory,
  identity: GoogleIdentity,
  transporter: gaxios.Gaxios,
): Promise<{ token: string; expiresAt: Date }> {
  const client = await authFactory(identity, { scopes: [GOOGLE_CLOUD_PLATFORM_SCOPE], transporter });
  const { token } = await client.getAccessToken();
  if (!token) throw new ProviderError('ProviderError', 'Google answered the token request without an access token; will retry', true);
  const expiry = client.credentials.expiry_date;
  if (typeof expiry !== 'number' || !Number.isFinite(expiry) || expiry <= Date.now()) {
    throw new ProviderError('ProviderError', 'Google answered the token request without a usable expiry (expires_in); will retry', true);
  }
  return { token, expiresAt: new Date(expiry) };
}

// ---------------------------------------------------------------------------------------------------
// Reading and checking the source Secret

function readIdentity(source: GcrSource, sources: SourceReader): GoogleIdentity {
  const ref = source.credentialsSecretRef;
  if (!ref) return { kind: 'application_default' };
  const key = ref.key || DEFAULT_GCR_KEY;
  const where = `Secret ${sources.namespace}/${ref.name}`;
  const secret = sources.get(ref.name);
  if (!secret) {
    throw new ProviderError(
      'SourceSecretNotFound',
      `${where} (spec.gcr.credentialsSecretRef) not found; create it in ${sources.namespace} with key "${key}" holding a service account key or a workload identity federation (external_account) config`,
      false,
    );
  }
  const data = secret.data ?? {};
  const encoded = data[key];
  if (encoded === undefined || encoded === '') {
    throw invalid(`${where} has no key "${key}" (it has: ${keysPresent(data)}); add it, or set spec.gcr.credentialsSecretRef.key`);
  }
  const text = decode(encoded) ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // The parser's message quotes the input, which holds a private key: keep only the position.
    const position = err instanceof Error ? /at position (\d+)/.exec(err.message)?.[1] : undefined;
    throw invalid(`${where} key "${key}" is not valid JSON${position ? ` (error at character ${position})` : ''}; paste the key file as downloaded from Google Cloud`);
  }
  const what = `${where} key "${key}"`;
  if (!isObject(parsed)) throw invalid(`${what} must be a JSON object (a service account key or an external_account config)`);
  switch (parsed.type) {
    case 'service_account':
      return { kind: 'service_account', key: checkServiceAccountKey(parsed, what) };
    case 'external_account':
      return { kind: 'external_account', config: checkExternalAccount(parsed, what) };
    case undefined:
      throw invalid(`${what} has no "type"; expected a service account key ("type": "service_account") or a workload identity federation config ("type": "external_account")`);
    default:
      throw invalid(
        `${what} has "type" ${describeType(parsed.type)}; only "service_account" and "external_account" are supported (user credentials and impersonation configs are not)`,
      );
  }
}

function checkServiceAccountKey(json: Record<string, unknown>, what: string): ServiceAccountKey {
  const missing = ['client_email', 'private_key'].filter((field) => typeof json[field] !== 'string' || json[field] === '');
  if (missing.length > 0) {
    throw invalid(`${what} is a service account key without ${missing.map((f) => `"${f}"`).join(' and ')}; create a new key for the service account and store the whole file`);
  }
  try {
    const key = createPrivateKey(json.private_key as string);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
  } catch {
    // crypto's own message can quote parts of the input: say only what is wrong.
    throw invalid(`${what}: "private_key" is not a PEM-encoded RSA private key; store the key file exactly as Google Cloud issued it`);
  }
  const universe = json.universe_domain;
  if (universe !== undefined && universe !== 'googleapis.com') {
    throw invalid(`${what} is for universe domain ${describeType(universe)}; only googleapis.com is supported`);
  }
  return json as ServiceAccountKey;
}

function checkExternalAccount(json: Record<string, unknown>, what: string): ExternalAccountConfig {
  const missing = ['audience', 'subject_token_type'].filter((field) => typeof json[field] !== 'string' || json[field] === '');
  if (!isObject(json.credential_source)) missing.push('credential_source');
  if (missing.length > 0) {
    throw invalid(`${what} is an external_account config without ${missing.map((f) => `"${f}"`).join(', ')}; generate it with "gcloud iam workload-identity-pools create-cred-config"`);
  }
  const source = json.credential_source as Record<string, unknown>;
  if (source.executable !== undefined) {
    throw invalid(`${what}: executable-sourced credentials (credential_source.executable) are not supported; use a file or url credential source`);
  }
  if (!isAwsSource(json as unknown as ExternalAccountConfig) && source.file === undefined && source.url === undefined && source.certificate === undefined) {
    throw invalid(`${what}: credential_source needs "file", "url", "certificate" or an AWS "environment_id"`);
  }
  // Google's advice for configs from outside: only send tokens to Google's own endpoints.
  for (const field of ['token_url', 'service_account_impersonation_url'] as const) {
    const value = json[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !isGoogleApiUrl(value)) {
      throw invalid(`${what}: "${field}" must be an https URL on googleapis.com (e.g. ${field === 'token_url' ? DEFAULT_STS_URL : 'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/NAME@PROJECT.iam.gserviceaccount.com:generateAccessToken'})`);
    }
  }
  return json as ExternalAccountConfig;
}

function isAwsSource(config: ExternalAccountConfig): boolean {
  const id = config.credential_source?.environment_id;
  return typeof id === 'string' && id.startsWith('aws');
}

function isGoogleApiUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && (url.hostname === 'googleapis.com' || url.hostname.endsWith('.googleapis.com')) && !url.username && !url.password;
  } catch {
    return false;
  }
}

function describeType(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,40}$/.test(value) ? `"${value}"` : 'of an unsupported value';
}

function describeIdentity(identity: GoogleIdentity, source: GcrSource, namespace: string): string {
  switch (identity.kind) {
    case 'service_account':
      return `service account ${identity.key.client_email} (key in Secret ${namespace}/${source.credentialsSecretRef?.name})`;
    case 'external_account':
      return `workload identity federation config in Secret ${namespace}/${source.credentialsSecretRef?.name}`;
    case 'application_default':
      return "the operator's Application Default Credentials";
  }
}

// ---------------------------------------------------------------------------------------------------
// Transport: timeout, abort, no retries, and the test-only redirect

function parseRedirect(value: string | undefined): URL | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${GOOGLE_TOKEN_URL_ENV} must be an http(s) URL, e.g. http://127.0.0.1:8089`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${GOOGLE_TOKEN_URL_ENV} must be an http(s) URL`);
  return url;
}

function newTransporter(signal: AbortSignal, timeoutMs: number, redirect: URL | undefined): gaxios.Gaxios {
  const transporter = new gaxios.Gaxios({
    signal,
    timeout: timeoutMs,
    // One request per mint: the reconciler owns retries and their backoff.
    retryConfig: { retry: 0, noResponseRetries: 0 },
  });
  if (redirect) {
    transporter.interceptors.request.add({
      resolved: (config) => {
        const url = new URL(config.url);
        if (url.protocol === 'https:' && url.hostname.endsWith('.googleapis.com')) {
          const base = redirect.pathname.replace(/\/+$/, '');
          config.url = new URL(`${base}${url.pathname}${url.search}`, redirect.origin);
        }
        return Promise.resolve(config);
      },
    });
  }
  return transporter;
}

// ---------------------------------------------------------------------------------------------------
// Errors

/** What classifying a failed token request needs to know about the mint. */
interface GoogleCallContext {
  identity: GoogleIdentity;
  /** The identity in words, e.g. "service account x@p.iam.gserviceaccount.com (key in Secret ns/name)". */
  who: string;
  /** The caller's signal combined with the provider's own timer. */
  signal: AbortSignal;
  /** The provider's own timer: when it fired, the message names timeoutMs. */
  timeoutSignal: AbortSignal;
  timeoutMs: number;
}

/**
 * No answer, throttling and 5xx are worded as for every cloud provider (./errors.ts); a 400/401/403
 * from a token endpoint is Google refusing the identity, which only the user can fix.
 *
 * No `cause` on the errors made here: the library's errors carry the request (gaxios redacts an
 * assertion, but not an STS subject_token), and an error's cause is one careless log line from output.
 */
function classifyError(err: unknown, ctx: GoogleCallContext): ProviderError {
  const shape = readErrorShape(err);
  const answer = googleAnswer(err);
  const host = answer.host ?? defaultHost(ctx.identity);
  const detail = [answer.oauthError, answer.description].filter(Boolean).join(': ');
  const action = `requesting an access token for ${ctx.who}`;
  const transport = classifyTransportError(shape, {
    action,
    endpoint: host,
    signal: ctx.signal,
    timeoutSignal: ctx.timeoutSignal,
    timeoutMs: ctx.timeoutMs,
    ...(detail ? { detail } : {}),
    unreachableHint: "check the operator's network access to Google",
  });
  if (transport) return transport;
  if (shape.status !== undefined) {
    const answered = `${host} answered ${shape.status}${detail ? ` (${detail})` : ''}`;
    if (shape.status === 400 || shape.status === 401 || shape.status === 403) {
      return new ProviderError('AccessDenied', `Google denied an access token for ${ctx.who}: ${answered}; ${accessHint(ctx.identity)}`, true);
    }
    return new ProviderError('ProviderError', `${action} failed: ${answered}; will retry`, true);
  }
  if (ctx.identity.kind === 'application_default' && shape.message.startsWith('Could not load the default credentials')) {
    // gcp-metadata remembers "no metadata server" for the life of the process: ask again next time.
    gcpMetadata.resetIsAvailableCache();
    return new ProviderError(
      'CredentialsNotFound',
      'no Application Default Credentials found: run the operator with GKE Workload Identity (or on a GCE/GKE node with a service account), set GOOGLE_APPLICATION_CREDENTIALS, or set spec.gcr.credentialsSecretRef to a Secret holding a key; will retry',
      true,
    );
  }
  if (ctx.identity.kind === 'external_account') {
    return new ProviderError(
      'ProviderError',
      `${ctx.who}: could not get the external subject token or exchange it: ${sanitize(shape.message)}; check credential_source (the file must be mounted in the operator's pod, the URL reachable from it); will retry`,
      true,
    );
  }
  return new ProviderError('ProviderError', `${action} failed: ${sanitize(shape.message)}; will retry`, true);
}

function accessHint(identity: GoogleIdentity): string {
  switch (identity.kind) {
    case 'service_account':
      return 'check that the key still exists and is enabled (or create a new one and update the Secret), and that the operator\'s clock is right';
    case 'external_account':
      return "check the config's audience and that the workload identity pool provider accepts the subject token (issuer, audience, attribute conditions)";
    case 'application_default':
      return "check the operator's Workload Identity binding (Kubernetes ServiceAccount annotation iam.gke.io/gcp-service-account and the roles/iam.workloadIdentityUser grant)";
  }
}

function defaultHost(identity: GoogleIdentity): string {
  switch (identity.kind) {
    case 'service_account':
      return 'oauth2.googleapis.com';
    case 'external_account':
      return hostOf(identity.config.token_url ?? DEFAULT_STS_URL) ?? 'sts.googleapis.com';
    case 'application_default':
      return 'the metadata server';
  }
}

/** What Google's answer said, from the error or the first of its causes that carries the response. */
interface GoogleAnswer {
  host?: string;
  /** OAuth `error`, or the `status` of a Google API error: a code, fit to quote once sanitized. */
  oauthError?: string;
  description?: string;
}

function googleAnswer(err: unknown): GoogleAnswer {
  const answer: GoogleAnswer = {};
  let current: unknown = err;
  // Bounded: the library wraps a few levels deep at most, and a cycle must not hang a mint.
  for (let depth = 0; depth <= 5 && isObject(current); depth++) {
    const e = current as { response?: { data?: unknown; config?: { url?: unknown } }; config?: { url?: unknown }; cause?: unknown };
    const url = e.config?.url ?? e.response?.config?.url;
    if (answer.host === undefined && (typeof url === 'string' || url instanceof URL)) answer.host = hostOf(String(url));
    if (isObject(e.response)) {
      Object.assign(answer, oauthDetails(e.response.data));
      return answer;
    }
    current = e.cause;
  }
  return answer;
}

function oauthDetails(body: unknown): Pick<GoogleAnswer, 'oauthError' | 'description'> {
  let data = body;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      /* not JSON */
    }
  }
  const details: Pick<GoogleAnswer, 'oauthError' | 'description'> = {};
  if (!isObject(data)) return details;
  if (typeof data.error === 'string') details.oauthError = sanitize(data.error, 60);
  else if (isObject(data.error) && typeof data.error.status === 'string') details.oauthError = sanitize(data.error.status, 60);
  if (typeof data.error_description === 'string') details.description = sanitize(data.error_description);
  else if (isObject(data.error) && typeof data.error.message === 'string') details.description = sanitize(data.error.message);
  return details;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/** Keeps a message readable and short, and blanks anything shaped like a token, a JWT or a key. */
function sanitize(text: string, max = 200): string {
  const cleaned = text
    .replace(/-----BEGIN[\s\S]*?(-----END[^-]*-----|$)/g, '[redacted]')
    .replace(/\b(?:ya29\.|eyJ)[A-Za-z0-9._~+/=-]*/g, '[redacted]')
    .replace(/[A-Za-z0-9._~+/=-]{40,}/g, '[redacted]')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.length > max ? `${cleaned.slice(0, max - 1)}…` : cleaned;
}

function invalid(message: string): ProviderError {
  return new ProviderError('InvalidSourceSecret', message, false);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
