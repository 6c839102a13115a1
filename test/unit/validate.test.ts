import { describe, expect, it } from '@jest/globals';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { registryProblem, validateSpec } from '../../src/api/validate.js';

const ecr = { region: 'us-east-1' };
const gcr = { registries: ['us-docker.pkg.dev'] };
const stat = { registry: 'ghcr.io', credentialsSecretRef: { name: 'ghcr-token' } };
const name63 = `a${'b'.repeat(61)}c`;
const keyAdvice =
  `use a name of at most 63 letters, digits, '-', '_' and '.' that starts and ends with a letter or digit, ` +
  `optionally after a DNS subdomain prefix of at most 253 characters and '/', e.g. "tier" or "example.com/tier"`;
const valueAdvice = `use an empty value or at most 63 letters, digits, '-', '_' and '.' that starts and ends with a letter or digit, e.g. "prod"`;
const namespaceAdvice = `use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit`;
const serviceAccountAdvice = `use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, or "*" for every ServiceAccount`;

describe('validateSpec accepts', () => {
  it.each<{ name: string; spec: RegistryCredentialSpec; provider: string }>([
    { name: 'minimal ecr', spec: { ecr }, provider: 'ecr' },
    {
      name: 'full ecr',
      spec: {
        ecr: { region: 'us-gov-west-1', registryIds: ['123456789012', '000000000000'], roleArn: 'arn:aws-us-gov:iam::123456789012:role/path/to/ecr-puller' },
        secretName: 'regcred-ecr.prod',
        namespaces: { names: ['a'], selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, exclude: ['b'] },
        refresh: { schedule: '0 */6 * * *' },
      },
      provider: 'ecr',
    },
    { name: 'ecr in China', spec: { ecr: { region: 'cn-north-1', roleArn: 'arn:aws-cn:iam::123456789012:role/x+y=z,a.b@c-d_e' } }, provider: 'ecr' },
    { name: 'gcr', spec: { gcr: { registries: ['gcr.io', 'eu.gcr.io', 'europe-west1-docker.pkg.dev'] } }, provider: 'gcr' },
    { name: 'static Docker Hub', spec: { static: { ...stat, registry: 'https://index.docker.io/v1/' } }, provider: 'static' },
    { name: 'static with a port and path', spec: { static: { ...stat, registry: 'registry.example.com:5000/team/' } }, provider: 'static' },
    { name: 'static on localhost', spec: { static: { ...stat, registry: 'localhost:5000' } }, provider: 'static' },
    { name: 'static by IP', spec: { static: { ...stat, registry: '127.0.0.1:5000' } }, provider: 'static' },
    { name: 'static wildcard label', spec: { static: { ...stat, registry: '*.dkr.ecr.*.amazonaws.com' } }, provider: 'static' },
    { name: 'static without registry (dockerconfigjson source)', spec: { static: { credentialsSecretRef: { name: 'src' } } }, provider: 'static' },
    { name: 'a cron macro', spec: { gcr, refresh: { schedule: '@daily' } }, provider: 'gcr' },
    { name: 'an empty refresh block', spec: { gcr, refresh: {} }, provider: 'gcr' },
    {
      name: 'selector keys with a prefix, an empty label value, 63-character names and values',
      spec: {
        gcr,
        namespaces: {
          selector: {
            matchLabels: { 'example.com/tier': '', [name63]: name63, 'app.kubernetes.io/part-of': 'Shop_2.0' },
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['', 'kube-system', name63] }],
          },
        },
      },
      provider: 'gcr',
    },
    { name: '63-character namespace names', spec: { gcr, namespaces: { names: [name63, '0'], exclude: [name63] } }, provider: 'gcr' },
    { name: 'every ServiceAccount', spec: { gcr, serviceAccounts: { names: ['*'] } }, provider: 'gcr' },
    { name: 'no ServiceAccount', spec: { gcr, serviceAccounts: { names: [] } }, provider: 'gcr' },
    { name: 'ServiceAccount names that are DNS subdomains', spec: { gcr, serviceAccounts: { names: ['default', 'builder.ci', 'a'.repeat(253)] } }, provider: 'gcr' },
    { name: 'adoptExisting', spec: { gcr, adoptExisting: true }, provider: 'gcr' },
  ])('$name', ({ spec, provider }) => {
    expect(validateSpec(spec)).toEqual({ ok: true, provider });
  });
});

