import { describe, expect, it } from '@jest/globals';
import { buildDockerConfigJson, checkLogins, encodeBasicAuth, parseDockerConfigJson, registriesOf } from '../../src/desired/dockerconfig.js';
import type { RegistryLogin } from '../../src/providers/types.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const SECRET_VALUES = ['s3cr3t-pass', 'hunter2', 'alice'];

const login = (registry: string, username = 'u', password = 'p'): RegistryLogin => ({ registry, username, password });

describe('buildDockerConfigJson', () => {
  it('writes one entry per registry with username, password and base64 auth', () => {
    const text = buildDockerConfigJson([login('ghcr.io', 'alice', 's3cr3t-pass')]);
    expect(text).toBe(
      `{"auths":{"ghcr.io":{"username":"alice","password":"s3cr3t-pass","auth":"${b64('alice:s3cr3t-pass')}"}}}`,
    );
  });

  it('writes the exact bytes the one-login-for-all builder wrote, for the same registries and login', () => {
    // The document of 123456789012 / 444455556666 as published before providers returned logins.
    const auth = b64('AWS:pa:ss=word');
    const expected =
      `{"auths":{"111122223333.dkr.ecr.eu-west-1.amazonaws.com":{"username":"AWS","password":"pa:ss=word","auth":"${auth}"},` +
      `"444455556666.dkr.ecr.eu-west-1.amazonaws.com":{"username":"AWS","password":"pa:ss=word","auth":"${auth}"}}}`;
    const logins = ['444455556666.dkr.ecr.eu-west-1.amazonaws.com', '111122223333.dkr.ecr.eu-west-1.amazonaws.com'].map((r) => login(r, 'AWS', 'pa:ss=word'));
    expect(buildDockerConfigJson(logins)).toBe(expected);
  });

  it('is byte-identical whatever the input order, with sorted keys', () => {
    const a = buildDockerConfigJson([login('b.io'), login('a.io'), login('https://index.docker.io/v1/')]);
    const b = buildDockerConfigJson([login('https://index.docker.io/v1/'), login('a.io'), login('b.io')]);
    expect(a).toBe(b);
    expect(Object.keys((JSON.parse(a) as { auths: object }).auths)).toEqual(['a.io', 'b.io', 'https://index.docker.io/v1/']);
  });

  it('writes each registry its own login', () => {
    const text = buildDockerConfigJson([login('z.io', 'zed', 'pz'), login('a.io', 'ay', 'pa')]);
    expect(JSON.parse(text)).toEqual({
      auths: {
        'a.io': { username: 'ay', password: 'pa', auth: b64('ay:pa') },
        'z.io': { username: 'zed', password: 'pz', auth: b64('zed:pz') },
      },
    });
  });

  it('round-trips through parseDockerConfigJson', () => {
    const logins = [login('123456789012.dkr.ecr.us-east-1.amazonaws.com', 'AWS', 'pa:ss=word')];
    expect(parseDockerConfigJson(buildDockerConfigJson(logins))).toEqual({
      ok: true,
      value: {
        registries: ['123456789012.dkr.ecr.us-east-1.amazonaws.com'],
        auths: { '123456789012.dkr.ecr.us-east-1.amazonaws.com': { username: 'AWS', password: 'pa:ss=word' } },
        logins,
      },
    });
  });

  it.each([
    { name: 'no registry', logins: [], error: 'cannot build a dockerconfigjson without any registry' },
    { name: 'an empty registry', logins: [login('r.io'), login('')], error: 'cannot build a dockerconfigjson with an empty registry name' },
    { name: 'a registry twice', logins: [login('r.io'), login('q.io'), login('r.io', 'other', 'pw')], error: 'cannot build a dockerconfigjson: registry "r.io" has more than one login' },
    { name: 'an empty username', logins: [login('r.io', '', 's3cr3t-pass')], error: 'cannot build a dockerconfigjson with an empty username or password (registry "r.io")' },
    { name: 'an empty password', logins: [login('r.io', 'alice', '')], error: 'cannot build a dockerconfigjson with an empty username or password (registry "r.io")' },
    { name: 'a colon in the username', logins: [login('q.io'), login('r.io', 'alice:x', 'hunter2')], error: 'cannot build a dockerconfigjson: the username contains ":" (registry "r.io")' },
  ])('refuses $name, naming no secret value, and checkLogins says the same', ({ logins, error }) => {
    expect(() => buildDockerConfigJson(logins)).toThrow(new Error(error));
    expect(checkLogins(logins)).toBe(error);
    for (const value of SECRET_VALUES) expect(error).not.toContain(value);
  });

  it('checkLogins accepts what the builder builds', () => {
    expect(checkLogins([login('a.io'), login('b.io', 'AWS', 'p:w')])).toBeUndefined();
  });

  it('encodes basic auth as base64 of user:password', () => {
    expect(encodeBasicAuth('oauth2accesstoken', 'ya29.token')).toBe(b64('oauth2accesstoken:ya29.token'));
  });
});

describe('registriesOf', () => {
  it('lists the registries of a credential, sorted', () => {
    expect(registriesOf({ logins: [login('z.io'), login('a.io'), login('m.io')] })).toEqual(['a.io', 'm.io', 'z.io']);
    expect(registriesOf({ logins: [login('gcr.io')], expiresAt: new Date(0) })).toEqual(['gcr.io']);
  });
});

