import type { ProviderName, RegistryCredentialSpec } from '../api/types.js';

/** One login for one registry (an auths key of the dockerconfigjson). */
export interface RegistryLogin { registry: string; username: string; password: string }
/** What a provider returns: raw material; src/desired/dockerconfig.ts turns it into the document. */
export interface ProviderCredential {
  /** One per registry, sorted by registry, registries unique. */
  logins: RegistryLogin[];
  /** Absent for credentials that do not expire (static). */
  expiresAt?: Date;
}

/** Source Secrets, read only from the operator's own namespace (docs/reference.md). */
export interface SourceSecret {
  name: string;
  type?: string;
  /** base64 values, as the API returns them */
  data: Record<string, string>;
  resourceVersion?: string;
}

export interface SourceReader {
  namespace: string;
  get(name: string): SourceSecret | undefined;
}

/**
 * Why a mint failed, in words a user can act on. `retryable` says whether the same call can succeed
 * with nothing changed (network, throttling, a 5xx) or needs a fix (a missing source Secret, a bad
 * parameter). The reconcile backs off after every failure alike (5 s doubling to 5 min, ADR 4): a fix
 * to the spec or the source Secret brings an event and a new call at once, and a retry every few
 * minutes of a call that cannot succeed yet costs one request.
 */
export class ProviderError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}

/** Which RegistryCredential a mint is for (e.g. the ECR role session is named after it). */
export interface MintContext {
  credentialName: string;
}

export interface Provider {
  readonly name: ProviderName;
  mint(spec: RegistryCredentialSpec, sources: SourceReader, signal: AbortSignal, context?: MintContext): Promise<ProviderCredential>;
}
