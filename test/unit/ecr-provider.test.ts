import { describe, expect, it } from '@jest/globals';
import { ECRServiceException, InvalidParameterException, ServerException } from '@aws-sdk/client-ecr';
import type { GetAuthorizationTokenCommand, GetAuthorizationTokenCommandOutput } from '@aws-sdk/client-ecr';
import { ExpiredTokenException, STSServiceException, type AssumeRoleCommand, type AssumeRoleCommandOutput } from '@aws-sdk/client-sts';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import {
  createEcrProvider,
  describeChain,
  parseAuthorization,
  registryHost,
  scrubMessage,
  sessionName,
  type AwsClientConfig,
  type AwsCredentials,
  type EcrProviderDeps,
  type SendOptions,
} from '../../src/providers/ecr.js';
import { ProviderError, type SourceReader, type SourceSecret } from '../../src/providers/types.js';

const NS = 'regcred-system';
const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = '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';
const SESSION = 'FQoGZXIvYXdzSessionTokenThatMustNeverBeLogged0123456789';
const ROLE = 'arn:aws:iam::210987654321:role/ecr-puller';
const ROLE_SECRET = 'AssumedRoleSecretKeyNeverLogMe0000000000';
const ROLE_SESSION = 'AssumedRoleSessionTokenNeverLogMe';
const CHAIN_SECRET = 'ChainSecretKeyNeverLogMe00000000000000000';
const PASSWORD = 'eyJwYXlsb2FkIjoiZWNyLXBhc3N3b3JkLW5ldmVyLWxvZy1tZSJ9';
const EXPIRES = new Date('2026-11-22T13:00:00Z');
const ALL_SECRETS = [SECRET_KEY, SESSION, ROLE_SECRET, ROLE_SESSION, CHAIN_SECRET, PASSWORD];

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function reader(...secrets: SourceSecret[]): SourceReader {
  return { namespace: NS, get: (name) => secrets.find((s) => s.name === name) };
}

function awsSecret(data: Record<string, string>, name = 'aws-puller'): SourceSecret {
  return { name, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) };
}

const KEYS = { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY };

function tokenOutput(registryIds: string[] = ['123456789012'], region = 'us-east-1', password = PASSWORD): GetAuthorizationTokenCommandOutput {
  return {
    $metadata: { httpStatusCode: 200 },
    authorizationData: registryIds.map((id) => ({
      authorizationToken: b64(`AWS:${password}`),
      expiresAt: EXPIRES,
      proxyEndpoint: `https://${id}.dkr.ecr.${region}.amazonaws.com`,
    })),
  };
}

interface Harness {
  deps: EcrProviderDeps;
  ecrConfigs: AwsClientConfig[];
  stsConfigs: AwsClientConfig[];
  ecrCalls: GetAuthorizationTokenCommand['input'][];
  stsCalls: AssumeRoleCommand['input'][];
  chainCalls: string[];
  destroyed: string[];
}

