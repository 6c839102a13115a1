import { describe, expect, it } from '@jest/globals';
import { Keyring, globMatch, isDefaultRegistryMatch, keyringIndexKey, probeHostOfKey, urlsMatch } from '../../src/registry/keyring.js';
import { parseImageReference, registryApiHost } from '../../src/registry/reference.js';

describe('parseImageReference (distribution/reference, as the kubelet normalises)', () => {
  it.each([
    ['nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['nginx:1.27', 'docker.io', 'library/nginx', '1.27', '1.27'],
    ['acme/api', 'docker.io', 'acme/api', 'latest', undefined],
    ['index.docker.io/acme/api:v1', 'docker.io', 'acme/api', 'v1', 'v1'],
    ['docker.io/nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['ghcr.io/acme/api:1.4.2', 'ghcr.io', 'acme/api', '1.4.2', '1.4.2'],
    ['127.0.0.1:5000/team/app', '127.0.0.1:5000', 'team/app', 'latest', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/app:dev', 'localhost:5000', 'app', 'dev', 'dev'],
    ['[::1]:5000/app', '[::1]:5000', 'app', 'latest', undefined],
    ['us-docker.pkg.dev/p/r/img', 'us-docker.pkg.dev', 'p/r/img', 'latest', undefined],
    ['Registry.Example.com/a_b/c__d/e-f', 'Registry.Example.com', 'a_b/c__d/e-f', 'latest', undefined],
  ])('%s', (image, domain, repository, reference, tag) => {
    const parsed = parseImageReference(image);
    expect(parsed).toEqual({ ok: true, value: expect.objectContaining({ domain, repository, reference, name: `${domain}/${repository}` }) });
    if (parsed.ok) expect(parsed.value.tag).toBe(tag);
  });

  it('takes a digest over a tag for the manifest reference', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const parsed = parseImageReference(`ghcr.io/acme/api:1.4.2@${digest}`);
    expect(parsed.ok && parsed.value).toEqual(expect.objectContaining({ tag: '1.4.2', digest, reference: digest }));
  });

  it.each([
    ['', /empty/],
    ['a'.repeat(64), /bare digest/],
    ['ghcr.io/Acme/api', /lowercase/],
    ['ghcr.io/acme/api:', /invalid tag/],
    ['ghcr.io/acme/api:-x', /invalid tag/],
    ['ghcr.io/acme/api@sha256:xyz', /invalid digest/],
    ['ghcr.io/acme//api', /invalid repository name/],
    ['ghcr.io/acme/api-', /invalid repository name/],
    ['-bad.io/x/y', /invalid registry/],
  ])('refuses %j', (image, message) => {
    const parsed = parseImageReference(image);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });

  it('maps Docker Hub to the host that serves its API', () => {
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('index.docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('ghcr.io')).toBe('ghcr.io');
  });
});

describe('the kubelet keyring rules', () => {
  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['index.docker.io', 'index.docker.io'],
    ['http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['https://quay.io/coreos/', 'quay.io/coreos/'],
    ['quay.io/v2/coreos', 'quay.io/coreos'],
    ['*.gcr.io', '*.gcr.io'],
  ])('indexes %s as %s', (key, indexKey) => {
    expect(keyringIndexKey(key)).toBe(indexKey);
  });

  it.each([
    ['*.kubernetes.io', 'prefix.kubernetes.io/foo', true],
    ['prefix.*.io', 'prefix.kubernetes.io/foo', true],
    ['*-good.kubernetes.io', 'prefix-good.kubernetes.io', true],
    ['*.kubernetes.io', 'kubernetes.io/foo', false],
    ['*.gcr.io', 'eu.gcr.io/p/img', true],
    ['gcr.io', 'eu.gcr.io/p/img', false],
    ['127.0.0.1:5000', '127.0.0.1:5000/team/app', true],
    ['127.0.0.1:5000', '127.0.0.1:5001/team/app', false],
    ['127.0.0.1', '127.0.0.1:5000/team/app', false],
    ['quay.io/coreos', 'quay.io/coreos/etcd', true],
    ['quay.io/coreos', 'quay.io/other/etcd', false],
    ['ghcr.io', 'ghcr.io/acme/api', true],
    ['[::1]:5000', '[::1]:5000/app', true],
  ])('%s matches %s: %s', (glob, target, matches) => {
    expect(urlsMatch(glob, target)).toBe(matches);
  });

  it('globs like filepath.Match', () => {
    expect(globMatch('a?c', 'abc')).toBe(true);
    expect(globMatch('[a-c]x', 'bx')).toBe(true);
    expect(globMatch('[^a-c]x', 'bx')).toBe(false);
    expect(globMatch('a.c', 'abc')).toBe(false);
    expect(globMatch('[a-c', 'a')).toBe(false);
  });

  it('knows which names pull from Docker Hub', () => {
    expect(isDefaultRegistryMatch('docker.io/library/nginx')).toBe(true);
    expect(isDefaultRegistryMatch('nginx')).toBe(true);
    expect(isDefaultRegistryMatch('acme/api')).toBe(true);
    expect(isDefaultRegistryMatch('localhost/api')).toBe(false);
    expect(isDefaultRegistryMatch('ghcr.io/acme/api')).toBe(false);
    expect(isDefaultRegistryMatch('127.0.0.1:5000/api')).toBe(false);
  });

  it('tries the most specific key first, and falls back to index.docker.io for Docker Hub images', () => {
    const ring = new Keyring<string>();
    ring.add('quay.io', 'broad');
    ring.add('https://quay.io/coreos', 'specific');
    ring.add('https://index.docker.io/v1/', 'hub');
    ring.add('ghcr.io', 'first');
    ring.add('https://ghcr.io', 'second');
    expect(ring.lookup('quay.io/coreos/etcd').map((e) => e.value)).toEqual(['specific', 'broad']);
    expect(ring.lookup('quay.io/other/x').map((e) => e.value)).toEqual(['broad']);
    expect(ring.lookup('docker.io/library/nginx').map((e) => e.value)).toEqual(['hub']);
    expect(ring.lookup('ghcr.io/acme/api').map((e) => e.value)).toEqual(['first', 'second']);
    expect(ring.lookup('gcr.io/p/x')).toEqual([]);
  });

  it('names the host to probe for a key, and none for a glob', () => {
    expect(probeHostOfKey('https://index.docker.io/v1/')).toEqual({ host: 'registry-1.docker.io', pathPrefix: '' });
    expect(probeHostOfKey('docker.io')).toEqual({ host: 'registry-1.docker.io', pathPrefix: '' });
    expect(probeHostOfKey('quay.io/coreos/')).toEqual({ host: 'quay.io', pathPrefix: 'coreos' });
    expect(probeHostOfKey('127.0.0.1:5000')).toEqual({ host: '127.0.0.1:5000', pathPrefix: '' });
    expect(probeHostOfKey('*.gcr.io')).toBeUndefined();
  });
});
