/**
 * AWS ECR: one GetAuthorizationToken call per mint, with credentials from a
 * Secret in the operator's namespace or from the operator's own default chain
 * (env, IRSA web identity, EKS Pod Identity, instance profile), optionally
 * through an assumed role first.
 *
 * The SDK clients come from injected factories, so that tests point them at
 * a local emulator (or replace them with fakes). The production factories are
 * plain `new ECRClient(config)` / `new STSClient(config)`: those honour
 * AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_STS (and AWS_ENDPOINT_URL) by
 * themselves (@smithy/core endpoints: `AWS_ENDPOINT_URL_<SERVICE ID>`), and so
 * does the STS client inside the default chain's web identity provider.
 *
 * Nothing secret leaves this module: messages name Secrets, keys, roles and
 * endpoints, never key material, session tokens or the registry password, and
 * what AWS says is scrubbed of any secret value before it is quoted.
 */
import { ECRClient, GetAuthorizationTokenCommand, type GetAuthorizationTokenCommandOutput } from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandOutput } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { RegistryCredentialSpec } from '../api/types.js';
import { checkLogins } from '../desired/dockerconfig.js';
import { ProviderError, type Provider, type ProviderCredential, type SourceReader } from './types.js';
import { untilAborted } from './abort.js';
import { classifyTransportError, readErrorShape } from './errors.js';
import { decode, keysPresent } from './source-secret.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** What the provider gives a client factory: enough for `new ECRClient(config)` / `new STSClient(config)`. */
export interface AwsClientConfig {
  region: string;
  /** Absent: the SDK's default chain. The provider always resolves credentials first and passes them. */
  credentials?: AwsCredentials;
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: boolean };
}

export interface SendOptions {
  abortSignal?: AbortSignal;
}

export interface EcrClientLike {
  send(command: GetAuthorizationTokenCommand, options?: SendOptions): Promise<GetAuthorizationTokenCommandOutput>;
  destroy?(): void;
}

export interface StsClientLike {
  send(command: AssumeRoleCommand, options?: SendOptions): Promise<AssumeRoleCommandOutput>;
  destroy?(): void;
}

/** Resolves the operator's own credentials (the SDK default chain in production). */
export type DefaultCredentials = (config: { region: string; requestHandler: AwsClientConfig['requestHandler'] }) => Promise<AwsCredentials>;

export interface EcrProviderDeps {
  ecrClient: (config: AwsClientConfig) => EcrClientLike;
  /** Default: `new STSClient(config)`. */
  stsClient?: (config: AwsClientConfig) => StsClientLike;
  /** Default: `fromNodeProviderChain` from @aws-sdk/credential-providers. */
  defaultCredentials?: DefaultCredentials;
  /** The operator's environment: only read to name endpoints and credential sources in messages. */
  env?: NodeJS.ProcessEnv;
  /** Per HTTP request (connect at most 5 s of it). Default 10 s. */
  timeoutMs?: number;
  now?: () => number;
}

/** Context a caller may give a mint; the role session name carries the credential's name when it does. */
export interface EcrMintContext {
  credentialName?: string;
}

export const ACCESS_KEY_ID = 'AWS_ACCESS_KEY_ID';
export const SECRET_ACCESS_KEY = 'AWS_SECRET_ACCESS_KEY';
export const SESSION_TOKEN = 'AWS_SESSION_TOKEN';

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_CONNECT_MS = 5_000;
/** The shortest session STS grants: the assumed credentials are used for one call, at once. */
const ROLE_SESSION_SECONDS = 900;
/** ECR's documented token lifetime, assumed only when a response lacks expiresAt. */
const ECR_TOKEN_LIFETIME_MS = 12 * 60 * 60_000;
const MAX_QUOTED_MESSAGE = 300;

/** The production clients: real SDK clients reading endpoints and the default chain from the environment. */
export const awsSdkClients: Pick<EcrProviderDeps, 'ecrClient' | 'stsClient' | 'defaultCredentials'> = {
  ecrClient: (config) => new ECRClient(config),
  stsClient: (config) => new STSClient(config),
  defaultCredentials: async ({ region, requestHandler }) => {
    const identity = await fromNodeProviderChain({ clientConfig: { region, requestHandler } })();
    return {
      accessKeyId: identity.accessKeyId,
      secretAccessKey: identity.secretAccessKey,
      ...(identity.sessionToken ? { sessionToken: identity.sessionToken } : {}),
      ...(identity.expiration ? { expiration: identity.expiration } : {}),
    };
  },
};

