/**
 * charts/regcred-operator without a cluster: helm lint, what the templates derive (the heap cap, the
 * leader election flags, the CA bundle), the values schema refusing bad values, the CRD being the one
 * of crds/ (also in the packaged chart), the monitoring objects naming real metrics, and the release
 * workflow's edits of values.yaml. helm comes from .regcred/tools (bash .ci/run builds it).
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { CRD_NAME } from '../../src/api/constants.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { CHART_DIR, KUBE_VERSION, container, envValue, find, helm, renderChart, renderError, VALUE_SETS, type Deployment, type K8sObject } from '../support/helm.js';
import { runTool } from '../support/tools.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CRD_FILE = join(ROOT, 'crds', `${CRD_NAME}.yaml`);

describe('charts/regcred-operator', () => {
  it('is versioned as the operator: appVersion is package.json version', () => {
    const chart = load(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string; version: string };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
    expect(chart.version).toBe(pkg.version);
  });

  it.each(Object.entries(VALUE_SETS))('passes helm lint --strict with %s values', async (_name, args) => {
    const result = await helm(['lint', '--strict', '--kube-version', KUBE_VERSION, CHART_DIR, ...args]);
    expect(result.stdout + result.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  describe('the CRD comes from crds/ alone', () => {
    it('crds/ of the chart holds exactly the file of crds/', () => {
      expect(readFileSync(join(CHART_DIR, 'crds', `${CRD_NAME}.yaml`), 'utf8')).toBe(readFileSync(CRD_FILE, 'utf8'));
    });

    it('helm package follows the symlink: the packaged chart carries the same bytes', async () => {
      const out = mkdtempSync(join(tmpdir(), 'regcred-chart-package-'));
      const packaged = await helm(['package', CHART_DIR, '--destination', out]);
      expect(packaged.code).toBe(0);
      execFileSync('tar', ['-xzf', join(out, 'regcred-operator-0.1.0.tgz'), '-C', out]);
      expect(readFileSync(join(out, 'regcred-operator', 'crds', `${CRD_NAME}.yaml`), 'utf8')).toBe(readFileSync(CRD_FILE, 'utf8'));
      // The dashboard read by .Files.Get is packaged too.
      expect(JSON.parse(readFileSync(join(out, 'regcred-operator', 'dashboards', 'regcred-operator.json'), 'utf8'))).toHaveProperty('panels');
    });

    it('helm template --include-crds renders it unchanged', async () => {
      const { objects } = await renderChart([], { includeCrds: true });
      expect(find(objects, 'CustomResourceDefinition')).toEqual(load(readFileSync(CRD_FILE, 'utf8')));
    });
  });

  describe('NODE_OPTIONS --max-old-space-size: the memory limit minus 192 MiB (config/manager/deployment.yaml)', () => {
    it.each([
      ['512Mi', '320'],
      ['768Mi', '576'],
      ['1Gi', '832'],
      ['1.5Gi', '1344'],
      ['1073741824', '832'],
      ['600M', '380'],
      ['400000Ki', '198'],
    ])('resources.limits.memory %s gives %s', async (limit, heap) => {
      const { objects } = await renderChart(['--set-string', `resources.limits.memory=${limit}`]);
      expect(envValue(container(objects), 'NODE_OPTIONS')).toBe(`--max-old-space-size=${heap} --max-semi-space-size=2 --expose-gc`);
    });

    it('is 320 with the default limit, the value config/manager/deployment.yaml sets', async () => {
      const { objects } = await renderChart();
      const c = container(objects);
      expect(c.resources?.limits?.memory).toBe('512Mi');
      expect(envValue(c, 'NODE_OPTIONS')).toBe('--max-old-space-size=320 --max-semi-space-size=2 --expose-gc');
    });

    it('always a 2 MiB young generation and two malloc arenas, as config/manager/deployment.yaml', async () => {
      const c = container((await renderChart()).objects);
      expect(envValue(c, 'MALLOC_ARENA_MAX')).toBe('2');
      expect(envValue(c, 'MALLOC_MMAP_THRESHOLD_')).toBe('131072');
      expect(envValue(container((await renderChart(['--set', 'resources.limits=null'])).objects), 'MALLOC_ARENA_MAX')).toBe('2');
    });

    it('heapSizeMiB overrides it; no memory limit and no heapSizeMiB sets no cap', async () => {
      expect(envValue(container((await renderChart(['--set', 'heapSizeMiB=1000'])).objects), 'NODE_OPTIONS')).toBe('--max-old-space-size=1000 --max-semi-space-size=2 --expose-gc');
      const unlimited = container((await renderChart(['--set', 'resources.limits=null'])).objects);
      expect(unlimited.resources?.limits).toBeUndefined();
      expect(envValue(unlimited, 'NODE_OPTIONS')).toBe('--max-semi-space-size=2 --expose-gc');
    });

    it('refuses a limit that leaves the heap too little', async () => {
      expect(await renderError(['--set-string', 'resources.limits.memory=200Mi'])).toMatch(/resources.limits.memory 200Mi leaves 8 MiB of heap/);
      expect(await renderError(['--set-string', 'resources.limits.memory=512Q'])).toMatch(/unknown suffix "Q"/);
    });
  });

  describe('leader election', () => {
    it('defaults: 2 replicas, --leader-elect, POD_NAME, RollingUpdate 0/1, the Lease rules and a PDB', async () => {
      const { objects } = await renderChart();
      const deployment = find<Deployment>(objects, 'Deployment');
      expect(deployment.spec.replicas).toBe(2);
      expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
      const c = container(objects);
      expect(c.args).toEqual(['run', '--leader-elect']);
      expect(c.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
      expect(find<K8sObject & { rules: unknown[] }>(objects, 'Role').rules).toEqual(
        expect.arrayContaining([
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'update'], resourceNames: ['regcred-operator'] },
        ]),
      );
      expect(find<K8sObject & { spec: unknown }>(objects, 'PodDisruptionBudget').spec).toEqual({
        minAvailable: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': 'regcred-operator', 'app.kubernetes.io/instance': 'regcred' } },
      });
    });

    it('passes durations that differ from the operator defaults (15/10/2)', async () => {
      const { objects } = await renderChart(VALUE_SETS.everything);
      expect(container(objects).args).toEqual(
        expect.arrayContaining(['--leader-elect', '--leader-elect-lease-duration-seconds=30', '--leader-elect-renew-deadline-seconds=20', '--leader-elect-retry-period-seconds=4']),
      );
    });

    it('off with 1 replica: no flag, no POD_NAME, no Lease rules, Recreate, no PDB', async () => {
      const { objects } = await renderChart(['--set', 'replicas=1', '--set', 'leaderElection.enabled=false']);
      const c = container(objects);
      expect(c.args).toEqual(['run']);
      expect(c.env?.map((e) => e.name)).toEqual(['POD_NAMESPACE', 'NODE_OPTIONS', 'MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_']);
      expect(JSON.stringify(find(objects, 'Role'))).not.toContain('leases');
      expect(find<Deployment>(objects, 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
      expect(objects.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
    });

    it('refuses more than one replica without it, and durations out of order', async () => {
      expect(await renderError(['--set', 'leaderElection.enabled=false'])).toMatch(/replicas > 1 needs leaderElection.enabled/);
      expect(await renderError(['--set', 'leaderElection.renewDeadlineSeconds=15'])).toMatch(/renewDeadlineSeconds must be less than/);
      expect(await renderError(['--set', 'leaderElection.retryPeriodSeconds=10'])).toMatch(/retryPeriodSeconds must be less than/);
    });
  });

  it('everything on: operator flags, CA bundle mounted and passed, IRSA/GKE annotations, image by digest, topology spread selector filled in', async () => {
    const { objects } = await renderChart(VALUE_SETS.everything);
    const deployment = find<Deployment>(objects, 'Deployment');
    const c = container(objects);
    expect(c.image).toBe('ghcr.io/example/regcred-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--log-level=debug',
        '--concurrency=8',
        '--write-concurrency=32',
        '--resync-seconds=300',
        '--provider-timeout-seconds=20',
        '--provider-concurrency=2',
        '--verify-timeout-seconds=5',
        '--verify-concurrency=2',
        '--dockerhub-headroom-percent=20',
        '--heap-growing-percent=30',
        '--registry-ca-file=/etc/regcred/registry-ca/ca.crt',
      ]),
    );
    expect(c.volumeMounts).toContainEqual({ name: 'registry-ca', mountPath: '/etc/regcred/registry-ca', readOnly: true });
    expect(deployment.spec.template.spec.volumes).toContainEqual({ name: 'registry-ca', configMap: { name: 'registry-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    expect(envValue(c, 'NODE_OPTIONS')).toBe('--max-old-space-size=576 --max-semi-space-size=2 --expose-gc');
    expect(envValue(c, 'HTTPS_PROXY')).toBe('http://proxy.example:3128');
    expect(find(objects, 'ServiceAccount').metadata.annotations).toEqual({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/regcred-operator',
      'iam.gke.io/gcp-service-account': 'regcred@my-project.iam.gserviceaccount.com',
    });
    expect(deployment.spec.template.spec.topologySpreadConstraints?.[0]?.labelSelector).toEqual({
      matchLabels: { 'app.kubernetes.io/name': 'regcred-operator', 'app.kubernetes.io/instance': 'regcred' },
    });
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'PrometheusRule', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ServiceMonitor'].sort(),
    );
  });

  it('defaults render no optional object: no Service, ServiceMonitor, PrometheusRule, dashboard or NetworkPolicy', async () => {
    const { objects } = await renderChart();
    expect(objects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'ServiceAccount'].sort());
  });

  describe('values.schema.json refuses bad values', () => {
    it.each([
      [['--set', 'operator.concurrency=0'], /concurrency/],
      [['--set', 'operator.resyncSeconds=90000'], /resyncSeconds/],
      [['--set', 'operator.logLevel=loud'], /logLevel/],
      [['--set', 'image.digest=abc'], /digest/],
      [['--set', 'replica=2'], /replica/],
      [['--set', 'metrics.serviceMonitor.interval=often'], /interval/],
      [['--set', 'image.pullPolicy=Sometimes'], /pullPolicy/],
    ])('%j', async (args, message) => {
      const stderr = await renderError(args);
      expect(stderr).toMatch(/values don't meet the specifications of the schema/);
      expect(stderr).toMatch(message);
    });
  });

  it('values.yaml says what every value is: each value, or a mapping holding it, has a comment above it', () => {
    const lines = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8').split('\n');
    const undocumented: string[] = [];
    const stack: { indent: number; key: string; commented: boolean }[] = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z][\w.-]*):(.*)$/.exec(line);
      if (!m) return;
      const indent = m[1]!.length;
      while (stack.length && stack.at(-1)!.indent >= indent) stack.pop();
      const above = lines[i - 1]?.trim() ?? '';
      const commented = above.startsWith('#') || stack.some((s) => s.commented);
      const path = [...stack.map((s) => s.key), m[2]!].join('.');
      const isParent = m[3]!.trim() === '' && (/^(\s*)/.exec(lines[i + 1] ?? '')?.[1]?.length ?? 0) > indent;
      if (!isParent && !commented) undocumented.push(path);
      stack.push({ indent, key: m[2]!, commented: above.startsWith('#') });
    });
    expect(undocumented).toEqual([]);
  });

  describe('monitoring objects name metrics the operator serves', () => {
    const served = async (): Promise<Set<string>> => {
      const names = new Set<string>();
      for (const m of await createMetrics({ defaultMetrics: true }).registry.getMetricsAsJSON()) {
        names.add(m.name);
        if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
      }
      return names;
    };
    const metricNames = (expr: string): string[] => [...expr.matchAll(/\b((?:regcred|process|nodejs)_[a-z_]+)/g)].map((m) => m[1]!);

    it('PrometheusRule: the five alerts, structurally valid for monitoring.coreos.com/v1 (no CRD schema offline)', async () => {
      const { objects } = await renderChart(VALUE_SETS.everything);
      const rule = find<
        K8sObject & { spec: { groups: { name: string; rules: { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[] } }
      >(objects, 'PrometheusRule');
      expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(rule.metadata.labels?.release).toBe('kube-prometheus-stack');
      const rules = rule.spec.groups.flatMap((g) => g.rules);
      expect(rules.map((r) => r.expr)).toEqual([
        'regcred_credential_expiry_timestamp_seconds - time() < 3600',
        'regcred_credential_ready == 0',
        'rate(regcred_provider_mint_calls_total{result="error"}[15m]) > 0',
        'regcred_credential_verified == 0',
        'regcred_dockerhub_ratelimit_remaining / regcred_dockerhub_ratelimit_limit < 0.1',
      ]);
      expect(rules.find((r) => r.alert === 'RegcredCredentialNotReady')?.for).toBe('15m');
      const names = await served();
      for (const r of rules) {
        expect(r.alert).toMatch(/^Regcred[A-Za-z]+$/);
        expect(r.labels).toMatchObject({ team: 'platform' });
        expect(r.annotations.summary).toMatch(/\S/);
        // Prometheus templates survive helm: {{ $labels.credential }} is left for Prometheus.
        expect(JSON.stringify(r.annotations)).not.toMatch(/<no value>/);
        for (const metric of metricNames(r.expr)) expect(names).toContain(metric);
      }
      expect(JSON.stringify(rules)).toContain('{{ $labels.credential }}');
    });

    it('ServiceMonitor: selects the metrics Service and scrapes its named port (structurally; no CRD schema offline)', async () => {
      const { objects } = await renderChart(VALUE_SETS.everything);
      const monitor = find<
        K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: { port: string; path: string; interval: string }[] } }
      >(objects, 'ServiceMonitor');
      const service = find<K8sObject & { spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] } }>(objects, 'Service');
      expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
      for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) expect(service.metadata.labels?.[key]).toBe(value);
      expect(monitor.spec.namespaceSelector.matchNames).toEqual(['regcred-system']);
      expect(monitor.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', scheme: 'http', interval: '15s', scrapeTimeout: '10s' }]);
      expect(service.spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
      expect(find<Deployment>(objects, 'Deployment').spec.template.metadata.labels).toMatchObject(service.spec.selector);
    });

    it('the Grafana dashboard ConfigMap is labelled for the sidecar and queries only served metrics', async () => {
      const { objects } = await renderChart(VALUE_SETS.everything);
      const cm = find<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap');
      expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
      const dashboard = JSON.parse(cm.data['regcred-operator.json']!) as { uid: string; panels: { targets: { expr: string }[] }[] };
      expect(dashboard.uid).toBe('regcred-operator');
      const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
      const names = await served();
      const used = new Set(exprs.flatMap(metricNames));
      expect([...used].filter((n) => !names.has(n))).toEqual([]);
      // Every gauge of a credential's state is on it.
      for (const metric of ['regcred_credential_ready', 'regcred_credential_verified', 'regcred_credential_expiry_timestamp_seconds', 'regcred_dockerhub_ratelimit_remaining', 'regcred_provider_mint_calls_total']) {
        expect(used).toContain(metric);
      }
    });
  });

  describe('.github/workflows/release.yml', () => {
    const workflow = readFileSync(join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8');

    it("its sed edits of values.yaml each match exactly one line", () => {
      const values = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8').split('\n');
      const patterns = [...workflow.matchAll(/sed -i -E "s\|\^(.*?)\$\|/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
      expect(patterns).toEqual(['  repository: regcred-operator', '  digest: ""']);
      for (const pattern of patterns) expect(values.filter((line) => line === pattern)).toHaveLength(1);
    });

    it('passes actionlint, which does fail a broken workflow', async () => {
      const ok = await runTool('actionlint', ['-no-color', '.github/workflows/release.yml']);
      expect(ok.stdout + ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      const dir = mkdtempSync(join(tmpdir(), 'regcred-actionlint-'));
      const broken = join(dir, 'broken.yml');
      writeFileSync(broken, workflow.replace('runs-on: ubuntu-24.04', 'runs-on: ubuntu-24.04\n    needs: no-such-job'));
      const bad = await runTool('actionlint', ['-no-color', broken]);
      expect(bad.code).not.toBe(0);
      expect(bad.stdout).toMatch(/no-such-job/);
    });

    it('takes the release notes from the CHANGELOG section of the tag', () => {
      const awk = /awk -v v="\$\{TAG#v\}" '([\s\S]*?)' CHANGELOG\.md/.exec(workflow)?.[1];
      expect(awk).toBeDefined();
      const changelog = '# Changelog\n\n## [Unreleased]\n\n- next\n\n## [1.2.0] - 2026-01-01\n\n### Added\n\n- one\n\n## [1.1.0] - 2025-12-01\n\n- old\n';
      const notes = execFileSync('awk', ['-v', 'v=1.2.0', awk!], { input: changelog, encoding: 'utf8' });
      expect(notes.trim()).toBe('### Added\n\n- one');
      expect(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')).toMatch(/^## \[Unreleased\]$/m);
    });
  });
});
