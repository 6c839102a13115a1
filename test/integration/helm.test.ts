/**
 * charts/regcred-operator against the local control plane:
 * - every value set rendered by helm template validates with kubeconform against strict JSON schemas
 *   generated from this API server's /openapi/v2 (the Kubernetes kinds and the RegistryCredential CRD),
 *   and kubeconform with those schemas does refuse broken manifests;
 * - helm install, then the operator run as a local process (there is no kubelet) with the installed
 *   Deployment's args and env under the installed ServiceAccount's own token, serving a static
 *   credential end to end; helm upgrade with changed values, and the operator again from the upgrade;
 * - the chart's defaults render the same RBAC rules, CRD and container as `kubectl kustomize config/default`.
 * ServiceMonitor and PrometheusRule have no schema offline (no monitoring.coreos.com CRDs here): kubeconform
 * skips those two kinds and test/unit/helm-chart.test.ts checks them structurally.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { dump, load, loadAll } from 'js-yaml';
import { kubectl, kubeconfigPath, REPO_ROOT, spawnOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { dockerConfig, readSecret } from '../support/fixtures.js';
import { CHART_DIR, find, helm, renderChart, VALUE_SETS, type Container, type Deployment, type K8sObject } from '../support/helm.js';
import { schemaFileName, writeKubeconformSchemas } from '../support/k8s-schemas.js';
import { makeTlsMaterial } from '../support/registry.js';
import { runTool } from '../support/tools.js';

const SKIPPED_KINDS = ['ServiceMonitor', 'PrometheusRule'];
let schemaDir: string;

async function must(args: string[], input?: string): Promise<string> {
  const result = await kubectl(args, { input });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

interface KubeconformReport {
  code: number;
  resources: { kind: string; name: string; status: string; msg: string }[];
  summary: { valid: number; invalid: number; errors: number; skipped: number };
  output: string;
}

async function kubeconform(yaml: string): Promise<KubeconformReport> {
  const result = await runTool(
    'kubeconform',
    ['-strict', '-verbose', '-summary', '-output', 'json', '-skip', SKIPPED_KINDS.join(','), '-schema-location', `${schemaDir}/{{ .ResourceKind }}{{ .KindSuffix }}.json`, '-'],
    { input: yaml },
  );
  const parsed = JSON.parse(result.stdout) as Omit<KubeconformReport, 'code' | 'output'>;
  return { code: result.code, ...parsed, output: result.stdout + result.stderr };
}

beforeAll(async () => {
  schemaDir = mkdtempSync(join(tmpdir(), 'regcred-k8s-schemas-'));
  const swagger = JSON.parse(await must(['get', '--raw', '/openapi/v2'])) as Parameters<typeof writeKubeconformSchemas>[0];
  writeKubeconformSchemas(swagger, schemaDir);
}, 120_000);

describe('kubeconform with schemas generated from the control plane', () => {
  it('has schemas for the kinds the chart renders, the CRD included', () => {
    for (const gvk of [
      { group: 'apps', version: 'v1', kind: 'Deployment' },
      { group: '', version: 'v1', kind: 'ServiceAccount' },
      { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole' },
      { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' },
      { group: 'policy', version: 'v1', kind: 'PodDisruptionBudget' },
      { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition' },
      { group: 'regcred.io', version: 'v1alpha1', kind: 'RegistryCredential' },
    ]) {
      expect(existsSync(join(schemaDir, schemaFileName(gvk)))).toBe(true);
    }
  });

  const deployment = (spec: string): string =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n        - {name: c, image: i, resources: {limits: {memory: 512Mi, cpu: 1}}, ports: [{containerPort: 8080}], livenessProbe: {httpGet: {path: /, port: health}}}\n${spec}`;

  it('accepts a valid Deployment and RegistryCredential', async () => {
    const report = await kubeconform(
      `${deployment('  replicas: 2\n')}---\napiVersion: regcred.io/v1alpha1\nkind: RegistryCredential\nmetadata: {name: r}\nspec: {static: {registry: ghcr.io, credentialsSecretRef: {name: s}}}\n`,
    );
    expect(report.summary).toEqual({ valid: 2, invalid: 0, errors: 0, skipped: 0 });
    expect(report.code).toBe(0);
  });

  it.each([
    ['a wrong type (replicas: "two")', deployment('  replicas: two\n'), /replicas/],
    ['an unknown field (spec.replica)', deployment('  replica: 2\n'), /replica/],
    ['a missing required field (containers[].name)', deployment('').replace('name: c, ', ''), /name/],
    [
      'a RegistryCredential field of the wrong type',
      'apiVersion: regcred.io/v1alpha1\nkind: RegistryCredential\nmetadata: {name: r}\nspec: {static: {registry: ghcr.io, credentialsSecretRef: {name: [s]}}}\n',
      /name/,
    ],
    ['an unknown kind', 'apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n', /could not find schema|failed downloading schema|no such file/],
  ])('fails %s', async (_what, yaml, message) => {
    const report = await kubeconform(yaml);
    expect(report.code).not.toBe(0);
    expect(report.summary.invalid + report.summary.errors).toBe(1);
    expect(report.resources.find((r) => r.status !== 'statusValid')?.msg).toMatch(message);
  });

  it.each(Object.entries(VALUE_SETS))('validates helm template with %s values (ServiceMonitor and PrometheusRule skipped: no CRD schema offline)', async (_name, args) => {
    const { yaml, objects } = await renderChart(args, { includeCrds: true });
    const report = await kubeconform(yaml);
    const skipped = objects.filter((o) => SKIPPED_KINDS.includes(o.kind)).length;
    expect(report.resources.filter((r) => r.status !== 'statusValid' && r.status !== 'statusSkipped')).toEqual([]);
    expect(report.summary).toEqual({ valid: objects.length - skipped, invalid: 0, errors: 0, skipped });
    expect(report.code).toBe(0);
  });
});

/** The operator as the installed chart would run it: the Deployment's args and env, the ServiceAccount's token, the ConfigMap volumes as files. */
async function runAsInstalled(namespace: string, deploymentName: string): Promise<{ operator: OperatorProcess; container: Container; podName: string }> {
  const deployment = JSON.parse(await must(['get', 'deployment', deploymentName, '-n', namespace, '-o', 'json'])) as Deployment;
  const pod = deployment.spec.template.spec;
  const c = pod.containers[0]!;
  const podName = `${deploymentName}-7d9f8c6b5-${uniqueName('x').slice(2)}`;
  const root = mkdtempSync(join(tmpdir(), 'regcred-helm-pod-'));

  // The ServiceAccount's own token, as the kubelet would mount it.
  const token = (await must(['create', 'token', pod.serviceAccountName, '-n', namespace, '--duration', '3600s'])).trim();
  const admin = load(readFileSync(kubeconfigPath(), 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[] };
  const kubeconfig = join(root, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: admin.clusters[0]!.cluster }],
      users: [{ name: 'chart-sa', user: { token } }],
      contexts: [{ name: 'chart-sa', context: { cluster: 'local', user: 'chart-sa' } }],
      'current-context': 'chart-sa',
    }),
  );

  // ConfigMap volumes become files under root, and arguments naming their mount paths point there.
  let args = c.args ?? [];
  for (const mount of c.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    if (!volume?.configMap) continue;
    const cm = JSON.parse(await must(['get', 'configmap', volume.configMap.name, '-n', namespace, '-o', 'json'])) as { data: Record<string, string> };
    for (const item of volume.configMap.items ?? Object.keys(cm.data).map((key) => ({ key, path: key }))) {
      const file = join(root, mount.mountPath, item.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, cm.data[item.key]!);
    }
    args = args.map((a) => a.replace(`=${mount.mountPath}/`, `=${join(root, mount.mountPath)}/`));
  }

  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: root, LOG_FORMAT: 'json' };
  for (const e of c.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    env[e.name] = field === 'metadata.namespace' ? namespace : field === 'metadata.name' ? podName : e.value;
  }
  // Test-only: other operators run on this machine, so take free ports instead of 8080/8081.
  const operator = spawnOperator([join(REPO_ROOT, 'dist', 'cli.js'), ...args, '--kubeconfig', kubeconfig, '--health-port', '0', '--metrics-port', '0'], env);
  return { operator, container: c, podName };
}