type Stage = 'credentials' | 'assume-role' | 'ecr';

interface CallContext {
  stage: Stage;
  region: string;
  /** Who is calling, in words: "the keys in Secret ns/name", "role arn:… (assumed with …)". */
  identity: string;
  /** Where the credentials came from: a Secret, or the operator's own chain. */
  source: { kind: 'secret'; ref: string } | { kind: 'chain'; description: string };
  roleArn?: string;
  /** Values that must never appear in a message. */
  secrets: string[];
  signal: AbortSignal;
}

export function createEcrProvider(deps: EcrProviderDeps): Provider & {
  mint(spec: RegistryCredentialSpec, sources: SourceReader, signal: AbortSignal, context?: EcrMintContext): Promise<ProviderCredential>;
} {
  const env = deps.env ?? {};
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const requestHandler = { connectionTimeout: Math.min(timeoutMs, MAX_CONNECT_MS), requestTimeout: timeoutMs, throwOnRequestTimeout: true };
  const stsFactory = deps.stsClient ?? awsSdkClients.stsClient!;
  const defaultCredentials = deps.defaultCredentials ?? awsSdkClients.defaultCredentials!;
  const now = deps.now ?? Date.now;

  async function mint(spec: RegistryCredentialSpec, sources: SourceReader, signal: AbortSignal, context?: EcrMintContext): Promise<ProviderCredential> {
    const ecr = spec.ecr;
    if (!ecr) throw new ProviderError('InvalidProvider', 'spec.ecr is not set', false);
    const region = ecr.region;
    const registryIds = [...new Set(ecr.registryIds ?? [])];

    let credentials: AwsCredentials;
    const ctx: CallContext = ecr.credentialsSecretRef
      ? secretContext(ecr.credentialsSecretRef.name, sources, region, signal)
      : { stage: 'credentials', region, identity: '', source: { kind: 'chain', description: describeChain(env) }, secrets: [], signal };
    if (ctx.source.kind === 'secret') {
      credentials = readSecretCredentials(ecr.credentialsSecretRef!.name, sources);
      ctx.secrets.push(credentials.secretAccessKey, ...(credentials.sessionToken ? [credentials.sessionToken] : []));
      ctx.identity = `the keys in ${ctx.source.ref}`;
    } else {
      ctx.identity = `the operator's own AWS credentials (${ctx.source.description})`;
      credentials = await call(ctx, () => untilAborted(defaultCredentials({ region, requestHandler }), signal));
      ctx.secrets.push(credentials.secretAccessKey, ...(credentials.sessionToken ? [credentials.sessionToken] : []));
    }

    if (ecr.roleArn) {
      ctx.stage = 'assume-role';
      ctx.roleArn = ecr.roleArn;
      const sts = stsFactory({ region, credentials, requestHandler });
      try {
        const assumed = await call(ctx, () =>
          sts.send(
            new AssumeRoleCommand({ RoleArn: ecr.roleArn, RoleSessionName: sessionName(context?.credentialName), DurationSeconds: ROLE_SESSION_SECONDS }),
            { abortSignal: signal },
          ),
        );
        const c = assumed.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey) {
          throw new ProviderError('InvalidProviderResponse', `STS AssumeRole of ${ecr.roleArn} returned no credentials; will retry`, true);
        }
        credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}) };
        ctx.secrets.push(c.SecretAccessKey, ...(c.SessionToken ? [c.SessionToken] : []));
        ctx.identity = `role ${ecr.roleArn} (assumed with ${ctx.identity})`;
      } finally {
        sts.destroy?.();
      }
    }

    ctx.stage = 'ecr';
    const client = deps.ecrClient({ region, credentials, requestHandler });
    let output: GetAuthorizationTokenCommandOutput;
    try {
      output = await call(ctx, () =>
        client.send(new GetAuthorizationTokenCommand(registryIds.length > 0 ? { registryIds } : {}), { abortSignal: signal }),
      );
    } finally {
      client.destroy?.();
    }
    return parseAuthorization(output, { region, registryIds, now: now() });
  }

  /** Runs one AWS step and turns whatever it throws into a ProviderError. */
  async function call<T>(ctx: CallContext, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      throw classifyAwsError(err, { ...ctx, env, timeoutMs });
    }
  }

  return { name: 'ecr', mint };
}

function secretContext(name: string, sources: SourceReader, region: string, signal: AbortSignal): CallContext {
  return {
    stage: 'credentials',
    region,
    identity: '',
    source: { kind: 'secret', ref: `Secret ${sources.namespace}/${name}` },
    secrets: [],
    signal,
  };
}

/** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY[ / AWS_SESSION_TOKEN] from a Secret in the operator's namespace. */
export function readSecretCredentials(name: string, sources: SourceReader): AwsCredentials {
  const ref = `Secret ${sources.namespace}/${name}`;
  const secret = sources.get(name);
  const keys = `keys ${ACCESS_KEY_ID} and ${SECRET_ACCESS_KEY} (and ${SESSION_TOKEN} for temporary credentials)`;
  if (!secret) {
    throw new ProviderError(
      'SourceSecretNotFound',
      `${ref} (spec.ecr.credentialsSecretRef) not found; create it in ${sources.namespace} with ${keys}, or remove credentialsSecretRef to use the operator's own AWS credentials`,
      false,
    );
  }
  const data = secret.data ?? {};
  // Secrets made with `kubectl create secret --from-file` often end in a newline; AWS keys never contain whitespace.
  const accessKeyId = decode(data[ACCESS_KEY_ID])?.trim();
  const secretAccessKey = decode(data[SECRET_ACCESS_KEY])?.trim();
  const sessionToken = decode(data[SESSION_TOKEN])?.trim();
  if (!accessKeyId || !secretAccessKey) {
    throw new ProviderError('InvalidSourceSecret', `${ref} must have non-empty ${keys} (it has: ${keysPresent(data)})`, false);
  }
  if (!/^\w{16,128}$/.test(accessKeyId)) {
    throw new ProviderError(
      'InvalidSourceSecret',
      `${ref}: ${ACCESS_KEY_ID} is not an AWS access key id (16-128 letters and digits, like AKIA…); check that the keys are not swapped`,
      false,
    );
  }
  if (/\s/.test(secretAccessKey) || (sessionToken !== undefined && /\s/.test(sessionToken))) {
    const key = /\s/.test(secretAccessKey) ? SECRET_ACCESS_KEY : SESSION_TOKEN;
    throw new ProviderError('InvalidSourceSecret', `${ref}: ${key} contains whitespace, which an AWS credential never does`, false);
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/** `regcred-<credential>`, within STS's limits (2-64 of [\w+=,.@-]). */
export function sessionName(credentialName: string | undefined): string {
  const name = `regcred-${credentialName ?? 'operator'}`.replace(/[^\w+=,.@-]/g, '-');
  return name.slice(0, 64);
}

/** Which source the SDK's default chain will use, from the environment, for messages. */
export function describeChain(env: NodeJS.ProcessEnv): string {
  if (env.AWS_ACCESS_KEY_ID) return 'from the AWS_ACCESS_KEY_ID environment variables';
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) return `IRSA web identity for role ${env.AWS_ROLE_ARN}`;
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) return 'EKS Pod Identity / container credentials';
  if (env.AWS_PROFILE) return `shared config profile ${env.AWS_PROFILE}`;
  return 'default chain: shared config files or the instance profile';
}

/** The DNS suffix of ECR registry hosts in a region's partition. */
export function registryDnsSuffix(region: string): string {
  if (region.startsWith('cn-')) return 'amazonaws.com.cn';
  if (region.startsWith('us-isob-')) return 'sc2s.sgov.gov';
  if (region.startsWith('us-iso-')) return 'c2s.ic.gov';
  return 'amazonaws.com';
}

export function registryHost(registryId: string, region: string): string {
  return `${registryId}.dkr.ecr.${region}.${registryDnsSuffix(region)}`;
}

/**
 * authorizationData → what to publish. One token serves every registry the
 * principal may read in the region (registryIds is deprecated in the API), so the first entry's login is
 * used for all registries; the credential expires when the first entry does.
 */
