/**
 * A provider whose SDK is loaded on its first call. The AWS and Google SDKs cost 15–25 MiB of memory
 * each when imported; an operator whose RegistryCredentials are all static (or all ECR) should not pay
 * for the ones it never calls. The load happens once; a load that fails is reported as the call's
 * failure and tried again on the next call.
 */
import type { ProviderName } from '../api/types.js';
import { ProviderError, type Provider } from './types.js';

export function lazyProvider(name: ProviderName, load: () => Promise<Provider>): Provider & { readonly loaded: boolean } {
  let loading: Promise<Provider> | undefined;
  let loaded = false;
  return {
    name,
    get loaded() {
      return loaded;
    },
    async mint(spec, sources, signal, context) {
      loading ??= load().then(
        (provider) => {
          loaded = true;
          return provider;
        },
        (err: unknown) => {
          loading = undefined;
          throw new ProviderError('ProviderUnavailable', `the ${name} provider could not be loaded (${err instanceof Error ? err.message : String(err)})`, true, { cause: err });
        },
      );
      const provider = await loading;
      return provider.mint(spec, sources, signal, context);
    },
  };
}