describe('helm install, an operator as the chart ServiceAccount, helm upgrade', () => {
  const namespace = uniqueName('regcred-helm');
  const target = uniqueName('helm-target');
  const release = uniqueName('rc');
  const fullname = `${release}-regcred-operator`;
  const credential = uniqueName('helm-static');
  const leaderElection = execFileSync(process.execPath, [join(REPO_ROOT, 'dist', 'cli.js'), 'run', '--help'], { encoding: 'utf8' }).includes('--leader-elect');
  // Until the operator has --leader-elect, the chart is installed without it (1 replica): the chart's
  // default args would stop the operator at the unknown flag.
  const installValues = leaderElection ? [] : ['--set', 'replicas=1', '--set', 'leaderElection.enabled=false'];
  let operator: OperatorProcess | undefined;

  afterAll(async () => {
    await kubectl(['delete', 'registrycredential', credential, '--ignore-not-found', '--wait=true', '--timeout=30s']);
    await operator?.stop();
    await helm(['uninstall', release, '--namespace', namespace, '--kubeconfig', kubeconfigPath()]);
    await kubectl(['delete', 'namespace', namespace, target, '--ignore-not-found', '--wait=false']);
  }, 90_000);

  it(`installs with ${leaderElection ? 'default values (2 replicas, leader election)' : 'default values but 1 replica without leader election (the operator has no --leader-elect yet)'}`, async () => {
    const installed = await helm(['install', release, CHART_DIR, '--namespace', namespace, '--create-namespace', '--kubeconfig', kubeconfigPath(), ...installValues]);
    expect(installed.stderr).toBe('');
    expect(installed.code).toBe(0);
    expect(installed.stdout).toMatch(/STATUS: deployed/);
    expect(installed.stdout).toContain(`regcred-operator 0.1.0 is installed in ${namespace}`);
    const sa = JSON.parse(await must(['get', 'serviceaccount', fullname, '-n', namespace, '-o', 'json'])) as K8sObject;
    expect(sa.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    // The CRD is there (helm skips crds/ when it exists already) and is the file of crds/.
    const crd = await must(['get', 'crd', 'registrycredentials.regcred.io', '-o', 'jsonpath={.spec.versions[0].name}']);
    expect(crd).toBe('v1alpha1');
  });

  it('runs the operator with the installed args and env as the chart ServiceAccount; it serves a static credential end to end', async () => {
    await must(['create', 'namespace', target]);
    await must(['label', 'namespace', target, `helm-test=${namespace}`]);
    await must(['create', 'secret', 'generic', 'helm-login', '-n', namespace, '--from-literal=username=helm-bot', '--from-literal=password=first-token']);
    const started = await runAsInstalled(namespace, fullname);
    operator = started.operator;
    await operator.waitForLog((l) => l.msg === 'caches synced', 60_000);
    expect(started.container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value).toBe('--max-old-space-size=320 --max-semi-space-size=2 --expose-gc');

    await must(
      ['apply', '-f', '-'],
      dump({
        apiVersion: 'regcred.io/v1alpha1',
        kind: 'RegistryCredential',
        metadata: { name: credential },
        spec: { static: { registry: 'registry.example.com', credentialsSecretRef: { name: 'helm-login' } }, namespaces: { selector: { matchLabels: { 'helm-test': namespace } } } },
      }),
    );
    const secret = await waitFor(`the pull Secret in ${target}`, async () => dockerConfig(await readSecret(target, credential)), 30_000);
    expect(secret.auths['registry.example.com']).toMatchObject({ username: 'helm-bot', password: 'first-token' });
    await waitFor('Ready=True', async () => (await must(['get', 'registrycredential', credential, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True');

    if (leaderElection) {
      // The Lease rules of the chart's Role: the operator took the Lease under its pod name (POD_NAME
      // from the downward API) and a random suffix, as client-go names holders.
      const holder = await waitFor('the Lease', async () => (await kubectl(['get', 'lease', 'regcred-operator', '-n', namespace, '-o', 'jsonpath={.spec.holderIdentity}'])).stdout || undefined);
      expect(holder.startsWith(`${started.podName}_`)).toBe(true);
    }
    // A port number may contain 403: only a whole 403 or "forbidden" is a refusal.
    expect(operator.logs.filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)))).toEqual([]);
    await operator.stop();
    operator = undefined;
  }, 120_000);

  it('upgrades with changed values (IRSA/GKE annotations, a registry CA bundle, 1 replica, debug logs); the upgraded operator serves a changed source', async () => {
    const tls = makeTlsMaterial(mkdtempSync(join(tmpdir(), 'regcred-helm-ca-')));
    await must(['create', 'configmap', 'registry-ca', '-n', namespace, `--from-file=ca.crt=${tls.caFile}`]);
    const upgraded = await helm(['upgrade', release, CHART_DIR, '--namespace', namespace, '--kubeconfig', kubeconfigPath(), ...VALUE_SETS['IRSA and GKE annotations, a registry CA bundle, 1 replica']!, '--set', 'operator.logLevel=debug']);
    expect(upgraded.code).toBe(0);
    expect(upgraded.stdout).toMatch(/REVISION: 2/);

    const deployment = JSON.parse(await must(['get', 'deployment', fullname, '-n', namespace, '-o', 'json'])) as Deployment;
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    expect(deployment.spec.template.spec.containers[0]!.args).toEqual(['run', '--log-level=debug', '--registry-ca-file=/etc/regcred/registry-ca/ca.crt']);
    const sa = JSON.parse(await must(['get', 'serviceaccount', fullname, '-n', namespace, '-o', 'json'])) as K8sObject;
    expect(sa.metadata.annotations).toMatchObject({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/regcred-operator',
      'iam.gke.io/gcp-service-account': 'regcred@my-project.iam.gserviceaccount.com',
    });
    // One replica: no PodDisruptionBudget (helm removed it if the install had one).
    expect((await kubectl(['get', 'pdb', '-n', namespace, '-o', 'name'])).stdout.trim()).toBe('');

    const started = await runAsInstalled(namespace, fullname);
    operator = started.operator;
    await operator.waitForLog((l) => l.msg === 'caches synced', 60_000);
    expect(operator.logs.some((l) => l.level === 'debug')).toBe(true);
    await must(['create', 'secret', 'generic', 'helm-login', '-n', namespace, '--from-literal=username=helm-bot', '--from-literal=password=second-token', '--dry-run=client', '-o', 'yaml']).then((yaml) => must(['apply', '-f', '-'], yaml));
    await waitFor('the rotated password in the pull Secret', async () => dockerConfig(await readSecret(target, credential))?.auths['registry.example.com']?.password === 'second-token', 30_000);

    // Deleting the credential: this operator removes what it wrote (the finalizer), then stops.
    await must(['delete', 'registrycredential', credential, '--wait=true', '--timeout=30s']);
    expect(await readSecret(target, credential)).toBeUndefined();
    await operator.stop();
    operator = undefined;
    const history = await helm(['history', release, '--namespace', namespace, '--kubeconfig', kubeconfigPath(), '-o', 'json']);
    expect((JSON.parse(history.stdout) as { revision: number; status: string }[]).map((h) => [h.revision, h.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
    ]);
  }, 120_000);
});

describe('the chart and kubectl kustomize config/default agree', () => {
  interface Rules extends K8sObject {
    rules: object[];
  }
  // Rules compared by content: the same keys in another order are the same rule.
  const sortRules = (rules: object[]): string[] => rules.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b))))).sort();
  const isLeaseRule = (rule: string): boolean => rule.includes('coordination.k8s.io');
  const byName = (env: Container['env']): Container['env'] => [...(env ?? [])].sort((a, b) => a.name.localeCompare(b.name));

  let config: K8sObject[];
  let configHasLeaderElection: boolean;
  beforeAll(async () => {
    config = (loadAll(await must(['kustomize', 'config/default'])) as K8sObject[]).filter(Boolean);
    configHasLeaderElection = (find<Deployment>(config, 'Deployment').spec.template.spec.containers[0]!.args ?? []).includes('--leader-elect');
  });

  /** The chart to compare with config/: its defaults once config/ has leader election, else the same without it. */
  async function chart(): Promise<K8sObject[]> {
    const values = configHasLeaderElection ? [] : ['--set', 'replicas=1', '--set', 'leaderElection.enabled=false'];
    return (await renderChart(values, { namespace: 'regcred-system', includeCrds: true })).objects;
  }

  it('the same ClusterRole and Role rules', async () => {
    const objects = await chart();
    expect(sortRules(find<Rules>(objects, 'ClusterRole').rules)).toEqual(sortRules(find<Rules>(config, 'ClusterRole').rules));
    expect(sortRules(find<Rules>(objects, 'Role').rules)).toEqual(sortRules(find<Rules>(config, 'Role').rules));
    // The defaults differ from that only by the Lease rules, until config/ has them too.
    const defaults = sortRules(find<Rules>((await renderChart([], { namespace: 'regcred-system' })).objects, 'Role').rules);
    expect(defaults.filter((r) => !isLeaseRule(r))).toEqual(sortRules(find<Rules>(config, 'Role').rules).filter((r) => !isLeaseRule(r)));
    expect(defaults.filter(isLeaseRule)).toHaveLength(2);
  });

  it('the same CRD', async () => {
    expect(find(await chart(), 'CustomResourceDefinition')).toEqual(find(config, 'CustomResourceDefinition'));
  });

  it('the same container args, env, securityContext, probes, ports, resources and mounts, and the same pod securityContext', async () => {
    const chartDeployment = find<Deployment>(await chart(), 'Deployment');
    const configDeployment = find<Deployment>(config, 'Deployment');
    const ours = chartDeployment.spec.template.spec.containers[0]!;
    const theirs = configDeployment.spec.template.spec.containers[0]!;
    expect(ours.args).toEqual(theirs.args);
    expect(byName(ours.env)).toEqual(byName(theirs.env));
    expect(ours.securityContext).toEqual(theirs.securityContext);
    expect(ours.livenessProbe).toEqual(theirs.livenessProbe);
    expect(ours.readinessProbe).toEqual(theirs.readinessProbe);
    expect(ours.ports).toEqual(theirs.ports);
    expect(ours.resources).toEqual(theirs.resources);
    expect(ours.volumeMounts).toEqual(theirs.volumeMounts);
    expect(chartDeployment.spec.template.spec.securityContext).toEqual(configDeployment.spec.template.spec.securityContext);
    expect(chartDeployment.spec.replicas).toBe(configDeployment.spec.replicas);
    expect(chartDeployment.spec.strategy).toEqual(configDeployment.spec.strategy);

    // And the defaults add to it only the leader election of the brief, until config/ has it too.
    const defaults = find<Deployment>((await renderChart([], { namespace: 'regcred-system' })).objects, 'Deployment');
    const d = defaults.spec.template.spec.containers[0]!;
    expect(d.args?.filter((a) => !a.startsWith('--leader-elect'))).toEqual(theirs.args?.filter((a) => !a.startsWith('--leader-elect')));
    expect(byName(d.env)?.filter((e) => e.name !== 'POD_NAME')).toEqual(byName(theirs.env)?.filter((e) => e.name !== 'POD_NAME'));
  });
});