export function parseAuthorization(
  output: Pick<GetAuthorizationTokenCommandOutput, 'authorizationData'>,
  options: { region: string; registryIds: string[]; now: number },
): ProviderCredential {
  const data = output.authorizationData ?? [];
  const first = data.find((d) => d.authorizationToken);
  if (!first?.authorizationToken) {
    throw new ProviderError('EmptyCredential', 'ECR GetAuthorizationToken returned no authorization token; will retry', true);
  }
  const decoded = Buffer.from(first.authorizationToken, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const username = colon > 0 ? decoded.slice(0, colon) : '';
  const password = colon > 0 ? decoded.slice(colon + 1) : '';
  if (!username || !password) {
    throw new ProviderError('InvalidProviderResponse', 'ECR returned an authorization token that does not decode to "AWS:<password>"; will retry', true);
  }

  let registries: string[];
  if (options.registryIds.length > 0) {
    registries = options.registryIds.map((id) => registryHost(id, options.region));
  } else {
    const hosts = data.map((d) => proxyHost(d.proxyEndpoint)).filter((h): h is string => h !== undefined);
    if (hosts.length === 0) {
      throw new ProviderError(
        'InvalidProviderResponse',
        'ECR returned no usable proxyEndpoint, so the registry is unknown; set spec.ecr.registryIds',
        true,
      );
    }
    registries = hosts;
  }
  registries = [...new Set(registries)].sort();

  const expiries = data.map((d) => d.expiresAt).filter((d): d is Date => d instanceof Date && !Number.isNaN(d.getTime()));
  const expiresAt = expiries.length > 0 ? new Date(Math.min(...expiries.map((d) => d.getTime()))) : new Date(options.now + ECR_TOKEN_LIFETIME_MS);

  const logins = registries.map((registry) => ({ registry, username, password }));
  // Refused here rather than when the document is built, so that status says ECR's answer was at fault.
  // The check's messages name registries, never values.
  const problem = checkLogins(logins);
  if (problem !== undefined) throw new ProviderError('InvalidProviderResponse', `ECR returned a login that cannot be published: ${problem}`, true);
  return { logins, expiresAt };
}

function proxyHost(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  try {
    const url = new URL(endpoint.includes('://') ? endpoint : `https://${endpoint}`);
    return url.host || undefined;
  } catch {
    return undefined;
  }
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);

const BAD_CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'AuthFailure',
  'InvalidAccessKeyId',
  'InvalidIdentityToken',
  'InvalidIdentityTokenException',
]);

const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);

const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'IDPRejectedClaim', 'IDPRejectedClaimException', 'RegionDisabledException']);

/** What AWS said, fit to quote: secret values removed, signing diagnostics (which can echo a session token) cut, short. */
export function scrubMessage(message: string, secrets: readonly string[]): string {
  let text = message.split(/\s*(?:The Canonical String|The String-to-Sign|StringToSign|CanonicalRequest|string to sign)/i)[0] ?? '';
  for (const secret of secrets) {
    if (secret.length >= 4) text = text.split(secret).join('[redacted]');
  }
  // Anything that still looks like a long credential (a token, a signature) goes too.
  text = text.replace(/[A-Za-z0-9+/=_-]{60,}/g, '[redacted]');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > MAX_QUOTED_MESSAGE ? `${text.slice(0, MAX_QUOTED_MESSAGE)}…` : text;
}

function endpointOf(service: 'ECR' | 'STS', region: string, env: NodeJS.ProcessEnv): string {
  const override = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  if (override) return override;
  return service === 'ECR' ? `https://api.ecr.${region}.${registryDnsSuffix(region)}` : `https://sts.${region}.${registryDnsSuffix(region)}`;
}

/**
 * Every failure as a ProviderError whose reason a user can act on:
 * (`retryable` as in ./types.ts: every failure is retried with backoff; a change of the Secret or spec retries at once.)
 * - SourceSecretNotFound / InvalidSourceSecret: not retryable; the Secret's watch wakes the credential.
 * - AccessDenied: retryable: IAM is fixed outside the cluster, so no event would ever wake it.
 * - InvalidCredentials: retryable, with backoff. A new IAM access key is rejected for seconds after it
 *   is created (IAM is eventually consistent), and the operator's own chain (IRSA, Pod Identity,
 *   instance profile) rotates outside Kubernetes; a wrong key costs one call per capped backoff.
 * - Throttled, ProviderUnreachable, CredentialsUnavailable, ProviderError (5xx, unknown): retryable.
 * - InvalidParameter (ECR rejected the request, e.g. a registry id): not retryable; fix the spec.
 * No answer, throttling and 5xx are worded as for every cloud provider (./errors.ts); the rest is AWS's own.
 */
