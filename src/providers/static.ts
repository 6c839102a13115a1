import { DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE } from '../api/constants.js';
import type { RegistryCredentialSpec } from '../api/types.js';
import { buildDockerConfigJson, parseDockerConfigJson } from '../desired/dockerconfig.js';
import { ProviderError, type MintedCredential, type Provider, type SourceReader } from './types.js';

function decode(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/**
 * Fixed credentials from a Secret in the operator's namespace: either keys
 * `username` + `password`, or a kubernetes.io/dockerconfigjson Secret that is
 * published as it is. Nothing to call: "minting" is reading the source.
 */
export const staticProvider: Provider = {
  name: 'static',
  mint(spec: RegistryCredentialSpec, sources: SourceReader): Promise<MintedCredential> {
    return Promise.resolve(mintStatic(spec, sources));
  },
};

export function mintStatic(spec: RegistryCredentialSpec, sources: SourceReader): MintedCredential {
  const source = spec.static;
  if (!source) throw new ProviderError('InvalidProvider', 'spec.static is not set', false);
  const ref = `Secret ${sources.namespace}/${source.credentialsSecretRef.name}`;
  const secret = sources.get(source.credentialsSecretRef.name);
  if (!secret) {
    throw new ProviderError(
      'SourceSecretNotFound',
      `${ref} (spec.static.credentialsSecretRef) not found; create it in ${sources.namespace} with keys "username" and "password", or as type ${DOCKERCONFIGJSON_TYPE}`,
      false,
    );
  }
  const data = secret.data ?? {};
  if (secret.type === DOCKERCONFIGJSON_TYPE || data[DOCKERCONFIGJSON_KEY] !== undefined) {
    const text = decode(data[DOCKERCONFIGJSON_KEY]) ?? '';
    const parsed = parseDockerConfigJson(text);
    if (!parsed.ok) {
      throw new ProviderError('InvalidSourceSecret', `${ref}: key ${DOCKERCONFIGJSON_KEY} is not a valid dockerconfigjson: ${parsed.message}`, false);
    }
    if (source.registry && !parsed.value.registries.includes(source.registry)) {
      throw new ProviderError(
        'InvalidSourceSecret',
        `${ref} has no auths entry for spec.static.registry "${source.registry}" (it has: ${parsed.value.registries.join(', ')}); fix the registry or the Secret`,
        false,
      );
    }
    return { registries: parsed.value.registries, dockerConfigJson: text };
  }
  const username = decode(data.username);
  const password = decode(data.password);
  if (!username || !password) {
    const present = Object.keys(data).sort().join(', ') || 'none';
    throw new ProviderError(
      'InvalidSourceSecret',
      `${ref} must have non-empty keys "username" and "password" (it has: ${present}), or be of type ${DOCKERCONFIGJSON_TYPE}`,
      false,
    );
  }
  if (!source.registry) {
    throw new ProviderError('InvalidSpec', `spec.static.registry is required when ${ref} holds username and password`, false);
  }
  try {
    return { registries: [source.registry], dockerConfigJson: buildDockerConfigJson([source.registry], username, password) };
  } catch (err) {
    throw new ProviderError('InvalidSourceSecret', `${ref}: ${(err as Error).message}`, false);
  }
}
