import { DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE } from '../api/constants.js';
import type { RegistryCredentialSpec } from '../api/types.js';
import { checkLogins, parseDockerConfigJson } from '../desired/dockerconfig.js';
import { decode, keysPresent } from './source-secret.js';
import { ProviderError, type Provider, type ProviderCredential, type SourceReader } from './types.js';

/**
 * Fixed credentials from a Secret in the operator's namespace. Nothing to call: "minting" is reading
 * the source, which is what readStaticCredential does; this wrapper only fits it to the Provider
 * interface, turning a thrown ProviderError into a rejection as the other providers do.
 */
export const staticProvider: Provider = {
  name: 'static',
  mint(spec: RegistryCredentialSpec, sources: SourceReader): Promise<ProviderCredential> {
    return new Promise((resolve) => resolve(readStaticCredential(spec, sources)));
  },
};

/**
 * The logins a static source holds: keys `username` + `password` (for spec.static.registry), or a
 * kubernetes.io/dockerconfigjson document (every registry in it). The document is not published as
 * it is: its logins are, rebuilt like every other provider's, so fields the kubelet does not read
 * (email, identitytoken, credsStore) are dropped and an unchanged login is byte-for-byte unchanged.
 *
 * Messages name the Secret, its keys and registries, never a value: they end up in status and events.
 */
export function readStaticCredential(spec: RegistryCredentialSpec, sources: SourceReader): ProviderCredential {
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
    const parsed = parseDockerConfigJson(decode(data[DOCKERCONFIGJSON_KEY]) ?? '');
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
    // A document the kubelet reads can still be one the builder refuses (a ":" in a plain username field,
    // which the rebuilt `auth` would shift into the password): say so against the Secret, not at publish time.
    const problem = checkLogins(parsed.value.logins);
    if (problem !== undefined) {
      throw new ProviderError('InvalidSourceSecret', `${ref}: key ${DOCKERCONFIGJSON_KEY} cannot be published: ${problem}`, false);
    }
    return { logins: parsed.value.logins };
  }
  const username = decode(data.username);
  const password = decode(data.password);
  if (!username || !password) {
    throw new ProviderError(
      'InvalidSourceSecret',
      `${ref} must have non-empty keys "username" and "password" (it has: ${keysPresent(data)}), or be of type ${DOCKERCONFIGJSON_TYPE}`,
      false,
    );
  }
  if (!source.registry) {
    throw new ProviderError('InvalidSpec', `spec.static.registry is required when ${ref} holds username and password`, false);
  }
  const logins = [{ registry: source.registry, username, password }];
  const problem = checkLogins(logins);
  if (problem !== undefined) throw new ProviderError('InvalidSourceSecret', `${ref}: ${problem}`, false);
  return { logins };
}