describe('validateSpec rejects', () => {
  it.each<{ name: string; spec: RegistryCredentialSpec; reason: string; message: string | RegExp }>([
    { name: 'no provider', spec: {}, reason: 'InvalidProvider', message: 'spec has no provider: set exactly one of spec.ecr, spec.gcr or spec.static' },
    { name: 'a null provider', spec: { ecr: null as never }, reason: 'InvalidProvider', message: /has no provider/ },
    { name: 'two providers', spec: { ecr, gcr }, reason: 'InvalidProvider', message: 'spec sets spec.ecr and spec.gcr: keep exactly one provider block' },
    { name: 'three providers', spec: { ecr, gcr, static: stat }, reason: 'InvalidProvider', message: /spec\.ecr and spec\.gcr and spec\.static/ },
    {
      name: 'a bad cron minute',
      spec: { ecr, refresh: { schedule: '61 * * * *' } },
      reason: 'InvalidSchedule',
      message: 'spec.refresh.schedule "61 * * * *" is not a valid cron expression: minute must be 0-59; use 5 fields like "0 */6 * * *" (read in UTC)',
    },
    { name: 'a 6-field cron', spec: { ecr, refresh: { schedule: '0 0 */6 * * *' } }, reason: 'InvalidSchedule', message: /expected 5 fields .* but found 6/ },
    { name: 'an empty cron', spec: { ecr, refresh: { schedule: '' } }, reason: 'InvalidSchedule', message: /spec\.refresh\.schedule "" .*found 0/ },
    { name: 'a cron that is not a string', spec: { ecr, refresh: { schedule: 5 as never } }, reason: 'InvalidSchedule', message: /spec\.refresh\.schedule 5 .*not a string/ },
    { name: 'a user ARN', spec: { ecr: { ...ecr, roleArn: 'arn:aws:iam::123456789012:user/bob' } }, reason: 'InvalidRoleArn', message: /^spec\.ecr\.roleArn "arn:aws:iam::123456789012:user\/bob" is not an IAM role ARN: use the form "arn:aws:iam::123456789012:role\/ecr-puller"$/ },
    { name: 'a short account in the ARN', spec: { ecr: { ...ecr, roleArn: 'arn:aws:iam::1234:role/x' } }, reason: 'InvalidRoleArn', message: /spec\.ecr\.roleArn/ },
    { name: 'a role name only', spec: { ecr: { ...ecr, roleArn: 'ecr-puller' } }, reason: 'InvalidRoleArn', message: /spec\.ecr\.roleArn "ecr-puller"/ },
    { name: 'an empty role', spec: { ecr: { ...ecr, roleArn: 'arn:aws:iam::123456789012:role/' } }, reason: 'InvalidRoleArn', message: /spec\.ecr\.roleArn/ },
    { name: 'an ARN for another service', spec: { ecr: { ...ecr, roleArn: 'arn:aws:sts::123456789012:role/x' } }, reason: 'InvalidRoleArn', message: /spec\.ecr\.roleArn/ },
    {
      name: 'a short registry id',
      spec: { ecr: { ...ecr, registryIds: ['123456789012', '12345'] } },
      reason: 'InvalidRegistryId',
      message: 'spec.ecr.registryIds[1] "12345" is not an AWS account id: use the 12-digit account id, e.g. "123456789012"',
    },
    { name: 'a registry host as id', spec: { ecr: { ...ecr, registryIds: ['123456789012.dkr.ecr.us-east-1.amazonaws.com'] } }, reason: 'InvalidRegistryId', message: /registryIds\[0\]/ },
    { name: 'a bad region', spec: { ecr: { region: 'US East' } }, reason: 'InvalidRegion', message: 'spec.ecr.region "US East" is not an AWS region: use a region code like "us-east-1"' },
    { name: 'a missing region', spec: { ecr: {} as never }, reason: 'InvalidRegion', message: /spec\.ecr\.region undefined/ },
    {
      name: 'an uppercase secret name',
      spec: { ecr, secretName: 'RegCred' },
      reason: 'InvalidSecretName',
      message: /^spec\.secretName "RegCred" is not a valid Secret name: use at most 253 lowercase letters/,
    },
    { name: 'a secret name ending in a dash', spec: { ecr, secretName: 'regcred-' }, reason: 'InvalidSecretName', message: /spec\.secretName "regcred-"/ },
    { name: 'an empty secret name', spec: { ecr, secretName: '' }, reason: 'InvalidSecretName', message: /spec\.secretName ""/ },
    { name: 'a too long secret name', spec: { ecr, secretName: 'a'.repeat(254) }, reason: 'InvalidSecretName', message: /spec\.secretName/ },
    { name: 'a scheme on static', spec: { static: { ...stat, registry: 'https://ghcr.io' } }, reason: 'InvalidRegistry', message: /^spec\.static\.registry "https:\/\/ghcr\.io" must be host\[:port\]\[\/path\] without a scheme, e\.g\. "ghcr\.io"/ },
    { name: 'registry-1.docker.io', spec: { static: { ...stat, registry: 'registry-1.docker.io' } }, reason: 'InvalidRegistry', message: /is never matched by the kubelet: use "https:\/\/index\.docker\.io\/v1\/"/ },
    { name: 'an uppercase host', spec: { static: { ...stat, registry: 'GHCR.io' } }, reason: 'InvalidRegistry', message: /not a valid host\[:port\]\[\/path\]/ },
    { name: 'a bad port', spec: { static: { ...stat, registry: 'reg.io:99999' } }, reason: 'InvalidRegistry', message: /port outside 1-65535/ },
    { name: 'an empty static registry', spec: { static: { ...stat, registry: '' } }, reason: 'InvalidRegistry', message: /spec\.static\.registry "" is empty/ },
    { name: 'empty gcr registries', spec: { gcr: { registries: [] } }, reason: 'InvalidRegistry', message: /spec\.gcr\.registries is empty/ },
    { name: 'a gcr registry with a scheme', spec: { gcr: { registries: ['gcr.io', 'https://us-docker.pkg.dev'] } }, reason: 'InvalidRegistry', message: /^spec\.gcr\.registries\[1\] "https:\/\/us-docker\.pkg\.dev"/ },
    { name: 'a gcr registry with spaces', spec: { gcr: { registries: ['gcr .io'] } }, reason: 'InvalidRegistry', message: /spec\.gcr\.registries\[0\]/ },
    {
      name: 'a selector In without values',
      spec: { gcr, namespaces: { selector: { matchExpressions: [{ key: 'env', operator: 'In', values: [] }] } } },
      reason: 'InvalidSelector',
      message: 'spec.namespaces.selector.matchExpressions[0] (key "env") uses In without values: list at least one value',
    },
    {
      name: 'a selector Exists with values',
      spec: { gcr, namespaces: { selector: { matchExpressions: [{ key: 'env', operator: 'Exists', values: ['x'] }] } } },
      reason: 'InvalidSelector',
      message: 'spec.namespaces.selector.matchExpressions[0] (key "env") uses Exists with values: remove the values',
    },
    {
      name: 'an invalid matchLabels key',
      spec: { gcr, namespaces: { selector: { matchLabels: { 'bad key!': 'x' } } } },
      reason: 'InvalidSelector',
      message: `spec.namespaces.selector.matchLabels["bad key!"]: the key is not a valid label key: it contains characters other than letters, digits, '-', '_' and '.'; ${keyAdvice}`,
    },
    {
      name: 'a matchLabels key with an uppercase prefix',
      spec: { gcr, namespaces: { selector: { matchLabels: { 'Example.com/tier': 'web' } } } },
      reason: 'InvalidSelector',
      message: `spec.namespaces.selector.matchLabels["Example.com/tier"]: the key is not a valid label key: the prefix "Example.com" is not a DNS subdomain (lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit); ${keyAdvice}`,
    },
    {
      name: 'a matchLabels key name of 64 characters',
      spec: { gcr, namespaces: { selector: { matchLabels: { [`${name63}d`]: 'x' } } } },
      reason: 'InvalidSelector',
      message: `spec.namespaces.selector.matchLabels["${name63}d"]: the key is not a valid label key: it is 64 characters, more than 63; ${keyAdvice}`,
    },
    {
      name: 'an invalid matchLabels value',
      spec: { gcr, namespaces: { selector: { matchLabels: { env: 'bad value!' } } } },
      reason: 'InvalidSelector',
      message: `spec.namespaces.selector.matchLabels["env"]: the value "bad value!" is not a valid label value: it contains characters other than letters, digits, '-', '_' and '.'; ${valueAdvice}`,
    },
    {
      name: 'an invalid matchExpressions key',
      spec: { gcr, namespaces: { selector: { matchExpressions: [{ key: 'a/b/c', operator: 'Exists' }] } } },
      reason: 'InvalidSelector',
      message: `spec.namespaces.selector.matchExpressions[0].key "a/b/c" is not a valid label key: it has 2 '/' characters, at most one is allowed; ${keyAdvice}`,
    },
    {
      name: 'an invalid matchExpressions value',
      spec: { gcr, namespaces: { selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', '-dev'] }] } } },
      reason: 'InvalidSelector',
      message: `spec.namespaces.selector.matchExpressions[0].values[1] "-dev" is not a valid label value: it does not start and end with a letter or digit; ${valueAdvice}`,
    },
    {
      name: 'an invalid namespace name',
      spec: { gcr, namespaces: { names: ['team-a', 'Team_B'] } },
      reason: 'InvalidNamespaceName',
      message: `spec.namespaces.names[1] "Team_B" is not a valid namespace name: ${namespaceAdvice}`,
    },
    {
      name: 'a namespace name of 64 characters',
      spec: { gcr, namespaces: { names: [`${name63}d`] } },
      reason: 'InvalidNamespaceName',
      message: `spec.namespaces.names[0] "${name63}d" is not a valid namespace name: ${namespaceAdvice}`,
    },
    {
      name: 'a dotted name in exclude',
      spec: { gcr, namespaces: { exclude: ['team.a'] } },
      reason: 'InvalidNamespaceName',
      message: `spec.namespaces.exclude[0] "team.a" is not a valid namespace name: ${namespaceAdvice}`,
    },
    {
      name: 'names that are not a list',
      spec: { gcr, namespaces: { names: 'team-a' as never } },
      reason: 'InvalidNamespaceName',
      message: 'spec.namespaces.names "team-a" is not a list: list namespace names, e.g. ["team-a"]',
    },
    {
      name: 'an invalid ServiceAccount name',
      spec: { gcr, serviceAccounts: { names: ['default', 'Builder'] } },
      reason: 'InvalidServiceAccountName',
      message: `spec.serviceAccounts.names[1] "Builder" is not a valid ServiceAccount name: ${serviceAccountAdvice}`,
    },
    {
      name: 'a ServiceAccount pattern other than "*"',
      spec: { gcr, serviceAccounts: { names: ['build-*'] } },
      reason: 'InvalidServiceAccountName',
      message: `spec.serviceAccounts.names[0] "build-*" is not a valid ServiceAccount name: ${serviceAccountAdvice}`,
    },
    {
      name: '"*" with other ServiceAccounts',
      spec: { gcr, serviceAccounts: { names: ['*', 'default'] } },
      reason: 'InvalidServiceAccountName',
      message: 'spec.serviceAccounts.names ["*","default"] lists "*" with other names: "*" selects every ServiceAccount and must be the only entry',
    },
  ])('$name → $reason', ({ spec, reason, message }) => {
    const result = validateSpec(spec);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe(reason);
    if (typeof message === 'string') expect(result.message).toBe(message);
    else expect(result.message).toMatch(message);
  });

  it('reports the provider problem before any other', () => {
    expect(validateSpec({ ecr, gcr, secretName: 'BAD', refresh: { schedule: 'x' } })).toMatchObject({ reason: 'InvalidProvider' });
  });
});

describe('registryProblem', () => {
  it.each([
    { registry: 'ghcr.io', ok: true },
    { registry: 'quay.io', ok: true },
    { registry: 'index.docker.io', ok: true },
    { registry: 'docker.io', ok: true },
    { registry: 'https://index.docker.io/v1/', ok: true },
    { registry: 'http://index.docker.io/v1/', ok: false },
    { registry: 'https://index.docker.io/v2/', ok: false },
    { registry: 'reg.io/team-a', ok: true },
    { registry: 'reg.io:0', ok: false },
    { registry: 'reg.io:', ok: false },
    { registry: '-reg.io', ok: false },
    { registry: 'reg..io', ok: false },
    { registry: 'reg.io/Team', ok: false },
    { registry: 'oci://reg.io', ok: false },
  ])('$registry → ok $ok', ({ registry, ok }) => {
    expect(registryProblem(registry) === undefined).toBe(ok);
  });
});