describe('parseDockerConfigJson', () => {
  it.each([
    {
      name: 'username and password',
      text: JSON.stringify({ auths: { 'ghcr.io': { username: 'alice', password: 'hunter2' } } }),
      auths: { 'ghcr.io': { username: 'alice', password: 'hunter2' } },
    },
    {
      name: 'auth only, with a colon in the password',
      text: JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('alice:hun:ter2') } } }),
      auths: { 'https://index.docker.io/v1/': { username: 'alice', password: 'hun:ter2' } },
    },
    {
      name: 'auth overriding username and password, as in the kubelet',
      text: JSON.stringify({ auths: { 'r.io': { username: 'x', password: 'y', auth: b64('alice:hunter2') } } }),
      auths: { 'r.io': { username: 'alice', password: 'hunter2' } },
    },
    {
      name: 'an empty auth falling back to username and password',
      text: JSON.stringify({ auths: { 'r.io': { username: 'alice', password: 'hunter2', auth: '' } } }),
      auths: { 'r.io': { username: 'alice', password: 'hunter2' } },
    },
    {
      name: 'extra fields (email) and several registries, sorted',
      text: JSON.stringify({
        auths: { 'z.io': { auth: b64('a:b'), email: 'x@y' }, 'a.io': { username: 'c', password: 'd' } },
        credsStore: 'desktop',
      }),
      auths: { 'a.io': { username: 'c', password: 'd' }, 'z.io': { username: 'a', password: 'b' } },
    },
  ])('accepts $name', ({ text, auths }) => {
    const result = parseDockerConfigJson(text);
    const registries = Object.keys(auths).sort();
    const logins = registries.map((registry) => ({ registry, ...auths[registry as keyof typeof auths] }));
    expect(result).toEqual({ ok: true, value: { registries, auths, logins } });
  });

  it('gives logins sorted by registry, as the builder takes them', () => {
    const text = JSON.stringify({ auths: { 'z.io': { auth: b64('a:b'), email: 'x@y' }, 'a.io': { username: 'c', password: 'd' } } });
    const result = parseDockerConfigJson(text);
    expect(result.ok && result.value.logins).toEqual([
      { registry: 'a.io', username: 'c', password: 'd' },
      { registry: 'z.io', username: 'a', password: 'b' },
    ]);
    // Rebuilt, the extra field is gone and auth is written for both.
    expect(result.ok && buildDockerConfigJson(result.value.logins)).toBe(
      `{"auths":{"a.io":{"username":"c","password":"d","auth":"${b64('c:d')}"},"z.io":{"username":"a","password":"b","auth":"${b64('a:b')}"}}}`,
    );
  });

  it.each([
    { name: 'invalid JSON', text: '{"auths": {"r.io": {"password": "s3cr3t-pass"', message: /not valid JSON/ },
    { name: 'a JSON array', text: '["s3cr3t-pass"]', message: /must be a JSON object/ },
    { name: 'JSON null', text: 'null', message: /must be a JSON object/ },
    { name: 'no auths (legacy .dockercfg)', text: JSON.stringify({ 'r.io': { auth: b64('alice:hunter2') } }), message: /no "auths" object/ },
    { name: 'auths not an object', text: JSON.stringify({ auths: ['r.io'] }), message: /no "auths" object/ },
    { name: 'empty auths', text: JSON.stringify({ auths: {} }), message: /"auths" is empty/ },
    { name: 'an empty registry key', text: JSON.stringify({ auths: { '': { username: 'alice', password: 'hunter2' } } }), message: /empty registry key/ },
    { name: 'an entry that is not an object', text: JSON.stringify({ auths: { 'r.io': 's3cr3t-pass' } }), message: /auths\["r.io"\] must be an object/ },
    { name: 'auth not a string', text: JSON.stringify({ auths: { 'r.io': { auth: 42 } } }), message: /auths\["r.io"\].auth must be a string/ },
    { name: 'auth not base64', text: JSON.stringify({ auths: { 'r.io': { auth: 's3cr3t-pass!' } } }), message: /auths\["r.io"\].auth is not valid base64/ },
    { name: 'auth without padding', text: JSON.stringify({ auths: { 'r.io': { auth: b64('alice:hunter2!').replace(/=+$/, '') } } }), message: /not valid base64/ },
    { name: 'auth without a colon', text: JSON.stringify({ auths: { 'r.io': { auth: b64('s3cr3t-pass') } } }), message: /does not decode to "username:password"/ },
    { name: 'auth with an empty password', text: JSON.stringify({ auths: { 'r.io': { auth: b64('alice:') } } }), message: /empty username or password/ },
    { name: 'username without password', text: JSON.stringify({ auths: { 'r.io': { username: 'alice' } } }), message: /neither "auth" nor both "username" and "password"/ },
    { name: 'an identity token only', text: JSON.stringify({ auths: { 'r.io': { identitytoken: 's3cr3t-pass' } } }), message: /neither "auth" nor both/ },
  ])('rejects $name without revealing secret values', ({ text, message }) => {
    const result = parseDockerConfigJson(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toMatch(message);
    for (const value of SECRET_VALUES) expect(result.message).not.toContain(value);
  });
});
