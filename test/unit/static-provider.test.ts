import { describe, expect, it } from '@jest/globals';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { buildDockerConfigJson, registriesOf } from '../../src/desired/dockerconfig.js';
import { readStaticCredential, staticProvider } from '../../src/providers/static.js';
import { ProviderError, type SourceReader, type SourceSecret } from '../../src/providers/types.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const NS = 'regcred-system';
const USER = 'octocat';
const PASSWORD = 'ghp_S3cr3tP4ssw0rd-never-log-me';
const DOCKERCONFIG_TYPE = 'kubernetes.io/dockerconfigjson';

function reader(...secrets: SourceSecret[]): SourceReader {
  return { namespace: NS, get: (name) => secrets.find((s) => s.name === name) };
}

function spec(registry: string | undefined, name = 'ghcr-token'): RegistryCredentialSpec {
  return { static: { ...(registry === undefined ? {} : { registry }), credentialsSecretRef: { name } } };
}

function userPass(data: Record<string, string>, name = 'ghcr-token'): SourceSecret {
  return { name, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) };
}

function dockerConfig(text: string, type: string | undefined = DOCKERCONFIG_TYPE, name = 'ghcr-token'): SourceSecret {
  return { name, ...(type === undefined ? {} : { type }), data: { '.dockerconfigjson': b64(text) } };
}

