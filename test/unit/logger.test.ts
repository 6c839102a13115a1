import { describe, expect, it } from '@jest/globals';
import { REDACT_PATHS } from '../../src/observability/logger.js';
import { captureLog } from '../support/log-capture.js';

function capture(level: 'trace' | 'info' | 'silent' = 'info'): ReturnType<typeof captureLog> {
  return captureLog(level);
}

const CENSOR = '[REDACTED]';

describe('createLogger: JSON lines', () => {
  it.each(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const)('writes the %s level as its name', (level) => {
    const { log, lines } = capture('trace');
    log[level]('something happened');
    expect(lines()).toEqual([expect.objectContaining({ level, msg: 'something happened', app: 'regcred-operator' })]);
  });

  it('names the level in child loggers too', () => {
    const { log, output } = capture();
    log.child({ credential: 'ecr-prod' }).warn('refresh failed');
    expect(output()).toContain('"level":"warn"');
    expect(output()).not.toMatch(/"level":\d/);
  });

  it('stamps an ISO time', () => {
    const { log, lines } = capture();
    log.info('x');
    expect(lines()[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});

describe('createLogger: redaction', () => {
  it.each([
    { name: 'password', obj: { password: 'pw-TOP-1' }, secrets: ['pw-TOP-1'], keys: ['password'] },
    { name: 'nested password', obj: { login: { username: 'alice', password: 'pw-NESTED-1' } }, secrets: ['pw-NESTED-1'], keys: ['login', 'password', 'alice'] },
    { name: 'token', obj: { token: 'tok-TOP-1' }, secrets: ['tok-TOP-1'], keys: ['token'] },
    { name: 'nested token', obj: { gcp: { token: 'ya29.tok-NESTED' } }, secrets: ['ya29.tok-NESTED'], keys: ['gcp', 'token'] },
    { name: 'auth', obj: { auth: 'YWxpY2U6c2VjcmV0' }, secrets: ['YWxpY2U6c2VjcmV0'], keys: ['auth'] },
    { name: 'nested auth', obj: { entry: { auth: 'Ym9iOnNlY3JldA==' } }, secrets: ['Ym9iOnNlY3JldA=='], keys: ['entry', 'auth'] },
    { name: 'authorization', obj: { authorization: 'Bearer abc.def' }, secrets: ['Bearer abc.def'], keys: ['authorization'] },
    { name: 'nested authorization', obj: { req: { authorization: 'Bearer ghi.jkl' } }, secrets: ['Bearer ghi.jkl'], keys: ['req', 'authorization'] },
    { name: 'headers.authorization', obj: { headers: { authorization: 'Basic hdr-1' } }, secrets: ['Basic hdr-1'], keys: ['headers', 'authorization'] },
    {
      name: 'nested headers.authorization',
      obj: { request: { headers: { authorization: 'Basic hdr-2', accept: 'application/json' } } },
      secrets: ['Basic hdr-2'],
      keys: ['request', 'headers', 'authorization', 'application/json'],
    },
    { name: 'ECR authorizationToken', obj: { authorizationToken: 'QVdTOmVjci10b2tlbg==' }, secrets: ['QVdTOmVjci10b2tlbg=='], keys: ['authorizationToken'] },
    {
      name: 'nested ECR authorizationToken',
      obj: { authorizationData: { authorizationToken: 'QVdTOm5lc3RlZA==', proxyEndpoint: 'https://1.dkr.ecr' } },
      secrets: ['QVdTOm5lc3RlZA=='],
      keys: ['authorizationData', 'authorizationToken', 'https://1.dkr.ecr'],
    },
    { name: 'data', obj: { data: { password: 'cGFzcw==', username: 'dXNlcg==' } }, secrets: ['cGFzcw==', 'dXNlcg=='], keys: ['data'] },
    {
      name: 'nested data (a whole Secret)',
      obj: { secret: { metadata: { name: 'ghcr-token' }, data: { '.dockerconfigjson': 'eyJhdXRocyI6e319' } } },
      secrets: ['eyJhdXRocyI6e319'],
      keys: ['secret', 'data', 'ghcr-token'],
    },
    { name: 'stringData', obj: { stringData: { password: 'plain-sd-1' } }, secrets: ['plain-sd-1'], keys: ['stringData'] },
    { name: 'nested stringData', obj: { secret: { stringData: { password: 'plain-sd-2' } } }, secrets: ['plain-sd-2'], keys: ['secret', 'stringData'] },
    { name: '.dockerconfigjson', obj: { '.dockerconfigjson': '{"auths":{"r":{"password":"dcj-TOP"}}}' }, secrets: ['dcj-TOP'], keys: ['.dockerconfigjson'] },
    {
      name: 'nested .dockerconfigjson',
      obj: { payload: { '.dockerconfigjson': '{"auths":{"r":{"password":"dcj-NESTED"}}}' } },
      secrets: ['dcj-NESTED'],
      keys: ['payload', '.dockerconfigjson'],
    },
    { name: 'dockerConfigJson', obj: { dockerConfigJson: '{"auths":{"r":{"password":"dcj-camel"}}}' }, secrets: ['dcj-camel'], keys: ['dockerConfigJson'] },
    {
      name: 'nested dockerConfigJson',
      obj: { minted: { dockerConfigJson: '{"auths":{"r":{"password":"dcj-camel-2"}}}', registries: ['ghcr.io'] } },
      secrets: ['dcj-camel-2'],
      keys: ['minted', 'dockerConfigJson', 'ghcr.io'],
    },
    { name: 'AWS_SECRET_ACCESS_KEY', obj: { AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/top' }, secrets: ['wJalrXUtnFEMI/K7MDENG/top'], keys: ['AWS_SECRET_ACCESS_KEY'] },
    {
      name: 'nested AWS_SECRET_ACCESS_KEY',
      obj: { env: { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/nested' } },
      secrets: ['wJalrXUtnFEMI/nested'],
      keys: ['env', 'AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE'],
    },
    { name: 'AWS_SESSION_TOKEN', obj: { AWS_SESSION_TOKEN: 'FwoGZXIvYXdzE-top' }, secrets: ['FwoGZXIvYXdzE-top'], keys: ['AWS_SESSION_TOKEN'] },
    { name: 'nested AWS_SESSION_TOKEN', obj: { env: { AWS_SESSION_TOKEN: 'FwoGZXIvYXdzE-nested' } }, secrets: ['FwoGZXIvYXdzE-nested'], keys: ['env', 'AWS_SESSION_TOKEN'] },
    { name: 'secretAccessKey', obj: { secretAccessKey: 'sak-top' }, secrets: ['sak-top'], keys: ['secretAccessKey'] },
    {
      name: 'nested AWS SDK credentials',
      obj: { credentials: { accessKeyId: 'AKIA2', secretAccessKey: 'sak-nested', sessionToken: 'st-nested' } },
      secrets: ['sak-nested', 'st-nested'],
      keys: ['credentials', 'secretAccessKey', 'sessionToken', 'AKIA2'],
    },
    { name: 'sessionToken', obj: { sessionToken: 'st-top' }, secrets: ['st-top'], keys: ['sessionToken'] },
    { name: 'private_key', obj: { private_key: '-----BEGIN PRIVATE KEY-----pk-top' }, secrets: ['pk-top'], keys: ['private_key'] },
    {
      name: 'nested private_key (service account JSON)',
      obj: { key: { type: 'service_account', client_email: 'sa@p.iam', private_key: '-----BEGIN PRIVATE KEY-----pk-nested' } },
      secrets: ['pk-nested'],
      keys: ['key', 'private_key', 'service_account', 'sa@p.iam'],
    },
  ])('$name', ({ obj, secrets, keys }) => {
    const { log, output, lines } = capture();
    log.info(obj, 'something happened');
    const text = output();
    expect(lines()).toHaveLength(1);
    expect(text).toContain(CENSOR);
    expect(text).toContain('something happened');
    for (const secret of secrets) expect(text).not.toContain(secret);
    for (const key of keys) expect(text).toContain(key);
  });

  it('leaves ordinary fields alone', () => {
    const { log, lines } = capture();
    log.info({ namespace: 'team-a', secret: 'regcred-ecr-prod', registries: ['ghcr.io'], count: 3 }, 'synced');
    expect(lines()[0]).toMatchObject({ namespace: 'team-a', secret: 'regcred-ecr-prod', registries: ['ghcr.io'], count: 3, msg: 'synced', app: 'regcred-operator' });
    expect(JSON.stringify(lines()[0])).not.toContain(CENSOR);
  });

  it('does not change the logged object', () => {
    const { log } = capture();
    const obj = { password: 'pw', nested: { token: 'tk' } };
    log.info(obj, 'x');
    expect(obj).toEqual({ password: 'pw', nested: { token: 'tk' } });
  });

  it('redacts in child logger calls too', () => {
    const { log, output } = capture();
    log.child({ credential: 'ecr-prod' }).warn({ token: 'child-token-1' }, 'refresh failed');
    expect(output()).not.toContain('child-token-1');
    expect(output()).toContain('ecr-prod');
  });

  it('writes nothing when silent', () => {
    const { log, output } = capture('silent');
    log.error({ password: 'x' }, 'boom');
    expect(output()).toBe('');
  });
});

/** Builds an object that has a value exactly at a redact path ("*" becomes a key of our choosing). */
function objectAt(path: string, value: string): Record<string, unknown> {
  const segments: string[] = [];
  const re = /\[("(?:[^"\\]|\\.)*")\]|([^.[\]]+)/g;
  for (const match of path.matchAll(re)) {
    segments.push(match[1] !== undefined ? (JSON.parse(match[1]) as string) : match[2]!);
  }
  const root: Record<string, unknown> = {};
  let node = root;
  segments.forEach((segment, i) => {
    const key = segment === '*' ? 'anyKey' : segment;
    if (i === segments.length - 1) node[key] = value;
    else {
      const child: Record<string, unknown> = {};
      node[key] = child;
      node = child;
    }
  });
  return root;
}

describe('REDACT_PATHS', () => {
  it('has no duplicates', () => {
    expect(new Set(REDACT_PATHS).size).toBe(REDACT_PATHS.length);
  });

  it('every top-level path has a one-level-nested twin', () => {
    for (const path of REDACT_PATHS.filter((p) => !p.startsWith('*'))) {
      const nested = path.startsWith('[') ? `*${path}` : `*.${path}`;
      expect(REDACT_PATHS).toContain(nested);
    }
  });

  it.each(REDACT_PATHS.map((path) => ({ path })))('$path works', ({ path }) => {
    const value = `value-at-${path}-SECRET`;
    const obj = objectAt(path, value);
    const { log, output } = capture();
    log.info(obj, 'probe');
    expect(output()).toContain(CENSOR);
    expect(output()).not.toContain(value);
  });
});
