import { describe, expect, it } from '@jest/globals';
import { lazyProvider } from '../../src/providers/lazy.js';
import { ProviderError, type Provider, type SourceReader } from '../../src/providers/types.js';

const sources: SourceReader = { namespace: 'regcred-system', get: () => undefined };
const spec = { ecr: { region: 'us-east-1' } };

function loaded(): Provider {
  let calls = 0;
  return {
    name: 'ecr',
    mint: () => Promise.resolve({ logins: [{ registry: 'r', username: 'AWS', password: `t${++calls}` }] }),
  };
}

describe('lazyProvider: the SDK is loaded on the first call, once', () => {
  it('loads nothing until a credential calls it, then loads once for every call', async () => {
    let loads = 0;
    const provider = lazyProvider('ecr', () => {
      loads++;
      return Promise.resolve(loaded());
    });
    expect(loads).toBe(0);
    expect(provider.loaded).toBe(false);
    const [a, b] = await Promise.all([provider.mint(spec, sources, new AbortController().signal), provider.mint(spec, sources, new AbortController().signal)]);
    expect(loads).toBe(1);
    expect(provider.loaded).toBe(true);
    expect([a.logins[0]!.password, b.logins[0]!.password].sort()).toEqual(['t1', 't2']);
    await provider.mint(spec, sources, new AbortController().signal);
    expect(loads).toBe(1);
  });

  it('a load that fails is that call\'s retryable failure, and the next call loads again', async () => {
    let loads = 0;
    const provider = lazyProvider('gcr', () => (++loads === 1 ? Promise.reject(new Error('Cannot find package')) : Promise.resolve(loaded())));
    const failure = await provider.mint(spec, sources, new AbortController().signal).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ProviderError);
    expect(failure).toMatchObject({ reason: 'ProviderUnavailable', retryable: true, message: 'the gcr provider could not be loaded (Cannot find package)' });
    expect(provider.loaded).toBe(false);
    await expect(provider.mint(spec, sources, new AbortController().signal)).resolves.toMatchObject({ logins: [{ password: 't1' }] });
    expect(loads).toBe(2);
  });
});