function mintError(s: RegistryCredentialSpec, sources: SourceReader): ProviderError {
  try {
    readStaticCredential(s, sources);
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('readStaticCredential did not throw');
}

describe('readStaticCredential: username and password', () => {
  it.each([
    { name: 'GHCR', registry: 'ghcr.io', username: USER, password: PASSWORD },
    { name: 'Docker Hub', registry: 'https://index.docker.io/v1/', username: 'me', password: 'p' },
    { name: 'a password with a colon and unicode', registry: 'harbor.example.com:8443', username: 'robot$ci', password: 'pa:ss wörd=' },
  ])('$name', ({ registry, username, password }) => {
    const credential = readStaticCredential(spec(registry), reader(userPass({ username, password })));
    expect(credential).toEqual({ logins: [{ registry, username, password }] });
    expect(credential.expiresAt).toBeUndefined();
    expect(JSON.parse(buildDockerConfigJson(credential.logins))).toEqual({
      auths: { [registry]: { username, password, auth: b64(`${username}:${password}`) } },
    });
  });

  it('ignores extra keys', () => {
    const credential = readStaticCredential(spec('ghcr.io'), reader(userPass({ username: USER, password: PASSWORD, email: 'a@b.c' })));
    expect(credential).toEqual({ logins: [{ registry: 'ghcr.io', username: USER, password: PASSWORD }] });
  });

  it('reads the Secret named by credentialsSecretRef', () => {
    const sources = reader(userPass({ username: 'wrong', password: 'wrong' }, 'other'), userPass({ username: USER, password: PASSWORD }, 'mine'));
    expect(readStaticCredential(spec('ghcr.io', 'mine'), sources).logins).toEqual([{ registry: 'ghcr.io', username: USER, password: PASSWORD }]);
  });

  it('the provider object resolves to the same result, and rejects (not throws) on a bad source', async () => {
    const sources = reader(userPass({ username: USER, password: PASSWORD }));
    expect(staticProvider.name).toBe('static');
    await expect(staticProvider.mint(spec('ghcr.io'), sources, new AbortController().signal)).resolves.toEqual(readStaticCredential(spec('ghcr.io'), sources));
    const pending = staticProvider.mint(spec('ghcr.io', 'missing'), sources, new AbortController().signal);
    await expect(pending).rejects.toMatchObject({ reason: 'SourceSecretNotFound', retryable: false });
  });
});

describe('readStaticCredential: dockerconfigjson Secret', () => {
  // Unusual whitespace, key order and an extra field: the logins count, not the text.
  const TEXT = `{ "auths": {\n  "quay.io": {"auth": "${b64(`${USER}:${PASSWORD}`)}", "email": "ci@example.com"},\n  "ghcr.io": {"password": "${PASSWORD}", "username": "${USER}"}\n} }\n`;
  const LOGINS = [
    { registry: 'ghcr.io', username: USER, password: PASSWORD },
    { registry: 'quay.io', username: USER, password: PASSWORD },
  ];

  it.each([
    { name: 'typed, without spec.static.registry', type: DOCKERCONFIG_TYPE, registry: undefined },
    { name: 'typed, with a registry it contains', type: DOCKERCONFIG_TYPE, registry: 'quay.io' },
    { name: 'an Opaque Secret with the .dockerconfigjson key', type: 'Opaque', registry: undefined },
    { name: 'a Secret without a type but with the key', type: undefined, registry: 'ghcr.io' },
  ])('yields every login in it, sorted: $name', ({ type, registry }) => {
    const credential = readStaticCredential(spec(registry), reader(dockerConfig(TEXT, type)));
    expect(credential).toEqual({ logins: LOGINS });
    expect(registriesOf(credential)).toEqual(['ghcr.io', 'quay.io']);
    expect(credential.expiresAt).toBeUndefined();
  });

  it('is rebuilt canonically: fields the kubelet does not read (email) are dropped, auth is written', () => {
    const credential = readStaticCredential(spec(undefined), reader(dockerConfig(TEXT)));
    const entry = { username: USER, password: PASSWORD, auth: b64(`${USER}:${PASSWORD}`) };
    expect(buildDockerConfigJson(credential.logins)).toBe(JSON.stringify({ auths: { 'ghcr.io': entry, 'quay.io': entry } }));
  });

  it('takes the login from auth when auth and username/password disagree, as the kubelet does', () => {
    const text = JSON.stringify({ auths: { 'ghcr.io': { username: 'stale', password: 'stale-pw', auth: b64(`${USER}:${PASSWORD}`) } } });
    expect(readStaticCredential(spec(undefined), reader(dockerConfig(text))).logins).toEqual([{ registry: 'ghcr.io', username: USER, password: PASSWORD }]);
  });

  it('wins over username/password keys in the same Secret', () => {
    const secret: SourceSecret = { name: 'ghcr-token', type: DOCKERCONFIG_TYPE, data: { '.dockerconfigjson': b64(TEXT), username: b64('x'), password: b64('y') } };
    expect(readStaticCredential(spec(undefined), reader(secret))).toEqual({ logins: LOGINS });
  });
});

describe('readStaticCredential: errors', () => {
  it('spec.static missing', () => {
    const err = mintError({ ecr: { region: 'us-east-1' } }, reader());
    expect(err.reason).toBe('InvalidProvider');
    expect(err.retryable).toBe(false);
  });

  it('source Secret not found: names it and says what to create', () => {
    const err = mintError(spec('ghcr.io', 'ghcr-token'), reader(userPass({ username: USER, password: PASSWORD }, 'other')));
    expect(err.reason).toBe('SourceSecretNotFound');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`${NS}/ghcr-token`);
    expect(err.message).toContain('spec.static.credentialsSecretRef');
    expect(err.message).toContain(`create it in ${NS}`);
    expect(err.message).toContain('"username" and "password"');
    expect(err.message).toContain(DOCKERCONFIG_TYPE);
  });

  it.each<{ name: string; data: Record<string, string>; present: string }>([
    { name: 'no keys at all', data: {}, present: 'none' },
    { name: 'password missing', data: { username: USER, token: PASSWORD }, present: 'token, username' },
    { name: 'username missing', data: { password: PASSWORD }, present: 'password' },
    { name: 'empty password', data: { username: USER, password: '' }, present: 'password, username' },
    { name: 'empty username', data: { username: '', password: PASSWORD }, present: 'password, username' },
    { name: 'differently cased keys', data: { Username: USER, Password: PASSWORD }, present: 'Password, Username' },
  ])('missing keys: $name', ({ data, present }) => {
    const err = mintError(spec('ghcr.io'), reader(userPass(data)));
    expect(err.reason).toBe('InvalidSourceSecret');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`Secret ${NS}/ghcr-token`);
    expect(err.message).toContain(`(it has: ${present})`);
    expect(err.message).toContain('"username" and "password"');
    for (const value of Object.values(data).filter((v) => v !== '')) {
      expect(err.message).not.toContain(value);
      expect(err.message).not.toContain(b64(value));
    }
  });

  it('registry mismatch with a dockerconfigjson', () => {
    const text = JSON.stringify({ auths: { 'quay.io': { username: USER, password: PASSWORD }, 'ghcr.io': { username: USER, password: PASSWORD } } });
    const err = mintError(spec('docker.io'), reader(dockerConfig(text)));
    expect(err.reason).toBe('InvalidSourceSecret');
    expect(err.message).toContain('spec.static.registry "docker.io"');
    expect(err.message).toContain('(it has: ghcr.io, quay.io)');
    expect(err.message).toContain(`Secret ${NS}/ghcr-token`);
  });

  it('spec.static.registry missing with username/password', () => {
    const err = mintError(spec(undefined), reader(userPass({ username: USER, password: PASSWORD })));
    expect(err.reason).toBe('InvalidSpec');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('spec.static.registry is required');
    expect(err.message).toContain(`Secret ${NS}/ghcr-token`);
  });

  it.each([
    { name: 'not JSON', text: `{"auths":{"ghcr.io":{"password":"${PASSWORD}"` },
    { name: 'the password as the whole document', text: PASSWORD },
    { name: 'legacy .dockercfg layout', text: JSON.stringify({ 'ghcr.io': { username: USER, password: PASSWORD } }) },
    { name: 'empty auths', text: '{"auths":{}}' },
    { name: 'auth that is not base64', text: JSON.stringify({ auths: { 'ghcr.io': { auth: PASSWORD } } }) },
    { name: 'auth without a colon', text: JSON.stringify({ auths: { 'ghcr.io': { auth: b64(PASSWORD) } } }) },
    { name: 'password without username', text: JSON.stringify({ auths: { 'ghcr.io': { password: PASSWORD } } }) },
    { name: 'an empty key', text: '' },
  ])('invalid dockerconfigjson: $name', ({ text }) => {
    const err = mintError(spec(undefined), reader(dockerConfig(text)));
    expect(err.reason).toBe('InvalidSourceSecret');
    expect(err.message).toContain(`Secret ${NS}/ghcr-token`);
    expect(err.message).toContain('.dockerconfigjson');
  });

  it('a typed Secret without the .dockerconfigjson key is reported, not published', () => {
    const err = mintError(spec(undefined), reader({ name: 'ghcr-token', type: DOCKERCONFIG_TYPE, data: {} }));
    expect(err.reason).toBe('InvalidSourceSecret');
  });

  it('a username with a colon is refused', () => {
    const err = mintError(spec('ghcr.io'), reader(userPass({ username: 'a:b', password: PASSWORD })));
    expect(err.reason).toBe('InvalidSourceSecret');
    expect(err.retryable).toBe(false);
    expect(err.message).toBe(`Secret ${NS}/ghcr-token: cannot build a dockerconfigjson: the username contains ":" (registry "ghcr.io")`);
  });

  it('a dockerconfigjson whose username field has a colon is refused: the rebuilt auth would misplace it', () => {
    const err = mintError(spec(undefined), reader(dockerConfig(JSON.stringify({ auths: { 'ghcr.io': { username: 'a:b', password: PASSWORD } } }))));
    expect(err.reason).toBe('InvalidSourceSecret');
    expect(err.retryable).toBe(false);
    expect(err.message).toBe(
      `Secret ${NS}/ghcr-token: key .dockerconfigjson cannot be published: cannot build a dockerconfigjson: the username contains ":" (registry "ghcr.io")`,
    );
  });
});

