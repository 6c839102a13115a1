import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { dockerConfig, readSecret, replaceSourceSecret, waitForCondition, TestResources } from '../support/fixtures.js';
import { buildOciLayout, inspectWithAuthfile, pushImage, startRegistry, type TestRegistry } from '../support/registry.js';

const PULLER = 'puller';
const PULLER_PASSWORD = `pw-${uniqueName('x')}`;
let registry: TestRegistry;
let operator: OperatorProcess;
const resources = new TestResources();
let ns: string;
let source: string;
let credential: string;

/** Writes the .dockerconfigjson the operator published in the namespace to a file, as the kubelet would use it. */
async function publishedAuthfile(): Promise<string> {
  const secret = await readSecret(ns, credential);
  const raw = secret?.data?.['.dockerconfigjson'];
  if (!raw) throw new Error('no published Secret');
  const file = join(mkdtempSync(join(tmpdir(), 'regcred-auth-')), 'config.json');
  writeFileSync(file, Buffer.from(raw, 'base64'));
  return file;
}

beforeAll(async () => {
  registry = await startRegistry({ [PULLER]: PULLER_PASSWORD, pusher: 'push-secret' });
  await pushImage(buildOciLayout(), registry.host, 'team/app', 'pusher', 'push-secret');
  ns = await resources.namespace('pull');
  source = await resources.source({ username: PULLER, password: PULLER_PASSWORD });
  operator = startOperator();
  await operator.waitForLog((l) => l.msg === 'caches synced');
}, 60_000);

afterAll(async () => {
  await resources.deleteCredentials();
  await operator?.stop();
  await registry?.stop();
  await resources.deleteSourcesAndNamespaces();
}, 120_000);

describe('a published pull secret against a real registry', () => {
  it('pulls with the Secret the operator wrote, and fails with 401 once the credential is wrong', async () => {
    credential = await resources.credential(
      {
        static: { registry: registry.host, credentialsSecretRef: { name: source } },
        namespaces: { names: [ns] },
      },
      'registry',
    );
    await waitForCondition(credential, 'Ready', 'True');

    const ok = await inspectWithAuthfile(await publishedAuthfile(), registry.host, 'team/app');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).Digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // Without any credential the registry refuses: the success above is the Secret's doing.
    const anonymous = join(mkdtempSync(join(tmpdir(), 'regcred-auth-')), 'config.json');
    writeFileSync(anonymous, '{"auths":{}}');
    const refused = await inspectWithAuthfile(anonymous, registry.host, 'team/app');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unauthorized|401/i);

    await replaceSourceSecret(source, { username: PULLER, password: 'revoked-password' });
    await waitFor('the wrong password to be published', async () => dockerConfig(await readSecret(ns, credential))?.auths[registry.host]?.password === 'revoked-password');
    const denied = await inspectWithAuthfile(await publishedAuthfile(), registry.host, 'team/app');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/unauthorized|401/i);
  }, 60_000);
});