function harness(options: {
  ecr?: (input: GetAuthorizationTokenCommand['input'], opts?: SendOptions) => Promise<GetAuthorizationTokenCommandOutput>;
  sts?: (input: AssumeRoleCommand['input']) => Promise<AssumeRoleCommandOutput>;
  chain?: () => Promise<AwsCredentials>;
  env?: NodeJS.ProcessEnv;
} = {}): Harness {
  const h: Harness = { deps: undefined as unknown as EcrProviderDeps, ecrConfigs: [], stsConfigs: [], ecrCalls: [], stsCalls: [], chainCalls: [], destroyed: [] };
  h.deps = {
    ecrClient: (config) => {
      h.ecrConfigs.push(config);
      return {
        send: (command, opts) => {
          h.ecrCalls.push(command.input);
          return options.ecr ? options.ecr(command.input, opts) : Promise.resolve(tokenOutput(command.input.registryIds ?? undefined));
        },
        destroy: () => h.destroyed.push('ecr'),
      };
    },
    stsClient: (config) => {
      h.stsConfigs.push(config);
      return {
        send: (command) => {
          h.stsCalls.push(command.input);
          if (options.sts) return options.sts(command.input);
          return Promise.resolve({
            $metadata: {},
            Credentials: { AccessKeyId: 'ASIAROLEEXAMPLE00001', SecretAccessKey: ROLE_SECRET, SessionToken: ROLE_SESSION, Expiration: EXPIRES },
          });
        },
        destroy: () => h.destroyed.push('sts'),
      };
    },
    defaultCredentials: ({ region }) => {
      h.chainCalls.push(region);
      return options.chain ? options.chain() : Promise.resolve({ accessKeyId: 'ASIACHAINEXAMPLE0001', secretAccessKey: CHAIN_SECRET, sessionToken: SESSION });
    },
    env: options.env ?? {},
    timeoutMs: 2_000,
  };
  return h;
}

function ecrSpec(ecr: Partial<NonNullable<RegistryCredentialSpec['ecr']>> = {}): RegistryCredentialSpec {
  return { ecr: { region: 'us-east-1', credentialsSecretRef: { name: 'aws-puller' }, ...ecr } };
}

const never = new AbortController().signal;

async function mintError(h: Harness, spec: RegistryCredentialSpec, sources: SourceReader = reader(awsSecret(KEYS))): Promise<ProviderError> {
  try {
    await createEcrProvider(h.deps).mint(spec, sources, never);
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    const e = err as ProviderError;
    for (const secret of ALL_SECRETS) expect(e.message).not.toContain(secret);
    return e;
  }
  throw new Error('mint did not throw');
}

function awsError(name: string, message: string, status: number, fault: 'client' | 'server' = 'client'): Error {
  return new ECRServiceException({ name, message, $fault: fault, $metadata: { httpStatusCode: status } });
}

function stsError(name: string, message: string, status: number): Error {
  return new STSServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode: status } });
}

function networkError(code: string): Error {
  // The shape @smithy/node-http-handler rejects with after its retries: a Node system error plus $metadata.
  return Object.assign(new Error(`connect ${code} 127.0.0.1:4566`), { code, errno: -111, syscall: 'connect', $metadata: { attempts: 3 } });
}

