import { describe, expect, it } from '@jest/globals';
import { buildDockerConfigJson, encodeBasicAuth, parseDockerConfigJson } from '../../src/desired/dockerconfig.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const SECRET_VALUES = ['s3cr3t-pass', 'hunter2', 'alice'];

describe('buildDockerConfigJson', () => {
  it('writes one entry per registry with username, password and base64 auth', () => {
    const text = buildDockerConfigJson(['ghcr.io'], 'alice', 's3cr3t-pass');
    expect(text).toBe(
      `{"auths":{"ghcr.io":{"username":"alice","password":"s3cr3t-pass","auth":"${b64('alice:s3cr3t-pass')}"}}}`,
    );
  });

  it('is byte-identical whatever the input order, with sorted and de-duplicated keys', () => {
    const a = buildDockerConfigJson(['b.io', 'a.io', 'https://index.docker.io/v1/', 'a.io'], 'u', 'p');
    const b = buildDockerConfigJson(['https://index.docker.io/v1/', 'a.io', 'b.io'], 'u', 'p');
    expect(a).toBe(b);
    expect(Object.keys((JSON.parse(a) as { auths: object }).auths)).toEqual(['a.io', 'b.io', 'https://index.docker.io/v1/']);
  });

  it('round-trips through parseDockerConfigJson', () => {
    const text = buildDockerConfigJson(['123456789012.dkr.ecr.us-east-1.amazonaws.com'], 'AWS', 'pa:ss=word');
    expect(parseDockerConfigJson(text)).toEqual({
      ok: true,
      value: {
        registries: ['123456789012.dkr.ecr.us-east-1.amazonaws.com'],
        auths: { '123456789012.dkr.ecr.us-east-1.amazonaws.com': { username: 'AWS', password: 'pa:ss=word' } },
      },
    });
  });

  it.each([
    { name: 'no registry', registries: [], username: 'u', password: 'p', error: /without any registry/ },
    { name: 'an empty registry', registries: [''], username: 'u', password: 'p', error: /empty registry/ },
    { name: 'an empty username', registries: ['r.io'], username: '', password: 'p', error: /empty username or password/ },
    { name: 'an empty password', registries: ['r.io'], username: 'u', password: '', error: /empty username or password/ },
    { name: 'a colon in the username', registries: ['r.io'], username: 'a:b', password: 'p', error: /username contains ":"/ },
  ])('refuses $name', ({ registries, username, password, error }) => {
    expect(() => buildDockerConfigJson(registries, username, password)).toThrow(error);
  });

  it('encodes basic auth as base64 of user:password', () => {
    expect(encodeBasicAuth('oauth2accesstoken', 'ya29.token')).toBe(b64('oauth2accesstoken:ya29.token'));
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
    expect(result).toEqual({ ok: true, value: { registries: Object.keys(auths).sort(), auths } });
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
