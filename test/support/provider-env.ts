import { join } from 'node:path';

/**
 * The environment of an operator under test, for one cloud: it reaches only the local stand-in and uses
 * only the credential source a test gives it, never this machine's own AWS or Google configuration.
 */

/** AWS: ECR and STS at `endpoint` (moto, or a black hole); no profile, file, IRSA, Pod Identity or IMDS. */
export function awsTestEnv(endpoint: string, stateDir: string, region: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_ECR: endpoint,
    AWS_ENDPOINT_URL_STS: endpoint,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: undefined,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_ROLE_ARN: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONFIG_FILE: join(stateDir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(stateDir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

/**
 * Google: OAuth and STS at the token stand-in (test/support/google-token-server.ts) and, when given, its
 * metadata server; Application Default Credentials never come from this machine's gcloud.
 */
export function googleTestEnv(server: { url: string; metadataHost?: string }, stateDir: string): NodeJS.ProcessEnv {
  return {
    REGCRED_GOOGLE_TOKEN_URL: server.url,
    ...(server.metadataHost ? { GCE_METADATA_HOST: server.metadataHost } : {}),
    GOOGLE_APPLICATION_CREDENTIALS: '',
    CLOUDSDK_CONFIG: join(stateDir, 'gcloud'),
    GOOGLE_CLOUD_PROJECT: 'regcred-test',
  };
}