describe('readStaticCredential: no error message ever contains the password', () => {
  const forbidden = [PASSWORD, b64(PASSWORD), b64(`${USER}:${PASSWORD}`), PASSWORD.slice(0, 12)];
  const cases: { name: string; spec: RegistryCredentialSpec; secrets: SourceSecret[] }[] = [
    { name: 'Secret not found', spec: spec('ghcr.io', 'missing'), secrets: [userPass({ username: USER, password: PASSWORD })] },
    { name: 'registry missing', spec: spec(undefined), secrets: [userPass({ username: USER, password: PASSWORD })] },
    { name: 'username missing', spec: spec('ghcr.io'), secrets: [userPass({ password: PASSWORD })] },
    { name: 'password under another key', spec: spec('ghcr.io'), secrets: [userPass({ username: USER, pass: PASSWORD })] },
    { name: 'password as a key name is still only a key', spec: spec('ghcr.io'), secrets: [userPass({ user: USER, password: PASSWORD })] },
    { name: 'colon in username', spec: spec('ghcr.io'), secrets: [userPass({ username: `${USER}:x`, password: PASSWORD })] },
    { name: 'colon in a dockerconfigjson username', spec: spec(undefined), secrets: [dockerConfig(JSON.stringify({ auths: { 'ghcr.io': { username: `${USER}:x`, password: PASSWORD } } }))] },
    { name: 'empty registry', spec: spec(''), secrets: [userPass({ username: USER, password: PASSWORD })] },
    {
      name: 'truncated dockerconfigjson',
      spec: spec(undefined),
      secrets: [dockerConfig(`{"auths":{"ghcr.io":{"username":"${USER}","password":"${PASSWORD}"`)],
    },
    { name: 'password as dockerconfigjson', spec: spec(undefined), secrets: [dockerConfig(PASSWORD)] },
    { name: 'quoted password as dockerconfigjson', spec: spec(undefined), secrets: [dockerConfig(JSON.stringify(PASSWORD))] },
    {
      name: 'dockerconfigjson registry mismatch',
      spec: spec('docker.io'),
      secrets: [dockerConfig(JSON.stringify({ auths: { 'ghcr.io': { username: USER, password: PASSWORD, auth: b64(`${USER}:${PASSWORD}`) } } }))],
    },
    { name: 'bad auth field', spec: spec(undefined), secrets: [dockerConfig(JSON.stringify({ auths: { 'ghcr.io': { auth: `${PASSWORD}!` } } }))] },
    { name: 'auth without colon', spec: spec(undefined), secrets: [dockerConfig(JSON.stringify({ auths: { 'ghcr.io': { auth: b64(PASSWORD) } } }))] },
    { name: 'auth as a number', spec: spec(undefined), secrets: [dockerConfig(`{"auths":{"ghcr.io":{"auth":1,"password":"${PASSWORD}"}}}`)] },
    { name: 'entry not an object', spec: spec(undefined), secrets: [dockerConfig(JSON.stringify({ auths: { 'ghcr.io': PASSWORD } }))] },
    { name: 'auths an array', spec: spec(undefined), secrets: [dockerConfig(JSON.stringify({ auths: [PASSWORD] }))] },
  ];

  it.each(cases)('$name', ({ spec: s, secrets }) => {
    const err = mintError(s, reader(...secrets));
    expect(err.message).not.toBe('');
    for (const value of forbidden) {
      expect(err.message).not.toContain(value);
      expect(err.stack ?? '').not.toContain(value);
    }
  });
});