describe('ECR provider: minting', () => {
  it('calls GetAuthorizationToken once with the Secret keys and publishes the proxyEndpoint registry as AWS:<password>', async () => {
    const h = harness();
    const minted = await createEcrProvider(h.deps).mint(ecrSpec(), reader(awsSecret(KEYS)), never);
    expect(h.ecrCalls).toEqual([{}]);
    expect(h.ecrConfigs).toHaveLength(1);
    expect(h.ecrConfigs[0]).toMatchObject({ region: 'us-east-1', credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
    expect(h.ecrConfigs[0]!.requestHandler).toEqual({ connectionTimeout: 2_000, requestTimeout: 2_000, throwOnRequestTimeout: true });
    expect(h.stsConfigs).toEqual([]);
    expect(h.chainCalls).toEqual([]);
    expect(h.destroyed).toEqual(['ecr']);
    expect(minted).toEqual({ logins: [{ registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', username: 'AWS', password: PASSWORD }], expiresAt: EXPIRES });
  });

  it('passes a session token from the Secret, and trims the newline a --from-file Secret carries', async () => {
    const h = harness();
    await createEcrProvider(h.deps).mint(
      ecrSpec(),
      reader(awsSecret({ AWS_ACCESS_KEY_ID: `${ACCESS_KEY}\n`, AWS_SECRET_ACCESS_KEY: `${SECRET_KEY}\n`, AWS_SESSION_TOKEN: SESSION })),
      never,
    );
    expect(h.ecrConfigs[0]!.credentials).toEqual({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, sessionToken: SESSION });
  });

  it('asks for registryIds when given and returns one login per id, in sorted order, deduplicated', async () => {
    const h = harness();
    const minted = await createEcrProvider(h.deps).mint(
      ecrSpec({ region: 'eu-west-1', registryIds: ['444455556666', '111122223333', '444455556666'] }),
      reader(awsSecret(KEYS)),
      never,
    );
    expect(h.ecrCalls).toEqual([{ registryIds: ['444455556666', '111122223333'] }]);
    expect(minted.logins).toEqual([
      { registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', username: 'AWS', password: PASSWORD },
      { registry: '444455556666.dkr.ecr.eu-west-1.amazonaws.com', username: 'AWS', password: PASSWORD },
    ]);
  });

  it('names registries in the partition of the region', () => {
    expect(registryHost('123456789012', 'cn-north-1')).toBe('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn');
    expect(registryHost('123456789012', 'us-gov-west-1')).toBe('123456789012.dkr.ecr.us-gov-west-1.amazonaws.com');
  });

  it('assumes roleArn first with the Secret keys, named regcred-<credential>, and calls ECR as the role', async () => {
    const h = harness();
    const provider = createEcrProvider(h.deps);
    await provider.mint(ecrSpec({ roleArn: ROLE }), reader(awsSecret(KEYS)), never, { credentialName: 'ecr-prod' });
    expect(h.stsConfigs).toHaveLength(1);
    expect(h.stsConfigs[0]).toMatchObject({ region: 'us-east-1', credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
    expect(h.stsCalls).toEqual([{ RoleArn: ROLE, RoleSessionName: 'regcred-ecr-prod', DurationSeconds: 900 }]);
    expect(h.ecrConfigs[0]!.credentials).toEqual({ accessKeyId: 'ASIAROLEEXAMPLE00001', secretAccessKey: ROLE_SECRET, sessionToken: ROLE_SESSION });
    expect(h.ecrCalls).toHaveLength(1);
    expect(h.destroyed.sort()).toEqual(['ecr', 'sts']);
    // Without a name (the Provider interface passes none today) the session still has a valid name.
    await provider.mint(ecrSpec({ roleArn: ROLE }), reader(awsSecret(KEYS)), never);
    expect(h.stsCalls[1]!.RoleSessionName).toBe('regcred-operator');
  });

  it('keeps session names within what STS accepts', () => {
    expect(sessionName('a'.repeat(100))).toHaveLength(64);
    expect(sessionName('weird name/with:chars')).toBe('regcred-weird-name-with-chars');
  });

  it("uses the operator's own credential chain without credentialsSecretRef, also as the source for roleArn", async () => {
    const h = harness();
    const provider = createEcrProvider(h.deps);
    await provider.mint({ ecr: { region: 'ap-south-1' } }, reader(), never);
    expect(h.chainCalls).toEqual(['ap-south-1']);
    expect(h.ecrConfigs[0]!.credentials).toMatchObject({ accessKeyId: 'ASIACHAINEXAMPLE0001', secretAccessKey: CHAIN_SECRET, sessionToken: SESSION });

    await provider.mint({ ecr: { region: 'ap-south-1', roleArn: ROLE } }, reader(), never);
    expect(h.stsConfigs[0]!.credentials).toMatchObject({ accessKeyId: 'ASIACHAINEXAMPLE0001' });
    expect(h.ecrConfigs[1]!.credentials).toMatchObject({ accessKeyId: 'ASIAROLEEXAMPLE00001' });
  });

  it('uses the first token for every registry and the earliest expiry', () => {
    const minted = parseAuthorization(
      {
        authorizationData: [
          { authorizationToken: b64('AWS:first'), expiresAt: new Date('2026-11-22T13:00:00Z'), proxyEndpoint: 'https://111122223333.dkr.ecr.us-east-1.amazonaws.com' },
          { authorizationToken: b64('AWS:second'), expiresAt: new Date('2026-11-22T12:00:00Z'), proxyEndpoint: 'https://444455556666.dkr.ecr.us-east-1.amazonaws.com' },
        ],
      },
      { region: 'us-east-1', registryIds: [], now: 0 },
    );
    expect(minted).toEqual({
      logins: [
        { registry: '111122223333.dkr.ecr.us-east-1.amazonaws.com', username: 'AWS', password: 'first' },
        { registry: '444455556666.dkr.ecr.us-east-1.amazonaws.com', username: 'AWS', password: 'first' },
      ],
      expiresAt: new Date('2026-11-22T12:00:00Z'),
    });
  });

  it('keeps the port of a proxyEndpoint and assumes 12 h when the response has no expiry', () => {
    const minted = parseAuthorization(
      { authorizationData: [{ authorizationToken: b64('AWS:pw'), proxyEndpoint: 'https://ecr.example.test:5443' }] },
      { region: 'us-east-1', registryIds: [], now: Date.parse('2026-11-22T00:00:00Z') },
    );
    expect(minted).toEqual({ logins: [{ registry: 'ecr.example.test:5443', username: 'AWS', password: 'pw' }], expiresAt: new Date('2026-11-22T12:00:00Z') });
  });

  it.each([
    { what: 'no authorizationData', output: { authorizationData: [] }, reason: 'EmptyCredential' },
    { what: 'no token', output: { authorizationData: [{ proxyEndpoint: 'https://1.dkr.ecr.us-east-1.amazonaws.com' }] }, reason: 'EmptyCredential' },
    { what: 'a token without a colon', output: { authorizationData: [{ authorizationToken: b64(PASSWORD) }] }, reason: 'InvalidProviderResponse' },
    { what: 'an empty password', output: { authorizationData: [{ authorizationToken: b64('AWS:') }] }, reason: 'InvalidProviderResponse' },
    { what: 'no proxyEndpoint', output: { authorizationData: [{ authorizationToken: b64(`AWS:${PASSWORD}`) }] }, reason: 'InvalidProviderResponse' },
  ])('fails a response with $what as $reason, retryable, never echoing the token', ({ output, reason }) => {
    let caught: unknown;
    try {
      parseAuthorization(output, { region: 'us-east-1', registryIds: [], now: 0 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProviderError);
    expect(caught).toMatchObject({ reason, retryable: true });
    expect((caught as Error).message).not.toContain(PASSWORD);
  });
});

describe('ECR provider: the credentials Secret', () => {
  it('reports a missing Secret as SourceSecretNotFound, not retryable, without calling AWS', async () => {
    const h = harness();
    const err = await mintError(h, ecrSpec(), reader());
    expect(err).toMatchObject({ reason: 'SourceSecretNotFound', retryable: false });
    expect(err.message).toContain(`Secret ${NS}/aws-puller`);
    expect(err.message).toContain('AWS_ACCESS_KEY_ID');
    expect(h.ecrConfigs).toEqual([]);
  });

  it.each([
    { what: 'missing the secret key', data: { AWS_ACCESS_KEY_ID: ACCESS_KEY }, says: 'it has: AWS_ACCESS_KEY_ID' },
    { what: 'keys in lower case', data: { aws_access_key_id: ACCESS_KEY, aws_secret_access_key: SECRET_KEY }, says: 'it has: aws_access_key_id, aws_secret_access_key' },
    { what: 'an empty access key id', data: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: SECRET_KEY }, says: 'non-empty' },
    { what: 'swapped keys', data: { AWS_ACCESS_KEY_ID: SECRET_KEY, AWS_SECRET_ACCESS_KEY: ACCESS_KEY }, says: 'not swapped' },
    { what: 'whitespace inside the secret key', data: { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: `${SECRET_KEY} x` }, says: 'AWS_SECRET_ACCESS_KEY contains whitespace' },
    { what: 'whitespace inside the session token', data: { ...KEYS, AWS_SESSION_TOKEN: `${SESSION} ${SESSION}` }, says: 'AWS_SESSION_TOKEN contains whitespace' },
  ] as { what: string; data: Record<string, string>; says: string }[])('reports a Secret with $what as InvalidSourceSecret, not retryable, never quoting a value', async ({ data, says }) => {
    const h = harness();
    const err = await mintError(h, ecrSpec(), reader(awsSecret(data)));
    expect(err).toMatchObject({ reason: 'InvalidSourceSecret', retryable: false });
    expect(err.message).toContain(says);
    expect(err.message).not.toContain(ACCESS_KEY);
    expect(h.ecrConfigs).toEqual([]);
  });
});

describe('ECR provider: error classification', () => {
  const denied = 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:GetAuthorizationToken on resource: *';
  it.each([
    { what: 'ECR AccessDeniedException', ecr: awsError('AccessDeniedException', denied, 400), reason: 'AccessDenied', retryable: true, says: ['ecr:GetAuthorizationToken', 'user/ci', `Secret ${NS}/aws-puller`] },
    { what: 'an unknown 403', ecr: awsError('Forbidden', 'nope', 403), reason: 'AccessDenied', retryable: true, says: ['ecr:GetAuthorizationToken'] },
    { what: 'UnrecognizedClientException', ecr: awsError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400), reason: 'InvalidCredentials', retryable: true, says: ['AWS_ACCESS_KEY_ID', `Secret ${NS}/aws-puller`] },
    {
      what: 'InvalidSignatureException echoing the canonical request',
      ecr: awsError(
        'InvalidSignatureException',
        `The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. The Canonical String for this request should have been 'POST / x-amz-security-token:${SESSION}' The String-to-Sign should have been '${SECRET_KEY}'`,
        403,
      ),
      reason: 'InvalidCredentials',
      retryable: true,
      says: ['signature we calculated', 'AWS_SECRET_ACCESS_KEY'],
    },
    { what: 'ExpiredTokenException', ecr: awsError('ExpiredTokenException', 'The security token included in the request is expired', 400), reason: 'InvalidCredentials', retryable: true, says: ['expired', 'replace the temporary credentials'] },
    {
      what: 'ThrottlingException',
      ecr: awsError('ThrottlingException', 'Rate exceeded', 400),
      reason: 'Throttled',
      retryable: true,
      says: ['ECR GetAuthorizationToken was throttled by ECR at https://api.ecr.us-east-1.amazonaws.com (ThrottlingException); will retry with backoff'],
    },
    { what: 'an HTTP 429', ecr: awsError('SomethingNew', 'slow down', 429), reason: 'Throttled', retryable: true, says: ['throttled', '(SomethingNew)'] },
    {
      what: 'a refused connection',
      ecr: networkError('ECONNREFUSED'),
      reason: 'ProviderUnreachable',
      retryable: true,
      says: ['ECR GetAuthorizationToken failed: cannot reach ECR at https://api.ecr.us-east-1.amazonaws.com (ECONNREFUSED); will retry'],
    },
    { what: 'an unknown host', ecr: networkError('ENOTFOUND'), reason: 'ProviderUnreachable', retryable: true, says: ['ENOTFOUND'] },
    { what: 'a request timeout', ecr: Object.assign(new Error('a request has exceeded the configured 2000 ms requestTimeout.'), { name: 'TimeoutError', code: 'ETIMEDOUT' }), reason: 'ProviderUnreachable', retryable: true, says: ['no answer within 2000 ms'] },
    { what: 'InvalidParameterException', ecr: new InvalidParameterException({ message: 'Invalid registry id', $metadata: { httpStatusCode: 400 } }), reason: 'InvalidParameter', retryable: false, says: ['Invalid registry id', 'registryIds'] },
    {
      what: 'ServerException',
      ecr: new ServerException({ message: 'internal', $metadata: { httpStatusCode: 500 } }),
      reason: 'ProviderError',
      retryable: true,
      says: ['ECR GetAuthorizationToken failed: ECR at https://api.ecr.us-east-1.amazonaws.com answered 500, a server error (ServerException); will retry'],
    },
    { what: 'a server fault without a status', ecr: awsError('ServiceUnavailableException', 'later', 0, 'server'), reason: 'ProviderError', retryable: true, says: ['returned a server error (ServiceUnavailableException)'] },
    { what: 'a response that is not JSON', ecr: Object.assign(new SyntaxError('Unexpected token < in JSON'), { $metadata: { httpStatusCode: 502 } }), reason: 'ProviderError', retryable: true, says: ['answered 502, a server error (SyntaxError)'] },
    { what: 'anything else', ecr: new Error('boom'), reason: 'ProviderError', retryable: true, says: ['boom'] },
  ])('ECR: $what → $reason', async ({ ecr, reason, retryable, says }) => {
    const h = harness({ ecr: () => Promise.reject(ecr) });
    const err = await mintError(h, ecrSpec());
    expect(err).toMatchObject({ reason, retryable });
    for (const text of says) expect(err.message).toContain(text);
    expect(h.destroyed).toEqual(['ecr']);
  });

  it.each([
    { what: 'AccessDenied', sts: stsError('AccessDenied', `User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: ${ROLE}`, 403), reason: 'AccessDenied', says: ['trust policy', ROLE] },
    { what: 'InvalidClientTokenId', sts: stsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403), reason: 'InvalidCredentials', says: ['AWS_ACCESS_KEY_ID', `Secret ${NS}/aws-puller`] },
    { what: 'ExpiredTokenException', sts: new ExpiredTokenException({ message: 'expired', $metadata: { httpStatusCode: 400 } }), reason: 'InvalidCredentials', says: ['expired'] },
    { what: 'Throttling', sts: stsError('Throttling', 'Rate exceeded', 400), reason: 'Throttled', says: ['STS AssumeRole'] },
    { what: 'a refused connection', sts: networkError('ECONNREFUSED'), reason: 'ProviderUnreachable', says: ['STS at https://sts.us-east-1.amazonaws.com'] },
  ])('STS AssumeRole: $what → $reason, and ECR is never called', async ({ sts, reason, says }) => {
    const h = harness({ sts: () => Promise.reject(sts) });
    const err = await mintError(h, ecrSpec({ roleArn: ROLE }));
    expect(err).toMatchObject({ reason, retryable: true });
    for (const text of says) expect(err.message).toContain(text);
    expect(h.ecrConfigs).toEqual([]);
    expect(h.destroyed).toEqual(['sts']);
  });

  it('names the endpoint override in unreachable messages', async () => {
    const h = harness({ ecr: () => Promise.reject(networkError('ECONNREFUSED')), env: { AWS_ENDPOINT_URL_ECR: 'http://127.0.0.1:5000' } });
    const err = await mintError(h, ecrSpec());
    expect(err.message).toContain('ECR at http://127.0.0.1:5000');
  });

  it("says the operator's own chain found nothing as CredentialsUnavailable, retryable", async () => {
    const chainError = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError', tryNextLink: false });
    const h = harness({ chain: () => Promise.reject(chainError) });
    const err = await mintError(h, { ecr: { region: 'us-east-1' } }, reader());
    expect(err).toMatchObject({ reason: 'CredentialsUnavailable', retryable: true });
    expect(err.message).toContain('credentialsSecretRef');
    expect(h.ecrConfigs).toEqual([]);
  });

  it('reports an unreadable web identity token file as CredentialsUnavailable, naming the file', async () => {
    const path = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
    const enoent = Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT', errno: -2, syscall: 'open', path });
    const env = { AWS_WEB_IDENTITY_TOKEN_FILE: path, AWS_ROLE_ARN: ROLE };
    const err = await mintError(harness({ env, chain: () => Promise.reject(enoent) }), { ecr: { region: 'us-east-1' } }, reader());
    expect(err).toMatchObject({ reason: 'CredentialsUnavailable', retryable: true });
    expect(err.message).toContain(path);
    expect(err.message).toContain('projected token volume');
  });

  it("describes IRSA failures with the role from the operator's environment", async () => {
    const env = { AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token', AWS_ROLE_ARN: ROLE };
    const h = harness({ env, chain: () => Promise.reject(stsError('InvalidIdentityToken', 'No OpenIDConnect provider found in your account', 400)) });
    const err = await mintError(h, { ecr: { region: 'us-east-1' } }, reader());
    expect(err).toMatchObject({ reason: 'InvalidCredentials', retryable: true });
    expect(err.message).toContain(`IRSA web identity for role ${ROLE}`);
    expect(err.message).toContain('OIDC provider');
    expect(describeChain({ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials' })).toContain('Pod Identity');
  });

  it('gives up when the signal fires, as ProviderUnreachable, even on a step that takes no signal', async () => {
    const controller = new AbortController();
    const h = harness({
      ecr: (_input, opts) =>
        new Promise((_resolve, reject) => {
          opts?.abortSignal?.addEventListener('abort', () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })));
        }),
    });
    const pending = createEcrProvider(h.deps).mint(ecrSpec(), reader(awsSecret(KEYS)), controller.signal);
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toMatchObject({
      reason: 'ProviderUnreachable',
      retryable: true,
      message: 'ECR GetAuthorizationToken failed: cannot reach ECR at https://api.ecr.us-east-1.amazonaws.com (no answer within the time allowed); will retry',
    });

    const stuck = new AbortController();
    const chained = harness({ chain: () => new Promise<AwsCredentials>(() => undefined) });
    const waiting = createEcrProvider(chained.deps).mint({ ecr: { region: 'us-east-1' } }, reader(), stuck.signal);
    setTimeout(() => stuck.abort(), 10);
    // Without IRSA the chain reads files or a local endpoint, not STS: the message does not send the user to STS.
    await expect(waiting).rejects.toMatchObject({
      reason: 'ProviderUnreachable',
      retryable: true,
      message:
        "resolving the operator's own AWS credentials (default chain: shared config files or the instance profile) failed: cannot reach the credential source (no answer within the time allowed); will retry",
    });
  });

  it('never puts a secret value into a message, whatever AWS says', async () => {
    const echoes = `bad key ${SECRET_KEY} token ${SESSION} role ${ROLE_SECRET} ${ROLE_SESSION}`;
    for (const make of [
      (m: string) => awsError('AccessDeniedException', m, 400),
      (m: string) => awsError('UnrecognizedClientException', m, 400),
      (m: string) => awsError('Weird', m, 400),
      (m: string) => awsError('InvalidParameterException', m, 400),
    ]) {
      const h = harness({ ecr: () => Promise.reject(make(echoes)) });
      const err = await mintError(h, ecrSpec({ roleArn: ROLE }), reader(awsSecret({ ...KEYS, AWS_SESSION_TOKEN: SESSION })));
      expect(err.message).toContain('[redacted]');
    }
  });

  it('scrubs signing diagnostics, secrets and long opaque strings from quoted AWS messages', () => {
    expect(scrubMessage(`Denied. The Canonical String for this request should have been 'x-amz-security-token:${SESSION}'`, [])).toBe('Denied.');
    expect(scrubMessage(`key ${SECRET_KEY} here`, [SECRET_KEY])).toBe('key [redacted] here');
    expect(scrubMessage(`token ${'A'.repeat(80)}`, [])).toBe('token [redacted]');
    expect(scrubMessage('x'.repeat(400), []).length).toBeLessThanOrEqual(301);
  });
});