export function classifyAwsError(
  err: unknown,
  ctx: Pick<CallContext, 'stage' | 'region' | 'identity' | 'source' | 'roleArn' | 'secrets' | 'signal'> & { env: NodeJS.ProcessEnv; timeoutMs: number },
): ProviderError {
  const shape = readErrorShape(err);
  const service = ctx.stage === 'ecr' ? 'ECR' : 'STS';
  const action =
    ctx.stage === 'ecr'
      ? 'ECR GetAuthorizationToken'
      : ctx.stage === 'assume-role'
        ? `STS AssumeRole of ${ctx.roleArn}`
        : `resolving ${ctx.identity}`;
  const quoted = scrubMessage(shape.message, ctx.secrets);
  const said = quoted ? `: ${quoted}` : '';
  const errorName = shape.name !== 'Error' ? shape.name : (shape.code ?? 'Error');
  // Resolving the operator's own credentials calls STS only for IRSA; otherwise it reads a file or a local endpoint.
  const chainUsesSts = ctx.source.kind === 'chain' && ctx.source.description.startsWith('IRSA');
  const endpoint = ctx.stage === 'credentials' && !chainUsesSts ? 'the credential source' : `${service} at ${endpointOf(service, ctx.region, ctx.env)}`;

  const transport = classifyTransportError(shape, {
    action,
    endpoint,
    signal: ctx.signal,
    timeoutMs: ctx.timeoutMs,
    throttleNames: THROTTLING,
    detail: errorName,
  });
  if (transport) return transport;

  // The Secret's own keys made this call (not an assumed role's, not the operator's chain).
  const secretKeysUsed = ctx.source.kind === 'secret' && (ctx.stage === 'assume-role' || (ctx.stage === 'ecr' && !ctx.roleArn));
  const secretRef = ctx.source.kind === 'secret' ? ctx.source.ref : '';

  if (EXPIRED.has(shape.name)) {
    const fix = secretKeysUsed
      ? `replace the temporary credentials in ${secretRef}, or use long-lived keys, roleArn or the operator's own role`
      : 'check that the clock of the node running the operator is right';
    return new ProviderError('InvalidCredentials', `${action} failed: the credentials of ${ctx.identity} have expired (${errorName}); ${fix}; will retry`, true);
  }

  if (BAD_CREDENTIALS.has(shape.name)) {
    const fix = secretKeysUsed
      ? `fix ${ACCESS_KEY_ID} / ${SECRET_ACCESS_KEY} in ${secretRef} (a key created moments ago can take a few seconds to be accepted)`
      : shape.name.startsWith('InvalidIdentityToken')
        ? "check the operator's web identity token and the cluster's IAM OIDC provider"
        : "check the operator's own AWS credentials";
    return new ProviderError('InvalidCredentials', `${action}: AWS rejected ${ctx.identity} (${errorName}${said}); ${fix}; will retry`, true);
  }

  if (DENIED.has(shape.name) || shape.status === 403) {
    let fix: string;
    if (ctx.stage === 'assume-role') {
      fix = `allow sts:AssumeRole on ${ctx.roleArn} for that identity, and trust it in the role's trust policy`;
    } else if (ctx.stage === 'credentials') {
      fix = "check the trust policy of the operator's role (OIDC provider, service account) and its permissions";
    } else {
      fix = `grant ecr:GetAuthorizationToken to ${ctx.roleArn ? `role ${ctx.roleArn}` : 'that identity'} (e.g. the AmazonEC2ContainerRegistryReadOnly policy)`;
    }
    return new ProviderError('AccessDenied', `${action} was denied for ${ctx.identity} (${errorName}${said}); ${fix}; will retry`, true);
  }

  if (ctx.stage === 'credentials' && (shape.code === 'ENOENT' || shape.code === 'EACCES' || shape.code === 'EISDIR')) {
    // The web identity token file (IRSA) or the Pod Identity token file is missing or unreadable: a path, no secret.
    return new ProviderError(
      'CredentialsUnavailable',
      `resolving ${ctx.identity} failed: ${quoted}; check the projected token volume of the operator's pod; will retry`,
      true,
    );
  }

  if (shape.name === 'CredentialsProviderError') {
    return new ProviderError(
      'CredentialsUnavailable',
      `no AWS credentials: spec.ecr.credentialsSecretRef is not set and the operator's own credential chain found none (${quoted || 'no source configured'}); ` +
        "set credentialsSecretRef, or give the operator an identity (IRSA's AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, EKS Pod Identity, an instance profile); will retry",
      true,
    );
  }

  if (shape.name === 'InvalidParameterException' || shape.name === 'ValidationError' || shape.name === 'ValidationException') {
    const fix = ctx.stage === 'ecr' ? 'check spec.ecr.registryIds and spec.ecr.region' : 'check spec.ecr.roleArn';
    return new ProviderError('InvalidParameter', `${action} was rejected (${errorName}${said}); ${fix}`, false);
  }

  return new ProviderError('ProviderError', `${action} failed: ${errorName}${said}; will retry`, true);
}
